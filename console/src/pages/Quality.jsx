import { useState } from "preact/hooks";
import { get } from "../api.js";
import { BarChart, Problem, shortId, usePaged, useLoad, when } from "../ui.jsx";

const SEVERITY_COLOURS = { ERROR: "#b42318", WARNING: "#b76e00" };

function bucketLabel(bucket) {
  return `${bucket.min}–${bucket.max}`;
}

/** Open issues per code, one series per severity (a code has mostly one). */
function issueSeries(byCode) {
  const codes = [...new Set(byCode.map((i) => i.code))];
  const severities = Object.keys(SEVERITY_COLOURS).filter((s) => byCode.some((i) => i.severity === s));
  return {
    codes,
    series: severities.map((severity) => ({
      label: severity,
      color: SEVERITY_COLOURS[severity],
      values: codes.map((c) => byCode.find((i) => i.code === c && i.severity === severity)?.count || 0),
    })),
  };
}

function Figure({ label, value, note, testid }) {
  return (
    <div class="figure" data-testid={testid}>
      <span class="figure-value">{value.toLocaleString()}</span>
      <span class="figure-label">{label}</span>
      {note && <span class="figure-note">{note}</span>}
    </div>
  );
}

export function Quality({ credentials }) {
  // GET /stats: counters the writes keep, so the charts cost the same at any catalog size.
  const stats = useLoad(() => get(credentials, "/stats"), [], () => 30000);
  const [filters, setFilters] = useState({ severity: "", code: "", product_id: "" });
  const s = stats.data;
  const issues = s ? issueSeries(s.validation_issues.by_code) : { codes: [], series: [] };
  const byStatus = s ? Object.entries(s.products.by_status).map(([k, v]) => `${v} ${k.toLowerCase()}`) : [];

  return (
    <section>
      <h1 tabIndex={-1}>Data quality</h1>
      <Problem error={stats.error} />
      {s && (
        <>
          <div class="figures">
            <Figure testid="figure-products" label="products" value={s.products.total} note={byStatus.join(", ")} />
            <Figure
              testid="figure-issues"
              label="open issues"
              value={s.validation_issues.open}
              note={`${s.validation_issues.by_severity.ERROR || 0} errors, ${s.validation_issues.by_severity.WARNING || 0} warnings`}
            />
            <Figure
              testid="figure-blocked"
              label="blocked from export"
              value={s.products_blocked_from_export}
              note="an open ERROR keeps a product out"
            />
            <Figure testid="figure-jobs" label="bulk jobs, last 7 days" value={s.bulk_jobs.total} />
          </div>
          <div class="grid-2">
            <div class="panel">
              <h2>Data-quality score</h2>
              <BarChart
                testid="score-histogram"
                label="Products by data-quality score"
                labels={s.data_quality_score.buckets.map(bucketLabel)}
                series={[
                  { label: "Products", color: "#2f5fb3", values: s.data_quality_score.buckets.map((b) => b.count) },
                ]}
              />
              {s.data_quality_score.unscored > 0 && (
                <p class="muted small">{s.data_quality_score.unscored} products not scored yet.</p>
              )}
            </div>
            <div class="panel">
              <h2>Open issues by code</h2>
              {issues.codes.length === 0 ? (
                <p class="muted">No open issues.</p>
              ) : (
                <BarChart
                  testid="issues-by-code"
                  label="Open validation issues by code"
                  labels={issues.codes}
                  series={issues.series}
                  horizontal
                />
              )}
            </div>
          </div>
          <p class="muted small">As of {when(s.generated_at)} (refreshed every 30 s).</p>
        </>
      )}
      <h2>Open issues</h2>
      <IssueFilters codes={issues.codes} filters={filters} onChange={setFilters} />
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
  const { first, items, more } = usePaged(
    (cursor) => get(credentials, "/validation-issues", { ...filters, limit: 25, cursor }),
    [JSON.stringify(filters)],
  );
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
                  <td data-label="Found" class="nowrap">{when(issue.created_at)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <button type="button" onClick={more}>
          More issues
        </button>
      )}
    </>
  );
}
