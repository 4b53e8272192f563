// Builds the native backend's addon (addon.cc against oneDNN) with node-gyp, from `npm
// install` and `npm run build:native`. Where it cannot be built (no C++ compiler, no oneDNN
// headers, no Node headers), installing still succeeds: this says once why and what to
// install, and leaves that in build/skipped.txt, which `lth` repeats when it falls back to
// wasm. LTH_NATIVE=0 skips the build.

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const note = join(here, "build", "skipped.txt");
// The same words as NATIVE_INSTALL in ../native.ts, which lth prints when it falls back.
const INSTALL = "apt-get install -y g++ libdnnl-dev, then npm run build:native (npm rebuild lth where lth is installed)";

function skip(why) {
  // No addon from an earlier build stays behind to claim otherwise.
  rmSync(join(here, "build", "Release", "lth_native.node"), { force: true });
  mkdirSync(join(here, "build"), { recursive: true });
  writeFileSync(note, `${why}\n`);
  console.log(`lth: the native backend (oneDNN) was not built: ${why}. To enable it: ${INSTALL}. lth runs on wasm meanwhile.`);
  process.exit(0);
}

if (process.env["LTH_NATIVE"] === "0") skip("LTH_NATIVE=0 asked to skip it");

const compiler = ["c++", "g++", "clang++"].find((cc) => spawnSync(cc, ["--version"], { stdio: "ignore" }).status === 0);
if (!compiler) skip("no C++ compiler (c++, g++ or clang++) was found");

// oneDNN's headers, wherever the compiler looks for headers.
const probe = spawnSync(compiler, ["-E", "-x", "c++", "-"], { input: "#include <dnnl.hpp>\n", stdio: ["pipe", "ignore", "ignore"] });
if (probe.status !== 0) skip("oneDNN's headers (dnnl.hpp, Debian's libdnnl-dev) were not found");

// Node's headers: those installed beside this node (Debian's nodejs, or a tarball), else node-gyp's own download.
const prefix = dirname(dirname(process.execPath));
const nodedir = existsSync(join(prefix, "include", "node", "node_api.h")) ? prefix : undefined;

function nodeGyp() {
  if (process.env["npm_config_node_gyp"] && existsSync(process.env["npm_config_node_gyp"])) return process.env["npm_config_node_gyp"];
  try {
    return createRequire(import.meta.url).resolve("node-gyp/bin/node-gyp.js");
  } catch {
    // npm ships node-gyp beside itself.
    const bundled = join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js");
    return existsSync(bundled) ? bundled : undefined;
  }
}
const gyp = nodeGyp();
if (!gyp) skip("node-gyp was not found (it comes with npm)");

rmSync(note, { force: true });
const args = [gyp, "rebuild", "--directory", here, ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const build = spawnSync(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (build.status !== 0) {
  const lines = `${build.stdout}\n${build.stderr}`.split("\n").filter((l) => /error/i.test(l)).slice(0, 3);
  skip(`node-gyp could not build it (${lines.join(" | ").slice(0, 300) || `exit ${build.status}`})`);
}
// A build that loads: an addon that cannot find libdnnl at run time is no better than none.
const addonFile = join(here, "build", "Release", "lth_native.node");
const check = spawnSync(process.execPath, ["-p", `JSON.stringify(require(${JSON.stringify(addonFile)}).info())`], { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (check.status !== 0) {
  rmSync(addonFile, { force: true });
  skip(`the addon was built but does not load (${check.stderr.split("\n").find((l) => l.trim()) ?? `exit ${check.status}`})`);
}
console.log(`lth: built the native backend (oneDNN ${JSON.parse(check.stdout.trim()).dnnl}).`);
