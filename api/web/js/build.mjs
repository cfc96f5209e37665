// Bundles the pages' scripts and styles into api/web/static/build (run by `npm run build`).
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";

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
// The API's interactive documentation (/api/docs) is served from here, not from a CDN: an intranet
// install has no internet.
const swagger = path.dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));
mkdirSync(path.join(out, "swagger-ui"), { recursive: true });
for (const name of ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"]) {
  copyFileSync(path.join(swagger, name), path.join(out, "swagger-ui", name));
}
console.log(`built ${out}`);
