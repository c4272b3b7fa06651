import { useState } from "preact/hooks";
import { download, get, post } from "../api.js";
import { Problem, Status, shortId, useLoad, when } from "../ui.jsx";

const TYPES = ["BULK_IMPORT", "BULK_UPDATE", "BULK_DELETE"];
const ACTIVE = new Set(["PENDING", "PROCESSING"]);
const SHOWN = 25;

async function loadJobs(credentials) {
  const pages = await Promise.all(TYPES.map((t) => get(credentials, "/bulk-jobs", { job_type: t, limit: SHOWN })));
  return pages
    .flatMap((p) => p.items)
    .sort((a, b) => String(b.created_at).localeCompare(String(a.created_at)))
    .slice(0, SHOWN);
}

export function Jobs({ credentials, user }) {
  const jobs = useLoad(
    () => loadJobs(credentials),
    [],
    (data) => (data && data.some((j) => ACTIVE.has(j.status)) ? 1000 : 10000),
  );
  return (
    <section>
      <h1 tabIndex={-1}>Bulk jobs</h1>
      {user.canWrite && <StartImport credentials={credentials} onStarted={jobs.reload} />}
      <Problem error={jobs.error} />
      {jobs.loading && !jobs.data && <p class="muted">Loading jobs…</p>}
      {jobs.data && jobs.data.length === 0 && <p class="muted">No bulk jobs yet.</p>}
      <ul class="cards" aria-live="polite" data-testid="jobs">
        {(jobs.data || []).map((job) => (
          <JobCard job={job} credentials={credentials} user={user} onChanged={jobs.reload} />
        ))}
      </ul>
    </section>
  );
}

function StartImport({ credentials, onStarted }) {
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = event.currentTarget;
    const file = form.elements.file.files[0];
    setProblem(null);
    if (!file) {
      setProblem(new Error("Choose a JSON file holding an array of products."));
      return;
    }
    let payload;
    try {
      payload = JSON.parse(await file.text());
      if (!Array.isArray(payload)) throw new Error("not an array");
    } catch {
      setProblem(new Error(`${file.name} is not a JSON array of products.`));
      return;
    }
    setBusy(true);
    try {
      await post(credentials, "/bulk-jobs", {
        job_type: "BULK_IMPORT",
        payload,
        dry_run: form.elements.dry_run.checked,
      });
      form.reset();
      onStarted();
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="panel inline-form" onSubmit={submit} aria-label="Start an import">
      <label>
        Import products (JSON array)
        <input type="file" name="file" accept=".json,application/json" data-testid="import-file" />
      </label>
      <label class="check">
        <input type="checkbox" name="dry_run" /> Dry run
      </label>
      <button type="submit" class="primary" disabled={busy} data-testid="start-import">
        {busy ? "Starting…" : "Start import"}
      </button>
      <Problem error={problem} />
    </form>
  );
}

/** The part of the bar `items` fill: applied items blue, failed ones red after them. */
function share(items, total, job) {
  const done = job.processed_items + job.failed_items;
  const whole = total || (job.status === "COMPLETED" ? done : 0);
  return whole ? (items / whole) * 100 : 0;
}

function rate(job) {
  const done = job.processed_items + job.failed_items;
  if (!job.started_at || !done) return null;
  const end = job.completed_at ? new Date(job.completed_at) : new Date();
  const seconds = Math.max((end - new Date(job.started_at)) / 1000, 0.001);
  return done / seconds;
}

function JobCard({ job, credentials, user, onChanged }) {
  const [problem, setProblem] = useState(null);
  const done = job.processed_items + job.failed_items;
  const total = job.total_items;
  const percent = total ? Math.min(100, Math.round((done / total) * 100)) : job.status === "COMPLETED" ? 100 : 0;
  const itemsPerSecond = rate(job);
  const cancel = async () => {
    if (!confirm(`Cancel job ${job.id}? Batches not yet committed are skipped.`)) return;
    try {
      await post(credentials, `/bulk-jobs/${job.id}/cancel`);
      onChanged();
    } catch (error) {
      setProblem(error);
    }
  };
  const errorsCsv = async (event) => {
    event.preventDefault();
    try {
      await download(credentials, `/bulk-jobs/${job.id}/errors`, { format: "csv" }, `job-${job.id}-errors.csv`);
    } catch (error) {
      setProblem(error);
    }
  };
  const labelId = `job-${job.id}-label`;
  return (
    <li class="card" data-testid="job" data-job-id={job.id} data-status={job.status}>
      <div class="card-head">
        <strong id={labelId}>
          {job.job_type.replace("BULK_", "").toLowerCase()} {job.dry_run && "(dry run)"}
        </strong>
        <code title={job.id}>{shortId(job.id)}</code>
        <Status value={job.status} />
      </div>
      <div class="progress-row">
        <div
          class="bar"
          role="progressbar"
          aria-labelledby={labelId}
          aria-valuemin={0}
          aria-valuemax={100}
          aria-valuenow={percent}
          data-testid="job-progress"
        >
          <div class="fill" style={{ width: `${share(job.processed_items, total, job)}%` }} />
          <div class="fill failed" style={{ width: `${share(job.failed_items, total, job)}%` }} />
        </div>
        <span class="percent">{percent}%</span>
      </div>
      <dl class="facts">
        <div>
          <dt>Items</dt>
          <dd>
            {done.toLocaleString()} / {total == null ? "?" : total.toLocaleString()}
          </dd>
        </div>
        <div>
          <dt>Failed</dt>
          <dd class={job.failed_items ? "bad" : ""}>{job.failed_items.toLocaleString()}</dd>
        </div>
        <div>
          <dt>Rate</dt>
          <dd>{itemsPerSecond == null ? "—" : `${itemsPerSecond.toFixed(1)} items/s`}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd>{when(job.started_at || job.created_at)}</dd>
        </div>
        <div>
          <dt>By</dt>
          <dd>{job.created_by}</dd>
        </div>
      </dl>
      {job.failure_reason && <p class="error">{job.failure_reason}</p>}
      <div class="actions">
        {job.failed_items > 0 && (
          <a
            href={`/api/v1/pim/bulk-jobs/${job.id}/errors?format=csv`}
            onClick={errorsCsv}
            data-testid="errors-csv"
          >
            Errors ({job.failed_items}) as CSV
          </a>
        )}
        {user.canWrite && ACTIVE.has(job.status) && (
          <button type="button" onClick={cancel} data-testid="cancel-job">
            Cancel
          </button>
        )}
      </div>
      <Problem error={problem} />
    </li>
  );
}
