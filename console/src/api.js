// Every call the console makes goes through the public API with the signed-in user's bearer
// token and scope headers: the console has no access of its own.

const KEY = "synq-console-credentials";
const BASE = "/api/v1/pim";

/** The credentials of this browser tab (sessionStorage: gone when the tab closes), or null. */
export function loadCredentials() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return saved && saved.token && saved.tenantId && saved.orgId ? saved : null;
  } catch {
    return null;
  }
}

export function saveCredentials(credentials) {
  sessionStorage.setItem(KEY, JSON.stringify(credentials));
}

export function clearCredentials() {
  sessionStorage.removeItem(KEY);
}

/** The claims of a JWT, unverified: only to decide what to show (the API checks the token). */
export function tokenClaims(token) {
  try {
    const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
  } catch {
    return {};
  }
}

/** Credentials handed over in the URL fragment (`#token=...&tenant_id=...&org_id=...`), which
 * never reaches a server; the fragment is wiped from the address bar and history at once. */
export function takeCredentialsFromFragment() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash.includes("token=")) return null;
  const params = new URLSearchParams(hash);
  history.replaceState(null, "", window.location.pathname + "#/jobs");
  const token = params.get("token");
  const tenantId = params.get("tenant_id");
  const orgId = params.get("org_id");
  return token && tenantId && orgId ? { token, tenantId, orgId } : null;
}

export class ApiError extends Error {
  constructor(status, body) {
    const details = (body && body.details) || [];
    const detail = details.map((d) => `${d.field}: ${d.problem}`).join("; ");
    super([(body && body.error) || `HTTP ${status}`, detail].filter(Boolean).join(" — "));
    this.status = status;
    this.body = body;
  }
}

function headers(credentials, extra = {}) {
  return {
    Authorization: `Bearer ${credentials.token}`,
    "X-Tenant-ID": credentials.tenantId,
    "X-Org-ID": credentials.orgId,
    ...extra,
  };
}

function url(path, query) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") params.set(name, value);
  }
  const text = params.toString();
  return `${BASE}${path}${text ? `?${text}` : ""}`;
}

export async function call(credentials, method, path, { query, body } = {}) {
  const response = await fetch(url(path, query), {
    method,
    headers: headers(credentials, body === undefined ? {} : { "Content-Type": "application/json" }),
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) throw new ApiError(response.status, parsed);
  return parsed;
}

export const get = (credentials, path, query) => call(credentials, "GET", path, { query });
export const post = (credentials, path, body) => call(credentials, "POST", path, { body });

/** A file the API answers with (e.g. a job's errors as CSV), fetched with the credentials and
 * handed to the browser as a download. */
export async function download(credentials, path, query, filename) {
  const response = await fetch(url(path, query), { headers: headers(credentials), cache: "no-store" });
  if (!response.ok) throw new ApiError(response.status, null);
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}
