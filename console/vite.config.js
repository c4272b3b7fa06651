// The console is served under /console by the `console` function (functions/console.py); the
// build is a few hashed files in dist/, so a browser caches the assets and never a stale index.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/console/",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 400 },
});
