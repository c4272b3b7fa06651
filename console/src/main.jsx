import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { clearCredentials, loadCredentials, saveCredentials, takeCredentialsFromFragment, tokenClaims } from "./api.js";
import { SignIn } from "./pages/SignIn.jsx";
import { Jobs } from "./pages/Jobs.jsx";
import { Quality } from "./pages/Quality.jsx";
import { Product } from "./pages/Product.jsx";
import { Exports } from "./pages/Exports.jsx";
import { AuditLog } from "./pages/AuditLog.jsx";
import "./style.css";

const PAGES = [
  { path: "jobs", label: "Jobs" },
  { path: "quality", label: "Data quality" },
  { path: "exports", label: "Exports" },
  { path: "audit", label: "Audit log" },
];

/** The route is the hash (`#/products/<id>`): one HTML file serves every page. */
function currentRoute() {
  const [, page = "jobs", ...rest] = window.location.hash.replace(/^#/, "").split("/");
  return { page: page || "jobs", rest: rest.map(decodeURIComponent) };
}

function App() {
  const [credentials, setCredentials] = useState(() => {
    const handed = takeCredentialsFromFragment();
    if (handed) saveCredentials(handed);
    return handed || loadCredentials();
  });
  const [route, setRoute] = useState(currentRoute);

  useEffect(() => {
    const onHash = () => {
      // A sign-in link opened in a tab already on the console changes only the fragment.
      const handed = takeCredentialsFromFragment();
      if (handed) {
        saveCredentials(handed);
        setCredentials(handed);
      }
      setRoute(currentRoute());
    };
    window.addEventListener("hashchange", onHash);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);

  // Move focus to the page's heading on navigation, so keyboard and screen-reader users land there.
  useEffect(() => {
    document.querySelector("main h1")?.focus();
  }, [route.page, route.rest.join("/")]);

  if (!credentials) {
    return (
      <SignIn
        onSignIn={(c) => {
          saveCredentials(c);
          setCredentials(c);
          window.location.hash = "#/jobs";
        }}
      />
    );
  }

  const claims = tokenClaims(credentials.token);
  const user = {
    email: claims.email || claims.sub || "unknown",
    role: String(claims.role || "").toUpperCase() === "MEMBER" ? "EDITOR" : String(claims.role || "").toUpperCase(),
  };
  user.canWrite = user.role === "ADMIN" || user.role === "EDITOR";
  const signOut = () => {
    clearCredentials();
    setCredentials(null);
  };
  const props = { credentials, user, key: `${credentials.tenantId}/${credentials.orgId}/${credentials.token}` };

  let page;
  if (route.page === "quality") page = <Quality {...props} />;
  else if (route.page === "products" && route.rest[0]) page = <Product {...props} productId={route.rest[0]} />;
  else if (route.page === "exports") page = <Exports {...props} />;
  else if (route.page === "audit") page = <AuditLog {...props} />;
  else page = <Jobs {...props} />;

  return (
    <>
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById("main")?.focus())}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Synq PIM</span>
        <nav aria-label="Console pages">
          {PAGES.map((p) => (
            <a href={`#/${p.path}`} aria-current={route.page === p.path ? "page" : undefined}>
              {p.label}
            </a>
          ))}
        </nav>
        <div class="who">
          <span title={`tenant ${credentials.tenantId}, org ${credentials.orgId}`} data-testid="who">
            {user.email} · <strong>{user.role || "no role"}</strong>
          </span>
          <button type="button" class="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {page}
      </main>
    </>
  );
}

render(<App />, document.getElementById("app"));
