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

import { appendFileSync, statSync } from "node:fs";

export type WriteKind = "object" | "record" | "failure" | "pipeline" | "lock";
export type FaultPoint = `${WriteKind}.${"data" | "rename" | "done"}`;

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

const fault = parse(process.env["LTH_FAULT"]);
let arrivals = 0;
/** The run's parent process, when this process is one of its workers: a kill takes both. */
let parentPid: number | undefined;

export function faultsKillParent(pid: number): void {
  parentPid = pid;
}

/** Called at each crash point of a store write; does nothing unless LTH_FAULT names this point. */
export function faultPoint(point: FaultPoint): void {
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
