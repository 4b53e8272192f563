// Where tensor stages run. The scheduler (scheduler.ts) decides what runs when; an executor
// runs each task it is handed and says how it went. A task (task.ts) is self-contained: key,
// op, parameters, input artifacts by digest and file paths, so anything that can read and
// write the store can run it: local worker processes (local.ts), or batch jobs on a cluster
// sharing the store.

import type { TrainingProgress } from "../ui/progress.js";
import type { ArtifactRef } from "../store/store.js";
import type { StageTask } from "./task.js";
import type { WorkerHealth } from "./worker.js";

/** How a task ended. The executor writes the output object; the scheduler writes the index entry. */
export type TaskOutcome =
  | {
      readonly ok: true;
      /** The output, already in the store. */
      readonly ref: ArtifactRef;
      readonly seconds: number;
      /** The tensor backend it ran on (recorded with the result). */
      readonly backend: string | null;
      /** A local worker's live tensors and resident memory afterwards, where there is one. */
      readonly health?: WorkerHealth;
      /** The batch job that ran it, where one did (SLURM's job id). */
      readonly job?: string;
    }
  | {
      readonly ok: false;
      /** Why, in one line for people. */
      readonly message: string;
      readonly seconds: number;
      /** The same key would fail the same way (bad data, a NaN loss), not a dead worker or a full disk (store/FailureRecord). */
      readonly repeats: boolean;
      /** The backend chosen so far, if any: the failure record names it. */
      readonly backend: string | null;
      readonly job?: string;
    };

/** What an executor says about the whole run, once: the backend its tasks will use, and why. */
export type ExecutorEvent =
  | { readonly type: "backend"; readonly backend: string; readonly why: string }
  /** A batch job's state changed: submitted, attached (to a job an earlier run submitted), pending, running, resubmitted. */
  | {
      readonly type: "job";
      readonly id: string;
      readonly job: string;
      readonly state: string;
      /** The run's jobs at this moment: waiting in the queue, running, and finished (either way). */
      readonly jobs: { readonly queued: number; readonly running: number; readonly done: number };
    };

/** What the scheduler hears about one task while it runs. */
export interface TaskHooks {
  /** The task has begun (it may first wait for a free place): the stage's `start` event. */
  started(): void;
  /** The op's training progress, as it reports it. */
  progress(p: TrainingProgress): void;
}

export interface Executor {
  /**
   * How many tasks it runs at once. The scheduler hands over every task as soon as its
   * inputs are known; beyond this many, the executor keeps them waiting until one ends.
   */
  readonly capacity: number;
  /**
   * Gets ready to run, so that the `backend` event comes before the first stage starts.
   * Called once, when the plan already shows a tensor stage to run; never required.
   */
  warm(): Promise<void>;
  /**
   * Runs one task, writing its output object to the store. Resolves, never rejects: a task
   * that cannot run (no backend, a dead worker, a job that vanished) is a failed outcome.
   */
  run(task: StageTask, hooks: TaskHooks): Promise<TaskOutcome>;
  /** The run is over: no more tasks will come. Let go of what it holds (local workers exit). */
  close(): void;
  /** Stops at once (SIGINT, SIGTERM): tasks in flight are killed; their outcomes no longer count. */
  cancel(): void;
}
