import { useState } from "preact/hooks";
import { get, getAll } from "../api.js";
import { BarChart, Problem, shortId, useLoad, when } from "../ui.jsx";

const BUCKETS = 10;
export const SAMPLE_LIMIT = 1000;

function bucketLabel(i) {
  const low = i * 10;
  return i === BUCKETS - 1 ? `${low}–100` : `${low}–${low + 9}`;
}

/** The figures the charts draw, counted from the listings (at most SAMPLE_LIMIT products and
 * issues, newest first). */
async function countFromListings(credentials) {
  const [products, issues] = await Promise.all([
    getAll(credentials, "/products", {}, SAMPLE_LIMIT),
    getAll(credentials, "/validation-issues", {}, SAMPLE_LIMIT),
  ]);
  const histogram = new Array(BUCKETS).fill(0);
  let unscored = 0;
  for (const p of products.items) {
    if (p.data_quality_score == null) unscored += 1;
    else histogram[Math.min(BUCKETS - 1, Math.floor(p.data_quality_score / 10))] += 1;
  }
  const byCode = {};
  for (const issue of issues.items) byCode[issue.code] = (byCode[issue.code] || 0) + 1;
  return {
    histogram,
    unscored,
    byCode,
    note:
      products.complete && issues.complete
        ? `Counted from all ${products.items.length} products and ${issues.items.length} open issues.`
        : `Counted from the newest ${products.items.length} products and ${issues.items.length} open issues only.`,
  };
}

export function Quality({ credentials }) {
  const figures = useLoad(() => countFromListings(credentials), []);
  const [filters, setFilters] = useState({ severity: "", code: "", product_id: "" });
  const codes = Object.entries(figures.data?.byCode || {}).sort((a, b) => b[1] - a[1]);

  return (
    <section>
      <h1 tabIndex={-1}>Data quality</h1>
      <Problem error={figures.error} />
      {figures.data && (
        <>
          <div class="grid-2">
            <div class="panel">
              <h2>Data-quality score</h2>
              <BarChart
                testid="score-histogram"
                label="Products by data-quality score"
                labels={Array.from({ length: BUCKETS }, (_, i) => bucketLabel(i))}
                values={figures.data.histogram}
              />
              {figures.data.unscored > 0 && <p class="muted">{figures.data.unscored} products not scored yet.</p>}
            </div>
            <div class="panel">
              <h2>Open issues by code</h2>
              {codes.length === 0 ? (
                <p class="muted">No open issues.</p>
              ) : (
                <BarChart
                  testid="issues-by-code"
                  label="Open validation issues by code"
                  labels={codes.map(([c]) => c)}
                  values={codes.map(([, n]) => n)}
                  color="#b4462f"
                  horizontal
                />
              )}
            </div>
          </div>
          <p class="muted small">{figures.data.note}</p>
        </>
      )}
      <h2>Open issues</h2>
      <IssueFilters codes={codes.map(([c]) => c)} filters={filters} onChange={setFilters} />
      <IssueList credentials={credentials} filters={filters} />
    </section>
  );
}

function IssueFilters({ codes, filters, onChange }) {
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    onChange({
      severity: String(form.get("severity") || ""),
      code: String(form.get("code") || ""),
      product_id: String(form.get("product_id") || "").trim(),
    });
  };
  return (
    <form class="panel inline-form" onSubmit={submit} aria-label="Filter issues">
      <label>
        Severity
        <select name="severity" value={filters.severity}>
          <option value="">any</option>
          <option value="ERROR">ERROR</option>
          <option value="WARNING">WARNING</option>
        </select>
      </label>
      <label>
        Code
        <input name="code" list="issue-codes" value={filters.code} autocomplete="off" />
        <datalist id="issue-codes">
          {codes.map((c) => (
            <option value={c} />
          ))}
        </datalist>
      </label>
      <label>
        Product id
        <input name="product_id" value={filters.product_id} autocomplete="off" spellcheck={false} />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}

export function IssueList({ credentials, filters, showProduct = true }) {
  const [pages, setPages] = useState([]);
  const first = useLoad(async () => {
    setPages([]);
    return get(credentials, "/validation-issues", { ...filters, limit: 50 });
  }, [JSON.stringify(filters)]);
  const all = [first.data, ...pages].filter(Boolean);
  const items = all.flatMap((p) => p.items);
  const cursor = all.length ? all[all.length - 1].next_cursor : null;
  const more = async () => {
    const page = await get(credentials, "/validation-issues", { ...filters, limit: 50, cursor });
    setPages((p) => [...p, page]);
  };
  return (
    <>
      <Problem error={first.error} />
      {first.data && items.length === 0 && <p class="muted">No open issues match.</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="stack" data-testid="issues">
            <thead>
              <tr>
                <th scope="col">Severity</th>
                <th scope="col">Code</th>
                <th scope="col">Field</th>
                <th scope="col">Message</th>
                {showProduct && <th scope="col">Product</th>}
                <th scope="col">Found</th>
              </tr>
            </thead>
            <tbody>
              {items.map((issue) => (
                <tr>
                  <td data-label="Severity">
                    <span class={`sev sev-${issue.severity.toLowerCase()}`}>{issue.severity}</span>
                  </td>
                  <td data-label="Code">
                    <code>{issue.code}</code>
                  </td>
                  <td data-label="Field">{issue.field}</td>
                  <td data-label="Message">{issue.message}</td>
                  {showProduct && (
                    <td data-label="Product">
                      <a href={`#/products/${issue.product_id}`} data-testid="issue-product">
                        {shortId(issue.product_id)}
                      </a>
                    </td>
                  )}
                  <td data-label="Found">{when(issue.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {cursor && (
        <button type="button" onClick={more}>
          More issues
        </button>
      )}
    </>
  );
}
