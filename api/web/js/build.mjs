// Bundles the pages' scripts and styles into api/web/static/build (run by `npm run build`).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, "..", "static", "build");

await build({
  entryPoints: {
    viewer: path.join(here, "viewer.js"),
    editor: path.join(here, "editor.js"),
  },
  bundle: true,
  format: "iife",
  target: ["es2020"],
  minify: true,
  sourcemap: true,
  outdir: out,
  loader: { ".woff": "file", ".woff2": "file", ".ttf": "file", ".eot": "file", ".svg": "file" },
  logLevel: "warning",
});
console.log(`built ${out}`);
