// What an op implementation sees: its normalised parameters, its input artifacts and
// files, and a channel for progress. Nothing else, so a stage can run anywhere.

import type { ParamValue, Stage } from "../../compiler/stage.js";
import type { Artifact } from "../artifacts.js";
import type { NetValue } from "../core/net.js";
import type { DatasetValue } from "../core/dataset.js";
import type { TrainingProgress } from "../engine/progress.js";
import { DataFileError } from "../data/idx.js";
import type { Duration } from "../core/duration.js";
import type { Engine } from "../engine/backend.js";
import { OpFailure } from "../core/errors.js";
import { SafetensorsError } from "../store/safetensors.js";
import { DamagedArtifact, StoreWriteError } from "../store/store.js";

export interface OpContext {
  /** The stage's id, for progress reports. */
  readonly stage: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly inputs: Readonly<Record<string, Artifact>>;
  /** Path parameters, absolute. */
  readonly files: Readonly<Record<string, string>>;
  progress(p: TrainingProgress): void;
}


/**
 * How an op that computes something is run: what `plan` needs to know before (its engine,
 * shipped data, files, impossible parameters) and the run itself. Each method module exports
 * its ops' implementations (`implementations`); `ops/index.ts` gathers them with the data ops.
 */
export interface OpImpl {
  /** Needs the tensor engine, so it runs in a worker process that has loaded one (for some ops, only with some parameters). */
  readonly engine: boolean | ((params: Stage["params"]) => boolean);
  /** Content digests of data the package ships that the op reads; part of the stage key. */
  sources?(): Record<string, string>;
  /** The files the op reads, by name, when a path parameter names a folder; their contents are in the key. */
  reads?(stage: Stage): Record<string, string>;
  /** A problem that makes the stage impossible, found before anything runs. */
  validate?(stage: Stage): string | undefined;
  run(ctx: OpContext, engine: Engine | undefined): Artifact | Promise<Artifact>;
}

/** A module's ops by name. */
export type OpImplementations = Readonly<Record<string, OpImpl>>;

/** The run of an op on the tensor engine: the engine the stage was given (a stage without one is a bug in the executor). */
export function onEngine(run: (ctx: OpContext, engine: Engine) => Artifact | Promise<Artifact>): OpImpl["run"] {
  return (ctx, engine) => {
    if (!engine) throw new Error(`internal: ${ctx.stage} ran without a tensor engine`);
    return run(ctx, engine);
  };
}

/** Expected failures are their message alone; anything else is a bug, so keep where it came from. */
export function failureMessage(e: unknown): string {
  if (e instanceof OpFailure || e instanceof DamagedArtifact || e instanceof StoreWriteError || e instanceof DataFileError || e instanceof SafetensorsError) return e.message;
  // Memory that could not be had is the size of the job, not a bug: say so without a stack.
  if (e instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation|Invalid array length/.test(e.message)) {
    return `out of memory: ${e.message}; make the data or the net smaller`;
  }
  // A system call that failed (a file that cannot be read) says what and where; its stack adds nothing.
  if (e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === "string") return e.message;
  if (e instanceof Error) return `${e.message}\n${e.stack?.split("\n").slice(1, 4).join("\n") ?? ""}`;
  return String(e);
}

/**
 * Whether the same stage would fail the same way again: what its inputs and parameters
 * decide does (bad data, a NaN loss, a bug); what the machine decides may not (a full or
 * read-only disk, memory, a damaged input that the store recomputes, a failed system call).
 */
export function failureRepeats(e: unknown): boolean {
  if (e instanceof StoreWriteError || e instanceof DamagedArtifact) return false;
  if (e instanceof RangeError && /allocation failed|Invalid typed array length|Array buffer allocation|Invalid array length/.test(e.message)) return false;
  if (e instanceof Error && typeof (e as NodeJS.ErrnoException).syscall === "string") return false;
  return true;
}

export function num(ctx: OpContext, name: string): number {
  const v = ctx.params[name] ?? (ctx.inputs[name]?.kind === "Number" ? ctx.inputs[name].value : undefined);
  if (typeof v !== "number") throw new Error(`internal: parameter '${name}' of ${ctx.stage} is not a number`);
  return v;
}

export function str(ctx: OpContext, name: string): string {
  const v = ctx.params[name];
  if (typeof v !== "string") throw new Error(`internal: parameter '${name}' of ${ctx.stage} is not a string`);
  return v;
}

export function netInput(ctx: OpContext, name: string): NetValue {
  const a = ctx.inputs[name];
  if (a?.kind !== "Net") throw new Error(`internal: input '${name}' of ${ctx.stage} is not a net`);
  return a.net;
}

export function datasetInput(ctx: OpContext, name: string): DatasetValue {
  const a = ctx.inputs[name];
  if (a?.kind !== "Dataset") throw new Error(`internal: input '${name}' of ${ctx.stage} is not a dataset`);
  return a.dataset;
}

/** A duration parameter: `{ epochs: n }` or `{ steps: n }`. */
export function durationParam(ctx: OpContext, name: string): Duration {
  const v = ctx.params[name] as Record<string, number> | undefined;
  if (v && typeof v["epochs"] === "number") return { epochs: v["epochs"] };
  if (v && typeof v["steps"] === "number") return { steps: v["steps"] };
  throw new Error(`internal: parameter '${name}' of ${ctx.stage} is not a duration`);
}
