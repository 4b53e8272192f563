// The local executor: tasks run in up to `jobs` worker processes on this machine (worker.ts),
// each with its tensor engine loaded once. Workers start when the first tensor stage needs
// one and are replaced when one dies; a worker that cannot load the backend fails every
// tensor stage with its reason.

import type { ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import type { BackendChoice } from "../engine/backend.js";
import { nativeBuilt } from "../engine/kernels/native.js";
import type { Store } from "../store/store.js";
import type { Executor, ExecutorEvent, TaskHooks, TaskOutcome } from "./executor.js";
import { forkWorker } from "./fork.js";
import type { StageTask } from "./task.js";
import type { FromWorker, ToWorker } from "./worker.js";

export interface LocalOptions {
  readonly store: Store;
  /** Worker processes at most (at least 1). */
  readonly jobs: number;
  readonly backend: BackendChoice;
  /** Hears the backend the first worker loaded. */
  readonly onEvent: (e: ExecutorEvent) => void;
}

/**
 * Worker processes when the user does not say: one on native, whose kernels use every core
 * (so its thread count, which its results depend on, is the machine's, whatever the run
 * holds); one per core on the single-threaded backends. tfjs-node, which `auto` prefers when
 * installed, counts as native here: it threads its own kernels.
 */
export function defaultJobs(backend: BackendChoice): number {
  if (backend === "native" || backend === "tensorflow" || (backend === "auto" && nativeBuilt())) return 1;
  return availableParallelism();
}

export class LocalExecutor implements Executor {
  readonly capacity: number;
  /** Threads each worker's kernels use: the cores divided among the workers that may run at once. */
  readonly threads: number;
  private readonly idle: ChildProcess[] = [];
  private readonly all = new Set<ChildProcess>();
  private readonly waiting: (() => void)[] = [];
  private unavailable: string | undefined;
  /** The backend the workers loaded, once one has started. */
  private backend: string | undefined;

  constructor(private readonly options: LocalOptions) {
    this.capacity = Math.max(1, options.jobs);
    // Each worker's kernels get an equal share of the cores (native's oneDNN threads).
    this.threads = Math.max(1, Math.floor(availableParallelism() / this.capacity));
  }

  private spawn(): Promise<ChildProcess | { unavailable: string }> {
    const worker = forkWorker(new URL("./worker", import.meta.url), [this.options.backend, String(this.threads)], ["--expose-gc"]);
    this.all.add(worker);
    // A send to a worker that just died fails here; its exit does the bookkeeping.
    worker.on("error", () => undefined);
    worker.once("exit", () => {
      this.all.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      this.waiting.shift()?.();
    });
    return new Promise((resolve) => {
      worker.once("message", (m: FromWorker) => {
        if (m.type === "ready") {
          if (this.backend === undefined) this.options.onEvent({ type: "backend", backend: (this.backend = m.backend), why: m.why });
          resolve(worker);
        } else {
          this.unavailable = m.type === "unavailable" ? m.message : "the worker did not start";
          worker.kill();
          resolve({ unavailable: this.unavailable });
        }
      });
      worker.once("exit", (code, signal) => resolve({ unavailable: `a worker process exited (${signal ?? `status ${code}`}) before it was ready` }));
    });
  }

  /** A free worker, or why there is none. */
  private async acquire(): Promise<ChildProcess | { unavailable: string }> {
    for (;;) {
      if (this.unavailable) return { unavailable: this.unavailable };
      const free = this.idle.pop();
      if (free?.connected) return free;
      if (free) continue;
      if (this.all.size < this.capacity) return this.spawn();
      await new Promise<void>((wake) => this.waiting.push(wake));
    }
  }

  private release(worker: ChildProcess): void {
    if (worker.connected) this.idle.push(worker);
    this.waiting.shift()?.();
  }

  async run(task: StageTask, hooks: TaskHooks): Promise<TaskOutcome> {
    const worker = await this.acquire();
    if (!("send" in worker)) return { ok: false, message: worker.unavailable, seconds: 0, repeats: false, backend: this.backend ?? null };
    hooks.started();
    const started = performance.now();
    const backend = this.backend!;
    return new Promise<TaskOutcome>((resolve) => {
      const seconds = () => (performance.now() - started) / 1000;
      const settle = (outcome: TaskOutcome) => {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
        resolve(outcome);
      };
      const onMessage = (m: FromWorker) => {
        if (m.type === "progress") return hooks.progress(m.progress);
        if (m.type !== "done" && m.type !== "failed") return;
        settle(m.type === "done" ? { ok: true, ref: m.ref, seconds: m.seconds, backend, health: m.health } : { ok: false, message: m.message, seconds: seconds(), repeats: m.repeats, backend });
        this.release(worker);
      };
      const onExit = (code: number | null, signal: string | null) =>
        settle({ ok: false, message: `the worker process died (${signal ?? `status ${code}`}), perhaps out of memory`, seconds: seconds(), repeats: false, backend });
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      worker.send({ type: "run", task, store: this.options.store.root } satisfies ToWorker);
    });
  }

  /** Starts a worker now, so the backend is chosen (and said) before the first stage. */
  async warm(): Promise<void> {
    const worker = await this.acquire();
    if ("send" in worker) this.release(worker);
  }

  /** Disconnects every worker; each exits when it sees the channel close. */
  close(): void {
    for (const w of this.all) if (w.connected) w.disconnect();
  }

  /** Kills every worker (SIGKILL). */
  cancel(): void {
    for (const w of this.all) w.kill("SIGKILL");
  }
}
