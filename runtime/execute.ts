// The executor: brings stages up to date in dependency order, each as soon as its inputs
// exist, tensor work in up to `jobs` worker processes. A stage that reruns and produces the
// same bytes leaves its dependants' keys unchanged, so they stay cached (early cutoff).

import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Stage, StageGraph, StageId } from "../compiler/stage.js";
import type { BackendChoice } from "./engine/backend.js";
import { failureMessage } from "./ops/context.js";
import { IMPLEMENTATIONS } from "./ops/index.js";
import { Decider, describeReason, plan } from "./plan.js";
import type { StageOutcome, TrainingProgress } from "./progress.js";
import type { ArtifactRef, StageKey, Store } from "./store/store.js";
import { runTask, type StageTask } from "./task.js";
import type { FromWorker, ToWorker } from "./worker.js";

export type RunEvent =
  | { readonly type: "backend"; readonly backend: string; readonly why: string }
  | { readonly type: "start"; readonly id: StageId; readonly op: string; readonly key: StageKey; readonly reason: string }
  | ({ readonly type: "progress" } & TrainingProgress)
  | {
      readonly type: "stage";
      readonly id: StageId;
      readonly op: string;
      readonly key: StageKey | null;
      readonly status: StageOutcome;
      readonly seconds: number;
      readonly output?: string;
      readonly backend?: string | null;
      readonly message?: string;
    }
  | { readonly type: "summary"; readonly ran: number; readonly cached: number; readonly failed: number; readonly blocked: number; readonly seconds: number };

export interface ExecuteOptions {
  readonly store: Store;
  readonly jobs: number;
  readonly backend: BackendChoice;
  readonly onEvent: (e: RunEvent) => void;
}

type Outcome = { readonly ok: true; readonly ref: ArtifactRef; readonly seconds: number; readonly backend: string | null } | { readonly ok: false; readonly message: string; readonly seconds: number };

/** Worker processes, started when the first tensor stage needs one. */
class WorkerPool {
  private readonly idle: ChildProcess[] = [];
  private started = 0;
  private readonly waiting: ((w: ChildProcess) => void)[] = [];
  private engine: Promise<{ backend: string } | { unavailable: string }> | undefined;
  private readonly all: ChildProcess[] = [];

  constructor(
    private readonly size: number,
    private readonly choice: BackendChoice,
    private readonly onBackend: (backend: string, why: string) => void,
  ) {}

  private spawn(): Promise<{ worker: ChildProcess; ready: FromWorker }> {
    const source = import.meta.url.endsWith(".ts");
    const worker = fork(fileURLToPath(new URL(source ? "./worker.ts" : "./worker.js", import.meta.url)), [this.choice], {
      execArgv: source ? ["--import", "tsx"] : [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.all.push(worker);
    return new Promise((resolve, reject) => {
      worker.once("message", (ready: FromWorker) => resolve({ worker, ready }));
      worker.once("exit", (code) => reject(new Error(`a worker process exited with status ${code} before it was ready`)));
    });
  }

  private async acquire(): Promise<ChildProcess | { unavailable: string }> {
    const free = this.idle.pop();
    if (free) return free;
    if (this.started < this.size) {
      this.started++;
      const spawned = this.spawn();
      const first = !this.engine;
      this.engine ??= spawned.then(
        ({ ready }) => (ready.type === "ready" ? { backend: ready.backend } : { unavailable: ready.type === "unavailable" ? ready.message : "worker failed" }),
        (e: Error) => ({ unavailable: e.message }),
      );
      try {
        const { worker, ready } = await spawned;
        if (ready.type !== "ready") return { unavailable: ready.type === "unavailable" ? ready.message : "the worker did not start" };
        if (first) this.onBackend(ready.backend, ready.why);
        return worker;
      } catch (e) {
        return { unavailable: (e as Error).message };
      }
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: ChildProcess): void {
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  async run(task: StageTask, store: Store, progress: (p: TrainingProgress) => void): Promise<Outcome> {
    const started = performance.now();
    const worker = await this.acquire();
    if (!("send" in worker)) return { ok: false, message: worker.unavailable, seconds: 0 };
    const backend = ((await this.engine) as { backend: string }).backend;
    return new Promise<Outcome>((resolve) => {
      const onMessage = (m: FromWorker) => {
        if (m.type === "progress") return progress(m.progress);
        if (m.type !== "done" && m.type !== "failed") return;
        cleanup();
        this.release(worker);
        resolve(m.type === "done" ? { ok: true, ref: m.ref, seconds: m.seconds, backend } : { ok: false, message: m.message, seconds: (performance.now() - started) / 1000 });
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        resolve({ ok: false, message: `the worker process died (${signal ?? `status ${code}`}), perhaps out of memory`, seconds: (performance.now() - started) / 1000 });
      };
      const cleanup = () => {
        worker.off("message", onMessage);
        worker.off("exit", onExit);
      };
      worker.on("message", onMessage);
      worker.once("exit", onExit);
      worker.send({ type: "run", task, store: store.root } satisfies ToWorker);
    });
  }

  /** Starts a worker now, so the backend is chosen (and said) before the first stage. */
  async warm(): Promise<void> {
    const worker = await this.acquire();
    if ("send" in worker) this.release(worker);
  }

  close(): void {
    for (const w of this.all) if (w.connected) w.disconnect();
  }

  kill(): void {
    for (const w of this.all) w.kill("SIGKILL");
  }
}

export interface Execution {
  readonly done: Promise<{ ran: number; cached: number; failed: number; blocked: number }>;
  /** Stops at once: workers are killed; finished stages stay cached. */
  abort(): void;
}

export function execute(graph: StageGraph, stages: readonly Stage[], options: ExecuteOptions): Execution {
  const { store, onEvent } = options;
  const pool = new WorkerPool(Math.max(1, options.jobs), options.backend, (backend, why) => onEvent({ type: "backend", backend, why }));
  const decider = new Decider(graph, store);
  const counts = { ran: 0, cached: 0, failed: 0, blocked: 0 };
  const failed = new Set<StageId>();
  const started = performance.now();
  let aborted = false;

  const finish = (stage: Stage, status: StageOutcome, fields: Partial<Extract<RunEvent, { type: "stage" }>> = {}) => {
    counts[status]++;
    onEvent({ type: "stage", id: stage.id, op: stage.op, key: null, seconds: 0, status, ...fields });
  };

  async function runStage(stage: Stage, key: StageKey, reason: string): Promise<void> {
    const impl = IMPLEMENTATIONS.get(stage.op)!;
    const inputs: Record<string, { ref: ArtifactRef; kind: Stage["result"] }> = {};
    for (const [param, id] of Object.entries(stage.inputs)) inputs[param] = { ref: decider.outputs.get(id)!, kind: graph.graph.getNodeAttribute(id, "result") };
    const task: StageTask = { id: stage.id, op: stage.op, key, result: stage.result, params: stage.params, inputs, files: stage.files };
    onEvent({ type: "start", id: stage.id, op: stage.op, key, reason });
    const progress = (p: TrainingProgress) => onEvent({ type: "progress", ...p });
    let outcome: Outcome;
    if (impl.engine) outcome = await pool.run(task, store, progress);
    else {
      const t0 = performance.now();
      try {
        outcome = { ok: true, ref: await runTask(task, store, undefined, progress), seconds: (performance.now() - t0) / 1000, backend: null };
      } catch (e) {
        outcome = { ok: false, message: failureMessage(e), seconds: (performance.now() - t0) / 1000 };
      }
    }
    if (aborted) return;
    if (!outcome.ok) {
      failed.add(stage.id);
      finish(stage, "failed", { key, seconds: outcome.seconds, message: outcome.message });
      return;
    }
    // The index entry is written last: only now does the stage count as done.
    store.putRecord({ key, op: stage.op, version: stage.version, output: outcome.ref, backend: outcome.backend, seconds: outcome.seconds, finishedAt: new Date().toISOString() });
    decider.outputs.set(stage.id, outcome.ref);
    finish(stage, "ran", { key, seconds: outcome.seconds, output: outcome.ref.digest, backend: outcome.backend });
  }

  const done = (async () => {
    const waiting = new Set(stages.map((s) => s.id));
    const inFlight = new Map<StageId, Promise<void>>();
    const byKey = new Map<StageKey, Promise<void>>();
    try {
      const planned = plan(graph, store, stages);
      if (planned.some((p) => p.decision.status === "run" && IMPLEMENTATIONS.get(p.stage.op)!.engine)) await pool.warm();
      while (!aborted && (waiting.size > 0 || inFlight.size > 0)) {
        let progressed = false;
        for (const stage of stages) {
          if (!waiting.has(stage.id)) continue;
          const inputs = Object.values(stage.inputs);
          if (inputs.some((id) => failed.has(id))) {
            waiting.delete(stage.id);
            failed.add(stage.id);
            finish(stage, "blocked", { message: `an input failed: ${inputs.filter((id) => failed.has(id)).join(", ")}` });
            progressed = true;
            continue;
          }
          if (!inputs.every((id) => decider.outputs.has(id))) continue;
          const sameKeyRunning = (key: StageKey) => byKey.get(key);
          let f;
          try {
            f = decider.fingerprint(stage)!;
          } catch (e) {
            waiting.delete(stage.id);
            failed.add(stage.id);
            finish(stage, "failed", { message: failureMessage(e) });
            progressed = true;
            continue;
          }
          const decision = decider.decide(stage, f);
          if (decision.status === "run" && sameKeyRunning(decision.key!)) continue; // an identical stage is computing it
          waiting.delete(stage.id);
          progressed = true;
          if (decision.status === "cached") {
            decider.outputs.set(stage.id, decision.output);
            const record = store.getRecord(decision.key);
            finish(stage, "cached", { key: decision.key, output: decision.output.digest, backend: record?.backend ?? null });
            continue;
          }
          const key = decision.key!;
          const running = runStage(stage, key, describeReason(decision.reason, stage.op)).finally(() => {
            inFlight.delete(stage.id);
            byKey.delete(key);
          });
          inFlight.set(stage.id, running);
          byKey.set(key, running);
          // In-process stages run one at a time in this loop; tensor stages go to the pool.
          if (!IMPLEMENTATIONS.get(stage.op)!.engine) await running;
        }
        if (!progressed && inFlight.size > 0) await Promise.race(inFlight.values());
        else if (!progressed) break;
      }
    } finally {
      pool.close();
      decider.save();
    }
    onEvent({ type: "summary", ...counts, seconds: (performance.now() - started) / 1000 });
    return counts;
  })();

  return {
    done,
    abort() {
      aborted = true;
      pool.kill();
    },
  };
}
