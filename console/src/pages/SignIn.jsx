import { useState } from "preact/hooks";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Bearer token and scope, as the identity provider issued them; kept in this tab only. */
export function SignIn({ onSignIn }) {
  const [problem, setProblem] = useState("");
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const token = String(form.get("token") || "").trim().replace(/^Bearer\s+/i, "");
    const tenantId = String(form.get("tenant_id") || "").trim();
    const orgId = String(form.get("org_id") || "").trim();
    if (!token || !UUID.test(tenantId) || !UUID.test(orgId)) {
      setProblem("Give the bearer token, and the tenant and organisation ids as UUIDs.");
      return;
    }
    onSignIn({ token, tenantId, orgId });
  };
  return (
    <main id="main" class="signin" tabIndex={-1}>
      <form onSubmit={submit} aria-describedby="signin-note">
        <h1 tabIndex={-1}>Sign in to the Synq PIM console</h1>
        <p id="signin-note" class="muted">
          The token stays in this browser tab only and is sent to the API with each call.
        </p>
        <label>
          Bearer token
          <textarea name="token" rows={4} required autocomplete="off" spellcheck={false} />
        </label>
        <label>
          Tenant id
          <input name="tenant_id" required autocomplete="off" spellcheck={false} />
        </label>
        <label>
          Organisation id
          <input name="org_id" required autocomplete="off" spellcheck={false} />
        </label>
        {problem && (
          <p role="alert" class="error">
            {problem}
          </p>
        )}
        <button type="submit" class="primary">
          Sign in
        </button>
      </form>
    </main>
  );
}
