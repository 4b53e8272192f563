// The values a script handles: stages' results by reference (a `Net` is the stage that will
// compute it), architectures as descriptions, and quantities with their units.

import type { ParamValue, StageId } from "../../compiler/stage.js";

declare const resultBrand: unique symbol;

/** A stage's result, to be computed by `run()`. */
export interface Result<K extends string> {
  readonly [resultBrand]: K;
  readonly stage: StageId;
}

export type Dataset = Result<"Dataset">;
export type Net = Result<"Net">;
export type Metrics = Result<"Metrics">;
/** A number a stage computes (`mask_distance`). */
export type Num = Result<"Number">;

declare const archBrand: unique symbol;
/** An architecture: a description `init` builds a net from. */
export interface Arch {
  readonly [archBrand]: true;
  readonly arch: ParamValue;
}

/** `percent(20)` is the `.lth` literal `20%`. */
export interface Percent {
  readonly percent: number;
}

/** `epochs(5)` is `5 epochs`, `steps(500)` is `500 steps`. */
export type Duration = { readonly epochs: number } | { readonly steps: number };

export function percent(value: number): Percent {
  return { percent: value };
}

export function epochs(count: number): Duration {
  return { epochs: count };
}

export function steps(count: number): Duration {
  return { steps: count };
}

/** The result the stage `stage` will compute. */
export function resultOf<K extends string>(stage: StageId): Result<K> {
  // The brand exists only in types: a result is its stage.
  return { stage } as Result<K>;
}

/** An architecture, as the description `init` takes. */
export function archOf(arch: ParamValue): Arch {
  return { arch } as Arch;
}

export function isResult(v: unknown): v is Result<string> {
  return typeof v === "object" && v !== null && "stage" in v && typeof (v as { stage: unknown }).stage === "string";
}

export function isArch(v: unknown): v is Arch {
  return typeof v === "object" && v !== null && "arch" in v;
}
