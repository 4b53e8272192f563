// One run of a pipeline's stages, the same for `lth run` and the API's `Experiment.run`: take
// the store's lock, clear what a killed run left in `tmp/`, show events (stage lines and a
// progress bar, JSON lines, or nothing), execute, and release the lock. SIGINT and SIGTERM
// stop the run at once: workers are killed, the display is closed, the lock is released, and
// finished stages stay cached. Nothing here ends the process or sets its exit status: the
// caller decides from what this returns.

import type { Stage, StageGraph } from "../../compiler/stage.js";
import type { OpResources } from "../../dsl/check/resources.js";
import type { BackendChoice } from "../engine/backend.js";
import type { Store } from "../store/store.js";
import { createReporter } from "../ui/progress.js";
import { showEvent } from "../ui/run-events.js";
import { availableParallelism } from "node:os";
import type { Executor } from "./executor.js";
import { LocalExecutor } from "./local.js";
import { SlurmExecutor, type JobResources, type SlurmSite } from "./slurm.js";
import { execute, type Counts, type Execution, type RunEvent } from "./scheduler.js";

/** Where tensor stages run: local worker processes (the default), or SLURM batch jobs. */
export type ExecutorChoice =
  | { readonly kind: "local" }
  | {
      readonly kind: "slurm";
      readonly site: SlurmSite;
      /** CPUs (and native's threads) each job asks for; default: this machine's cores, what one local worker would use. */
      readonly cpus?: number;
      /** Seconds between queue reads, first and at most (default 1 and 30). */
      readonly poll?: { readonly first: number; readonly max: number };
      /** Seconds a job may be gone from the queue without its exit marker before it is lost (default 30). */
      readonly grace?: number;
    };

/**
 * What a SLURM job for an op asks for: the file's `resources` block for the op, else the
 * run's `--cpus` (else this machine's cores, what one local worker would use: native's
 * threads there); GPUs, memory and time only where the block gives them (else the site's
 * defaults).
 */
export function jobResources(choice: Extract<ExecutorChoice, { kind: "slurm" }>, block: OpResources | undefined): JobResources {
  return {
    cpus: block?.cpus ?? choice.cpus ?? availableParallelism(),
    ...(block?.gpus ? { gpus: block.gpus } : {}),
    ...(block?.memMiB ? { memMiB: block.memMiB } : {}),
    ...(block?.minutes ? { minutes: block.minutes } : {}),
  };
}

export interface RunOptions {
  readonly store: Store;
  readonly executor?: ExecutorChoice;
  /** Worker processes at most. */
  readonly jobs: number;
  readonly backend: BackendChoice;
  /** Stage lines and a live progress bar on stdout; one JSON object a line through `json` (progress only at its ends); or nothing. */
  readonly show: "lines" | "quiet" | { readonly json: (line: string) => void };
  /** Sees every event, before it is shown. */
  readonly onEvent?: (e: RunEvent) => void;
  /** Says the run's own messages: waiting for the lock, stopped by a signal. */
  readonly say: (message: string) => void;
}

/** The counts of a run that ended, or the signal that stopped it (the lock is released by then). */
export type RunResult = { readonly counts: Counts } | { readonly stopped: NodeJS.Signals };

export async function runStages(graph: StageGraph, stages: readonly Stage[], options: RunOptions): Promise<RunResult> {
  const { store, show, say } = options;
  const release = await store.lock(say);
  const reporter = show === "lines" ? createReporter(process.stdout) : undefined;
  let execution: Execution | undefined;
  let stoppedBy: NodeJS.Signals | undefined;
  let resolveStopped: (result: RunResult) => void = () => undefined;
  const stopped = new Promise<RunResult>((resolve) => (resolveStopped = resolve));
  const stop = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    execution?.abort();
    reporter?.close();
    say(`stopped by ${signal}; finished stages stay cached`);
    // A release that fails does not hold up the stop (`lth run` then exits, and the next run takes over a dead holder's lock).
    void release()
      .catch(() => undefined)
      .then(() => resolveStopped({ stopped: signal }));
  };
  try {
    store.clearTemp();
    const onEvent = (e: RunEvent) => {
      options.onEvent?.(e);
      if (typeof show === "object") {
        if (e.type !== "progress" || e.final) show.json(JSON.stringify(e));
      } else if (reporter) showEvent(reporter, e);
    };
    const choice = options.executor ?? { kind: "local" };
    const executor: Executor =
      choice.kind === "slurm"
        ? new SlurmExecutor({
            store,
            backend: options.backend,
            site: choice.site,
            resources: (task) => jobResources(choice, graph.resources.get(task.op)),
            onEvent,
            ...(choice.poll ? { poll: choice.poll } : {}),
            ...(choice.grace !== undefined ? { grace: choice.grace } : {}),
          })
        : new LocalExecutor({ store, jobs: options.jobs, backend: options.backend, onEvent });
    execution = execute(graph, stages, { store, executor, onEvent });
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
    // Once stopped, how the execution ends no longer matters: the result is the signal.
    const ended = execution.done.then(
      (counts): RunResult | Promise<RunResult> => (stoppedBy ? stopped : { counts }),
      (e: unknown) => (stoppedBy ? stopped : Promise.reject(e)),
    );
    return await Promise.race([ended, stopped]);
  } finally {
    reporter?.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    if (!stoppedBy) await release();
  }
}
