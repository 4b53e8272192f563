// The scheduler: brings stages up to date in dependency order, each as soon as its inputs
// exist. Stages that need no tensor engine run here, one at a time; tensor stages go to an
// `Executor` (executor.ts), which runs as many at once as it can. A stage that reruns and
// produces the same bytes leaves its dependants' keys unchanged, so they stay cached (early cutoff).

import type { Stage, StageGraph, StageId } from "../../compiler/stage.js";
import { failureMessage, failureRepeats } from "../ops/context.js";
import { needsEngine } from "../ops/index.js";
import { Decider, describeReason, plan } from "../plan.js";
import type { TrainingProgress } from "../ui/progress.js";
import type { ArtifactRef, StageKey, Store } from "../store/store.js";
import type { Executor, ExecutorEvent, TaskOutcome } from "./executor.js";
import { runTask, type StageTask } from "./task.js";
import type { WorkerHealth } from "./worker.js";

export type RunEvent =
  | ExecutorEvent
  | { readonly type: "start"; readonly id: StageId; readonly op: string; readonly key: StageKey; readonly reason: string }
  | ({ readonly type: "progress" } & TrainingProgress)
  | {
      readonly type: "stage";
      readonly id: StageId;
      readonly op: string;
      readonly key: StageKey | null;
      /** `failed` with `blocked: true`: not run because an input failed. */
      readonly status: "cached" | "ran" | "failed";
      readonly blocked?: true;
      readonly seconds: number;
      readonly output?: string;
      readonly backend?: string | null;
      /** For a stage run in a worker: that worker's live tensors and resident memory afterwards. */
      readonly worker?: WorkerHealth;
      /** For a stage run as a batch job: its job id. */
      readonly job?: string;
      readonly message?: string;
    }
  /** Something went wrong that costs no result (the plan's memory of this run was not saved). */
  | { readonly type: "warning"; readonly message: string }
  | { readonly type: "summary"; readonly ran: number; readonly cached: number; readonly failed: number; readonly blocked: number; readonly seconds: number };

export interface ExecuteOptions {
  readonly store: Store;
  /** Where tensor stages run; the scheduler closes it when the run ends and cancels it on abort. */
  readonly executor: Executor;
  readonly onEvent: (e: RunEvent) => void;
}

export interface Counts {
  readonly ran: number;
  readonly cached: number;
  /** Stages that failed, and stages not run because an input failed (`blocked`). */
  readonly failed: number;
  readonly blocked: number;
}

export interface Execution {
  readonly done: Promise<Counts>;
  /** Stops at once: the executor's tasks are killed; finished stages stay cached. */
  abort(): void;
}

export function execute(graph: StageGraph, stages: readonly Stage[], options: ExecuteOptions): Execution {
  const { store, executor, onEvent } = options;
  const decider = new Decider(graph, store);
  const counts = { ran: 0, cached: 0, failed: 0, blocked: 0 };
  const failed = new Set<StageId>();
  const started = performance.now();
  let aborted = false;

  type StageEvent = Extract<RunEvent, { type: "stage" }>;
  const finish = (stage: Stage, status: StageEvent["status"], fields: Partial<StageEvent> = {}) => {
    counts[status]++;
    if (fields.blocked) counts.blocked++;
    if (status === "failed") failed.add(stage.id);
    onEvent({ type: "stage", id: stage.id, op: stage.op, key: null, seconds: 0, status, ...fields });
  };

  /** Remembers why a key failed, so plan and show can say it; losing that costs no result. */
  function recordFailure(stage: Stage, key: StageKey, message: string, repeats: boolean, backend: string | null): void {
    try {
      store.putFailure({ key, op: stage.op, version: stage.version, message, repeats, backend: needsEngine(stage) ? backend : null, failedAt: new Date().toISOString() });
    } catch (e) {
      onEvent({ type: "warning", message: `the failure of ${stage.id} was not recorded for plan and show: ${failureMessage(e)}` });
    }
  }

  async function runStage(stage: Stage, key: StageKey, reason: string): Promise<void> {
    const inputs: Record<string, { ref: ArtifactRef; kind: Stage["result"] }> = {};
    for (const [param, id] of Object.entries(stage.inputs)) inputs[param] = { ref: decider.outputs.get(id)!, kind: graph.graph.getNodeAttribute(id, "result") };
    const task: StageTask = { id: stage.id, op: stage.op, key, result: stage.result, params: stage.params, inputs, files: stage.files };
    const onStart = () => onEvent({ type: "start", id: stage.id, op: stage.op, key, reason });
    const progress = (p: TrainingProgress) => onEvent({ type: "progress", ...p });
    let outcome: TaskOutcome;
    if (needsEngine(stage)) outcome = await executor.run(task, { started: onStart, progress });
    else {
      onStart();
      const t0 = performance.now();
      try {
        outcome = { ok: true, ref: await runTask(task, store, undefined, progress), seconds: (performance.now() - t0) / 1000, backend: null };
      } catch (e) {
        outcome = { ok: false, message: failureMessage(e), seconds: (performance.now() - t0) / 1000, repeats: failureRepeats(e), backend: null };
      }
    }
    if (aborted) return;
    if (outcome.ok) {
      try {
        // The index entry is written last: only now does the stage count as done.
        store.putRecord({ key, op: stage.op, version: stage.version, output: outcome.ref, backend: outcome.backend, seconds: outcome.seconds, finishedAt: new Date().toISOString() });
      } catch (e) {
        outcome = { ok: false, message: `could not record the result in the store: ${failureMessage(e)}`, seconds: outcome.seconds, repeats: false, backend: outcome.backend };
      }
    }
    if (!outcome.ok) {
      recordFailure(stage, key, outcome.message, outcome.repeats, outcome.backend);
      return finish(stage, "failed", { key, seconds: outcome.seconds, message: outcome.message, ...(outcome.job ? { job: outcome.job } : {}) });
    }
    store.deleteFailure(key);
    decider.outputs.set(stage.id, outcome.ref);
    finish(stage, "ran", { key, seconds: outcome.seconds, output: outcome.ref.digest, backend: outcome.backend, ...(outcome.health ? { worker: outcome.health } : {}), ...(outcome.job ? { job: outcome.job } : {}) });
  }

  const done = (async () => {
    const waiting = new Set(stages.map((s) => s.id));
    const inFlight = new Map<StageId, Promise<void>>();
    const byKey = new Map<StageKey, Promise<void>>();
    try {
      // Nothing else writes the store while the lock is held, so what the plan finds cached stays so.
      const planned = new Map(plan(graph, store, stages, decider).map((p) => [p.stage.id, p.decision]));
      if (stages.some((s) => planned.get(s.id)?.status === "run" && needsEngine(s))) await executor.warm();
      while (!aborted && (waiting.size > 0 || inFlight.size > 0)) {
        let progressed = false;
        for (const stage of stages) {
          if (!waiting.has(stage.id)) continue;
          const inputs = Object.values(stage.inputs);
          const failedInputs = inputs.filter((id) => failed.has(id));
          if (failedInputs.length) {
            waiting.delete(stage.id);
            finish(stage, "failed", { blocked: true, message: `not run: an input failed (${failedInputs.join(", ")})` });
            progressed = true;
            continue;
          }
          let decision = planned.get(stage.id);
          if (decision?.status !== "cached") {
            let f;
            try {
              f = decider.fingerprint(stage);
            } catch (e) {
              waiting.delete(stage.id);
              finish(stage, "failed", { message: failureMessage(e) });
              progressed = true;
              continue;
            }
            if (!f) continue;
            decision = decider.decide(stage, f);
            // An identical stage is computing this key: its result will serve both.
            if (decision.status === "run" && byKey.has(decision.key!)) continue;
          }
          waiting.delete(stage.id);
          progressed = true;
          if (decision.status === "cached") {
            decider.outputs.set(stage.id, decision.output);
            finish(stage, "cached", { key: decision.key, output: decision.output.digest, backend: decision.record.backend });
            continue;
          }
          const key = decision.key!;
          const running = runStage(stage, key, describeReason(decision.reason, stage.op)).finally(() => {
            inFlight.delete(stage.id);
            byKey.delete(key);
          });
          inFlight.set(stage.id, running);
          byKey.set(key, running);
          // In-process stages run one at a time in this loop; tensor stages go to the executor.
          if (!needsEngine(stage)) await running;
        }
        if (!progressed && inFlight.size > 0) await Promise.race(inFlight.values());
        else if (!progressed) break;
      }
    } finally {
      executor.close();
      try {
        decider.save();
      } catch (e) {
        // Only `plan`'s reasons depend on it: the next plan says "new" where it would have said what changed.
        onEvent({ type: "warning", message: `this run's fingerprints were not saved for the next plan: ${failureMessage(e)}` });
      }
    }
    onEvent({ type: "summary", ...counts, seconds: (performance.now() - started) / 1000 });
    return counts;
  })();

  return {
    done,
    abort() {
      aborted = true;
      executor.cancel();
    },
  };
}
