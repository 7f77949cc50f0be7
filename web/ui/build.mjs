// Copies xterm.js and its fit addon from node_modules into ../static/vendor, the
// files the Go binary embeds. Run `npm ci && npm run build` here after changing
// the versions in package.json, and commit what changed in ../static/vendor.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static", "vendor");
mkdirSync(out, { recursive: true });

// The source maps are not shipped, so their links go too.
function copyScript(from, to) {
  const text = readFileSync(join(here, "node_modules", from), "utf8");
  writeFileSync(join(out, to), text.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n"));
}

copyScript("@xterm/xterm/lib/xterm.js", "xterm.js");
copyScript("@xterm/addon-fit/lib/addon-fit.js", "addon-fit.js");
copyFileSync(join(here, "node_modules/@xterm/xterm/css/xterm.css"), join(out, "xterm.css"));
copyFileSync(join(here, "node_modules/@xterm/xterm/LICENSE"), join(out, "LICENSE.xterm"));
copyFileSync(join(here, "node_modules/@xterm/addon-fit/LICENSE"),
  join(out, "LICENSE.addon-fit"));

// Record what was copied, so a test can tell a stale copy from the lock file.
const lock = JSON.parse(readFileSync(join(here, "package-lock.json"), "utf8"));
const versions = {};
for (const name of ["@xterm/xterm", "@xterm/addon-fit"]) {
  versions[name] = lock.packages[`node_modules/${name}`].version;
}
writeFileSync(join(out, "versions.json"), JSON.stringify(versions, null, 2) + "\n");
console.log("copied", versions, "to", out);
