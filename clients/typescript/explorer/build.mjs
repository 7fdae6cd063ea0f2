// Builds the explorer page from its sources: explorer/main.ts and the
// client library bundled by esbuild into one ES module, beside the page and
// its style sheet. The output directory is the first argument (default
// dist/explorer); the node's build script passes its own.
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = resolve(process.argv[2] ?? join(here, "..", "dist", "explorer-page"));
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, "main.ts")],
  bundle: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  outfile: join(out, "explorer.js"),
  legalComments: "eof",
  minify: true,
  logLevel: "warning",
});
for (const file of ["index.html", "style.css"]) {
  copyFileSync(join(here, file), join(out, file));
}
