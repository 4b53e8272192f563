#!/usr/bin/env node
// `npm run test:load`: the suite (or the vitest arguments given) with CPU-burning processes
// beside it, as on a shared 2-core CI machine where other jobs run too. The suite must pass
// like this: no test may depend on how fast the machine is.
//
//   node tests/load/run.mjs [vitest run arguments…]    LTH_LOAD_BURNERS=2 (the default)
//
// The burners are killed whatever happens (vitest passes, fails, or this script is
// interrupted); each also watches this script's pid and exits on its own if the script is
// SIGKILLed, so none is ever left spinning. Exits with vitest's status.

import { spawn } from "node:child_process";
import { createRequire } from "node:module";

const burners = Number(process.env["LTH_LOAD_BURNERS"] ?? 2);
if (!Number.isInteger(burners) || burners < 0) {
  console.error(`LTH_LOAD_BURNERS=${process.env["LTH_LOAD_BURNERS"]}: expected a whole number`);
  process.exit(2);
}

// A busy loop that checks now and then (every 2^26 turns, well under a second) that the
// script that started it is still there.
const BURN = `const parent = Number(process.argv[1]);
for (let i = 1; ; i++) if ((i & 0x3ffffff) === 0) try { process.kill(parent, 0); } catch { process.exit(0); }`;

const loops = Array.from({ length: burners }, () => spawn(process.execPath, ["-e", BURN, String(process.pid)], { stdio: "ignore" }));
const stopLoops = () => {
  for (const loop of loops) if (loop.exitCode === null && loop.signalCode === null) loop.kill("SIGKILL");
};
process.on("exit", stopLoops);

const vitest = createRequire(import.meta.url).resolve("vitest/package.json").replace(/package\.json$/, "vitest.mjs");
const started = Date.now();
console.error(`test:load: ${burners} busy loop${burners === 1 ? "" : "s"} (pids ${loops.map((l) => l.pid).join(", ")}) beside vitest run`);
const child = spawn(process.execPath, [vitest, "run", ...process.argv.slice(2)], { stdio: "inherit" });

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    child.kill(signal);
    stopLoops();
  });
}

child.on("error", (e) => {
  stopLoops();
  console.error(`test:load: could not start vitest: ${e.message}`);
  process.exit(1);
});
child.on("exit", (code, signal) => {
  stopLoops();
  console.error(`test:load: vitest ${signal ? `ended by ${signal}` : `exited ${code}`} after ${((Date.now() - started) / 1000).toFixed(0)} s under load`);
  process.exit(code ?? 1);
});
