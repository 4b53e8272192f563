// Fault injection for the crash and full-disk tests (SQLite's habit: every crash point of
// the write path is a place a test can stop the program). Inert unless LTH_FAULT is set.
//
//   LTH_FAULT=<action>@<point>#<n>   the n-th arrival at <point> does <action>
//   LTH_FAULT_COUNTER=<file>         arrivals are counted in this file, across every process
//                                    of the run (the parent and its workers); without it,
//                                    each process counts its own
//
// Actions:  kill    SIGKILL the whole run (a worker kills its parent too), as if the machine died
//           die     SIGKILL this worker alone, as if it crashed: its parent goes on and fails
//                   the stage; only arrivals in workers count
//           enospc  the write fails with ENOSPC, as if the disk were full
//           count   nothing happens; the counter file shows how many arrivals there were
// Points:   <what>.data     half the bytes are in the temp file
//           <what>.rename   the temp file is whole and synced, not yet renamed into place
//           <what>.done     renamed into place, before the caller goes on
//           where <what> is object (an artifact), record (an index entry), failure (a
//           stage's failure record), pipeline (a
//           pipeline's last-run file) or lock (the store's marker file, written by a store's first run)
//
// Tests aim their kills with these rather than with timers, so where a kill lands does not
// depend on how fast the machine is.
//
// The store does not import this module: it reaches the write path through the store's
// write probe (`setWriteProbe` in store.ts), into which `installFaults` puts it. Only the
// entry points of processes that write the store call `installFaults`: `cli.ts` and the
// worker process `runtime/execute/worker.ts` (tests/architecture/imports.test.ts holds
// every other file to that).

import { appendFileSync, statSync } from "node:fs";
import { setWriteProbe, type WritePoint } from "./store.js";

/** A crash point: one of the store's write points. */
export type FaultPoint = WritePoint;

interface Fault {
  readonly action: "kill" | "die" | "enospc" | "count";
  readonly point: FaultPoint;
  readonly nth: number;
}

function parse(spec: string | undefined): Fault | undefined {
  if (!spec) return undefined;
  const m = /^(kill|die|enospc|count)@((?:object|record|failure|pipeline|lock)\.(?:data|rename|done))(?:#(\d+))?$/.exec(spec);
  if (!m) throw new Error(`LTH_FAULT=${spec}: expected <kill|die|enospc|count>@<object|record|failure|pipeline|lock>.<data|rename|done>#<n>`);
  return { action: m[1] as Fault["action"], point: m[2] as FaultPoint, nth: Number(m[3] ?? 1) };
}

let fault: Fault | undefined;
let arrivals = 0;
/** The run's parent process, when this process is one of its workers: a kill takes both. */
let parentPid: number | undefined;

/**
 * Reads LTH_FAULT and, when it is set, installs the fault as the store's write probe.
 * A process entry point calls it once, before any store write; a worker gives its parent's
 * pid (`kill` takes the parent too, `die` counts only workers' arrivals). Throws when
 * LTH_FAULT is malformed. Without LTH_FAULT it installs nothing.
 */
export function installFaults(options: { readonly parentPid?: number } = {}): void {
  parentPid = options.parentPid;
  fault = parse(process.env["LTH_FAULT"]);
  if (fault) setWriteProbe(faultPoint);
}

/** The write probe: does nothing unless LTH_FAULT names this point and this is the n-th arrival. */
function faultPoint(point: FaultPoint): void {
  if (!fault || fault.point !== point) return;
  // A worker's death is aimed at workers' writes: the parent's do not count.
  if (fault.action === "die" && parentPid === undefined) return;
  const counter = process.env["LTH_FAULT_COUNTER"];
  let n: number;
  if (counter) {
    appendFileSync(counter, ".");
    n = statSync(counter).size;
  } else n = ++arrivals;
  if (n !== fault.nth || fault.action === "count") return;
  if (fault.action === "enospc") {
    throw Object.assign(new Error(`ENOSPC: no space left on device, write (injected at ${point})`), { code: "ENOSPC", errno: -28, syscall: "write" });
  }
  if (fault.action === "kill" && parentPid !== undefined) process.kill(parentPid, "SIGKILL");
  process.kill(process.pid, "SIGKILL");
}
