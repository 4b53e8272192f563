// The one way lth starts a worker process of its own: the runtime's stage workers
// (execute/local.ts) and LoFT's training workers (methods/loft/loft.ts); and the command a
// batch job runs (execute/slurm.ts).

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/** Whether this code runs from its TypeScript source (tsx, vitest) rather than from `dist/`. */
const fromSource = import.meta.url.endsWith(".ts");

/**
 * Forks the worker module `module` names without its extension (`new URL("./worker",
 * import.meta.url)`): its `.ts` under tsx when lth runs from source, its `.js` from `dist/`.
 * The channel uses advanced serialization, so typed arrays cross whole; the worker's stdout
 * and stderr go to this process's stderr, so nothing it or its backend prints can land in
 * `run --json`'s stdout. `nodeFlags` are added to the child's Node options.
 */
export function forkWorker(module: URL, args: readonly string[] = [], nodeFlags: readonly string[] = []): ChildProcess {
  return fork(fileURLToPath(`${module.href}${fromSource ? ".ts" : ".js"}`), args, {
    execArgv: [...(fromSource ? ["--import", "tsx"] : []), ...nodeFlags],
    serialization: "advanced",
    stdio: ["ignore", 2, 2, "ipc"],
  });
}

/**
 * The command line that runs the module `module` names (without its extension) as a program
 * of its own: this Node, under tsx when lth runs from source. For a batch job's script.
 */
export function moduleCommand(module: URL): string[] {
  return [process.execPath, ...(fromSource ? ["--import", "tsx"] : []), fileURLToPath(`${module.href}${fromSource ? ".ts" : ".js"}`)];
}
