import { get } from "../api.js";
import { Problem, Status, useLoad, when } from "../ui.jsx";
import { IssueList } from "./Quality.jsx";
import { AuditTable } from "./AuditLog.jsx";

const FIELDS = [
  ["title", "Title"],
  ["sku", "SKU"],
  ["barcode", "Barcode"],
  ["brand", "Brand"],
  ["category", "Category"],
  ["description", "Description"],
];

function show(value) {
  if (value === null || value === undefined || value === "") return "—";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function Product({ credentials, productId }) {
  const product = useLoad(() => get(credentials, `/products/${encodeURIComponent(productId)}`), [productId]);
  const p = product.data;
  return (
    <section>
      <p>
        <a href="#/quality">← Data quality</a>
      </p>
      <h1 tabIndex={-1} data-testid="product-title">
        {p ? p.title : "Product"}
      </h1>
      <Problem error={product.error} />
      {p && (
        <>
          <div class="panel">
            <dl class="fields" data-testid="product-fields">
              <div>
                <dt>Status</dt>
                <dd>
                  <Status value={p.status} />
                </dd>
              </div>
              <div>
                <dt>Data-quality score</dt>
                <dd>{show(p.data_quality_score)}</dd>
              </div>
              {FIELDS.map(([f, label]) => (
                <div>
                  <dt>{label}</dt>
                  <dd>{show(p[f])}</dd>
                </div>
              ))}
              {Object.entries(p.attributes || {}).map(([name, value]) => (
                <div>
                  <dt>{name}</dt>
                  <dd>{show(value)}</dd>
                </div>
              ))}
              <div>
                <dt>Id</dt>
                <dd>
                  <code>{p.id}</code>
                </dd>
              </div>
              <div>
                <dt>Updated</dt>
                <dd>{when(p.updated_at)}</dd>
              </div>
            </dl>
          </div>
          <h2>Variants ({(p.variants || []).length})</h2>
          {(p.variants || []).length === 0 ? (
            <p class="muted">No variants.</p>
          ) : (
            <div class="table-wrap">
              <table class="stack">
                <thead>
                  <tr>
                    <th scope="col">SKU</th>
                    <th scope="col">Barcode</th>
                    <th scope="col">Price</th>
                    <th scope="col">Attributes</th>
                  </tr>
                </thead>
                <tbody>
                  {p.variants.map((v) => (
                    <tr>
                      <td data-label="SKU">{show(v.sku)}</td>
                      <td data-label="Barcode">{show(v.barcode)}</td>
                      <td data-label="Price">{v.price == null ? "—" : `${v.price} ${v.currency || ""}`}</td>
                      <td data-label="Attributes">{show(v.attributes)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      <h2>Open issues</h2>
      <IssueList credentials={credentials} filters={{ product_id: productId }} showProduct={false} />
      <h2>History</h2>
      <AuditTable credentials={credentials} filters={{ resource_type: "product", resource_id: productId }} />
    </section>
  );
}
