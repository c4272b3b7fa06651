import { useState } from "preact/hooks";
import { get } from "../api.js";
import { Problem, shortId, usePaged, when } from "../ui.jsx";

const RESOURCE_TYPES = ["product", "variant", "brand", "category", "bulk_job"];

function show(value) {
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

/** One field's change: set (nothing before), cleared (nothing after), or before → after. */
function Change({ before, after }) {
  if (before === null || before === undefined) return <ins>{show(after)}</ins>;
  if (after === null || after === undefined) {
    return (
      <>
        <del>{show(before)}</del> <span class="muted">(cleared)</span>
      </>
    );
  }
  return (
    <>
      <del>{show(before)}</del> → <ins>{show(after)}</ins>
    </>
  );
}

function resourceLink(event) {
  const id = event.resource_type === "variant" ? event.parent_id : event.resource_id;
  if ((event.resource_type === "product" || event.resource_type === "variant") && id) {
    return <a href={`#/products/${id}`}>{shortId(event.resource_id)}</a>;
  }
  return <code title={event.resource_id}>{shortId(event.resource_id)}</code>;
}

export function AuditLog({ credentials }) {
  const [filters, setFilters] = useState({ resource_type: "", resource_id: "", action: "" });
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setFilters({
      resource_type: String(form.get("resource_type") || ""),
      resource_id: String(form.get("resource_id") || "").trim(),
      action: String(form.get("action") || "").trim(),
    });
  };
  return (
    <section>
      <h1 tabIndex={-1}>Audit log</h1>
      <form class="panel inline-form" onSubmit={submit} aria-label="Filter the audit log">
        <label>
          Resource type
          <select name="resource_type" value={filters.resource_type}>
            <option value="">any</option>
            {RESOURCE_TYPES.map((t) => (
              <option value={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Resource id
          <input name="resource_id" value={filters.resource_id} autocomplete="off" spellcheck={false} />
        </label>
        <label>
          Action
          <input name="action" value={filters.action} placeholder="e.g. product.updated" autocomplete="off" />
        </label>
        <button type="submit">Filter</button>
      </form>
      <AuditTable credentials={credentials} filters={filters} />
    </section>
  );
}

/** Audit events, newest first (as the API lists them), with each change's before and after. */
export function AuditTable({ credentials, filters }) {
  const { first, items, more } = usePaged(
    (cursor) => get(credentials, "/audit-logs", { ...filters, limit: 25, cursor }),
    [JSON.stringify(filters)],
  );
  return (
    <>
      <Problem error={first.error} />
      {first.data && items.length === 0 && <p class="muted">No audit events match.</p>}
      {items.length > 0 && (
        <div class="table-wrap">
          <table class="stack" data-testid="audit">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Action</th>
                <th scope="col">Resource</th>
                <th scope="col">By</th>
                <th scope="col">Changes (before → after)</th>
              </tr>
            </thead>
            <tbody>
              {items.map((e) => (
                <tr>
                  <td data-label="When" class="nowrap">{when(e.created_at)}</td>
                  <td data-label="Action">
                    <code>{e.action}</code>
                  </td>
                  <td data-label="Resource">{resourceLink(e)}</td>
                  <td data-label="By">{e.actor_email}</td>
                  <td data-label="Changes">
                    <ul class="changes">
                      {Object.entries(e.changes || {}).map(([field, change]) => (
                        <li>
                          <strong>{field}</strong>: <Change before={change.before} after={change.after} />
                        </li>
                      ))}
                    </ul>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more && (
        <button type="button" onClick={more}>
          Older events
        </button>
      )}
    </>
  );
}
