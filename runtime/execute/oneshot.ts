// One stage as a batch job: `node oneshot.js JOBFILE`. What a SLURM job runs (slurm.ts): it
// reads the job file (the task, the store's root, the backend and its threads), loads the
// tensor engine, runs the task into the shared store, and writes its exit marker: the output's
// reference or why it failed. Its training progress goes to a file the submitting `lth run`
// reads. The exit status is 0 when the stage ran, 1 when it failed (the marker says why).

import { readFileSync } from "node:fs";
import { BackendUnavailable, loadEngine } from "../engine/backend.js";
import { failureMessage, failureRepeats } from "../ops/context.js";
import { Store } from "../store/store.js";
import type { TrainingProgress } from "../ui/progress.js";
import { writeWhole, type JobFile, type JobMarker } from "./job.js";
import { runTask } from "./task.js";

/** Progress is written at most this often (and at each epoch's end): it is for people watching. */
const PROGRESS_EVERY_MS = 1000;

async function main(path: string): Promise<number> {
  const job = JSON.parse(readFileSync(path, "utf8")) as JobFile;
  const host = (await import("node:os")).hostname();
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  let backend: string | null = null;
  try {
    const engine = await loadEngine(job.backend, { threads: job.threads });
    backend = engine.backend;
    let written = 0;
    const progress = (p: TrainingProgress) => {
      const now = performance.now();
      if (!p.final && now - written < PROGRESS_EVERY_MS) return;
      written = now;
      try {
        writeWhole(job.progress, p);
      } catch {
        // Progress is for display; a write that fails costs nothing else.
      }
    };
    const ref = await runTask(job.task, new Store(job.store, job.temp), engine, progress);
    writeWhole(job.marker, { ok: true, ref, seconds: seconds(), backend, host } satisfies JobMarker);
    return 0;
  } catch (e) {
    const message = e instanceof BackendUnavailable ? e.message : failureMessage(e);
    writeWhole(job.marker, { ok: false, message, repeats: failureRepeats(e), seconds: seconds(), backend, host } satisfies JobMarker);
    return 1;
  }
}

// SLURM stops a job with SIGTERM (scancel, a time limit), then SIGKILL after its KillWait.
// The store's lock library listens for SIGTERM (to release a lock on the way out), and a
// listened-for signal waits for the event loop, which a training never yields to: the job
// trained on after being cancelled. A job holds no lock, so the signals get their default,
// immediate, action back.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.removeAllListeners(signal);

const file = process.argv[2];
if (!file) {
  process.stderr.write("usage: oneshot JOBFILE (written by lth run --executor slurm)\n");
  process.exit(2);
}
main(file).then(
  (status) => process.exit(status),
  (e: unknown) => {
    // The marker could not be written (the shared filesystem is gone): the log keeps why.
    process.stderr.write(`lth job: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
