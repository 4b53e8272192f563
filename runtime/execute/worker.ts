// A worker process: loads the tensor engine once, then runs the tasks the executor sends,
// reporting progress on the way. It dies with its parent, so a killed run leaves no orphans.

import { BackendUnavailable, loadEngine, type BackendChoice } from "../engine/backend.js";
import { failureMessage, failureRepeats } from "../ops/context.js";
import type { TrainingProgress } from "../ui/progress.js";
import { installFaults } from "../store/faults.js";
import { Store, type ArtifactRef } from "../store/store.js";
import { runTask, type StageTask } from "./task.js";

/** A worker's state after a stage: live tensors (the same after every stage, or something leaks) and resident memory. */
export interface WorkerHealth {
  readonly tensors: number;
  readonly rss: number;
}

export type ToWorker = { readonly type: "run"; readonly task: StageTask; readonly store: string };
export type FromWorker =
  | { readonly type: "ready"; readonly backend: string; readonly why: string }
  | { readonly type: "unavailable"; readonly message: string }
  | { readonly type: "progress"; readonly progress: TrainingProgress }
  | { readonly type: "done"; readonly ref: ArtifactRef; readonly seconds: number; readonly health: WorkerHealth }
  | { readonly type: "failed"; readonly message: string; readonly repeats: boolean };

const send = (m: FromWorker) => process.send!(m);
process.on("disconnect", () => process.exit(0));
// Training is synchronous, so "disconnect" cannot fire mid-stage: each progress report also
// checks that the parent is still there (a killed parent re-parents this process).
const parent = process.ppid;
// Test hooks: LTH_FAULT reaches this process's store writes through the store's write probe.
installFaults({ parentPid: parent });

try {
  const threads = Number(process.argv[3]);
  const engine = await loadEngine((process.argv[2] ?? "auto") as BackendChoice, Number.isInteger(threads) && threads > 0 ? { threads } : {});
  send({ type: "ready", backend: engine.backend, why: engine.why });
  process.on("message", (m: ToWorker) => {
    const started = performance.now();
    const progress = (p: TrainingProgress) => {
      if (process.ppid !== parent) process.exit(1);
      send({ type: "progress", progress: p });
    };
    runTask(m.task, new Store(m.store), engine, progress).then(
      (ref) => {
        const seconds = (performance.now() - started) / 1000;
        // Collect between stages (the worker is idle now), so memory reads as what is retained.
        (globalThis as { gc?: () => void }).gc?.();
        send({ type: "done", ref, seconds, health: { tensors: engine.tf.memory().numTensors, rss: process.memoryUsage().rss } });
      },
      (e: unknown) => send({ type: "failed", message: failureMessage(e), repeats: failureRepeats(e) }),
    );
  });
} catch (e) {
  send({ type: "unavailable", message: e instanceof BackendUnavailable ? e.message : String(e) });
}

