import { useState } from "preact/hooks";
import { get, post } from "../api.js";
import { Problem, Status, shortId, useLoad, when } from "../ui.jsx";

const ACTIVE = new Set(["QUEUED", "RUNNING"]);

function size(bytes) {
  if (bytes == null) return "—";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function Exports({ credentials, user }) {
  const exports = useLoad(
    async () => {
      const page = await get(credentials, "/exports", { limit: 20 });
      // The listing carries no download URL: each completed export's own record signs one.
      return Promise.all(
        page.items.map((e) => (e.status === "COMPLETED" ? get(credentials, `/exports/${e.id}`) : e)),
      );
    },
    [],
    (data) => (data && data.some((e) => ACTIVE.has(e.status)) ? 1500 : 15000),
  );
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const start = async (event) => {
    event.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await post(credentials, "/exports", { format: new FormData(event.currentTarget).get("format") });
      exports.reload();
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <section>
      <h1 tabIndex={-1}>Exports</h1>
      {user.canWrite && (
        <form class="panel inline-form" onSubmit={start} aria-label="Start an export">
          <label>
            Format
            <select name="format">
              <option value="CSV">CSV</option>
              <option value="NDJSON">NDJSON</option>
            </select>
          </label>
          <button type="submit" class="primary" disabled={busy} data-testid="start-export">
            {busy ? "Starting…" : "Export the catalog"}
          </button>
          <Problem error={problem} />
        </form>
      )}
      <Problem error={exports.error} />
      {exports.data && exports.data.length === 0 && <p class="muted">No exports yet.</p>}
      {exports.data && exports.data.length > 0 && (
        <div class="table-wrap">
          <table class="stack" data-testid="exports">
            <thead>
              <tr>
                <th scope="col">Started</th>
                <th scope="col">Format</th>
                <th scope="col">Status</th>
                <th scope="col">Rows</th>
                <th scope="col">Size</th>
                <th scope="col">Download</th>
              </tr>
            </thead>
            <tbody>
              {exports.data.map((e) => (
                <tr data-testid="export" data-status={e.status}>
                  <td data-label="Started">
                    <span>
                      {when(e.created_at)} <code title={e.id}>{shortId(e.id)}</code>
                    </span>
                  </td>
                  <td data-label="Format">{e.format}</td>
                  <td data-label="Status">
                    <span>
                      <Status value={e.status} />
                      {e.failure_reason && <div class="error small">{e.failure_reason}</div>}
                    </span>
                  </td>
                  <td data-label="Rows">
                    <span>
                      {e.row_count == null ? "—" : e.row_count.toLocaleString()}
                      {e.excluded_count ? ` (${e.excluded_count} blocked)` : ""}
                    </span>
                  </td>
                  <td data-label="Size">{size(e.size_bytes)}</td>
                  <td data-label="Download">
                    {e.download_url ? (
                      <a href={e.download_url} rel="noreferrer" data-testid="download">
                        Download
                        <span class="muted small"> (link until {when(e.download_url_expires_at)})</span>
                      </a>
                    ) : (
                      "—"
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
