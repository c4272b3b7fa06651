import { useEffect, useRef, useState } from "preact/hooks";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || "system-ui, sans-serif";
Chart.defaults.color = "#1f2933";

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function shortId(id) {
  return id ? `${String(id).slice(0, 8)}…` : "—";
}

/** Loads `load()` now, again whenever `deps` change, and every `every(data)` ms while it answers
 * a number; `reload` loads at once (after a write). */
export function useLoad(load, deps, every) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const everyRef = useRef(every);
  everyRef.current = every;
  useEffect(() => {
    let live = true;
    let timer = null;
    const run = async () => {
      try {
        const data = await load();
        if (!live) return;
        setState({ data, error: null, loading: false });
        const delay = everyRef.current && everyRef.current(data);
        if (delay) timer = setTimeout(run, delay);
      } catch (error) {
        if (!live) return;
        setState((s) => ({ data: s.data, error, loading: false }));
        const delay = everyRef.current && everyRef.current(null);
        if (delay) timer = setTimeout(run, Math.max(delay, 3000));
      }
    };
    run();
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

/** A listing the API pages with a cursor: its first page (again whenever `deps` change) and the
 * ones `more()` adds. */
export function usePaged(loadPage, deps) {
  const [pages, setPages] = useState([]);
  const first = useLoad(async () => {
    setPages([]);
    return loadPage(null);
  }, deps);
  const all = [first.data, ...pages].filter(Boolean);
  const cursor = all.length ? all[all.length - 1].next_cursor : null;
  const more = async () => {
    const page = await loadPage(cursor);
    setPages((p) => [...p, page]);
  };
  return { first, items: all.flatMap((p) => p.items), more: cursor ? more : null };
}

export function Problem({ error }) {
  if (!error) return null;
  const hint =
    error.status === 401
      ? " Sign in again: the token is missing, invalid or expired."
      : error.status === 403
        ? " The token does not grant this."
        : "";
  return (
    <p role="alert" class="error">
      {error.message}
      {hint}
    </p>
  );
}

export function Status({ value }) {
  return <span class={`status status-${String(value).toLowerCase()}`}>{value}</span>;
}

/** A bar chart (Chart.js), one bar per label; with several series, the bars stack. The same
 * figures follow as a table for screen readers. */
export function BarChart({ labels, series, label, horizontal = false, testid }) {
  const canvas = useRef(null);
  const chart = useRef(null);
  const datasets = () => series.map((s) => ({ label: s.label, data: s.values, backgroundColor: s.color }));
  const stacked = series.length > 1;
  useEffect(() => {
    chart.current = new Chart(canvas.current, {
      type: "bar",
      data: { labels, datasets: datasets() },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: stacked, position: "bottom" } },
        scales: {
          x: { stacked, ...(horizontal ? { beginAtZero: true, ticks: { precision: 0 } } : {}) },
          y: { stacked, ...(horizontal ? {} : { beginAtZero: true, ticks: { precision: 0 } }) },
        },
      },
    });
    return () => chart.current.destroy();
  }, []);
  const signature = JSON.stringify([labels, series.map((s) => s.values)]);
  useEffect(() => {
    chart.current.data.labels = labels;
    chart.current.data.datasets = datasets();
    chart.current.update();
  }, [signature]);
  const height = horizontal ? Math.max(160, labels.length * 30 + (stacked ? 70 : 40)) : 240;
  return (
    <figure class="chart" data-testid={testid}>
      <div style={{ height: `${height}px`, position: "relative" }}>
        <canvas ref={canvas} role="img" aria-label={`${label}: bar chart, figures in the table that follows`} />
      </div>
      <table class="sr-only">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">{horizontal ? "Code" : "Range"}</th>
            {series.map((s) => (
              <th scope="col">{s.label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {labels.map((l, i) => (
            <tr>
              <th scope="row">{l}</th>
              {series.map((s) => (
                <td>{s.values[i]}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
