// The compiler's output: stages (one op call each, with normalised parameters) in a
// graphology DAG, and what each binding of the file denotes in terms of stages.

import type { OpResources } from "../dsl/check/resources.js";
import type { DirectedGraph } from "graphology";
import type { Range } from "../dsl/source.js";

declare const stageIdBrand: unique symbol;
/** A stage's place in the program, for people: `dense`, `rounds[2].pruned`, `control/reinit`. */
export type StageId = string & { readonly [stageIdBrand]: true };

/**
 * A parameter as it enters a stage key: plain JSON with every unit normalised. Percents
 * are fractions (`20%` is 0.2), durations `{ "epochs": n }` or `{ "steps": n }` (a zero
 * duration is `{ "steps": 0 }` whatever its unit), architectures `{ "arch": … }`.
 */
export type ParamValue = number | string | boolean | readonly ParamValue[] | { readonly [key: string]: ParamValue };

/** The kinds of value a stage computes, one artifact each. */
export type ResultKind = "Dataset" | "Net" | "Metrics" | "Number";

export interface Stage {
  readonly id: StageId;
  readonly op: string;
  readonly version: number;
  /** Every parameter known from the text, with every default applied and units normalised. */
  readonly params: Readonly<Record<string, ParamValue>>;
  /** Parameters whose value another stage computes. */
  readonly inputs: Readonly<Record<string, StageId>>;
  /** Path parameters, resolved against the `.lth` file that wrote them. */
  readonly files: Readonly<Record<string, string>>;
  readonly result: ResultKind;
  /** Every binding path that denotes this stage (identical calls share one stage). */
  readonly names: readonly string[];
  /** The call this stage comes from: its file and range. */
  readonly source: { readonly file: string; readonly range: Range };
}

/** What an expression denotes once compiled. */
export type CompiledValue =
  | { readonly kind: "static"; readonly value: ParamValue }
  | { readonly kind: "stage"; readonly stage: StageId }
  /** `replicates`: made by a `replicate` block, whose items `show` and `report` aggregate. */
  | { readonly kind: "list"; readonly items: readonly CompiledValue[]; readonly replicates?: true };

export interface ReportSpec {
  readonly title?: string;
  readonly names: readonly string[];
}

declare const compiledBrand: unique symbol;

/**
 * A checked program as stages. Only `stageGraph` (stages.ts) makes one, from a `StageBuilder`,
 * as `compile` and the API do, so only stages built the compiler's way run.
 */
export interface StageGraph {
  readonly [compiledBrand]: true;
  /** The root `.lth` file. */
  readonly file: string;
  readonly graph: DirectedGraph<Stage>;
  /** The root file's top-level bindings. */
  readonly bindings: ReadonlyMap<string, CompiledValue>;
  readonly reports: readonly ReportSpec[];
  /** The root file's `resources` blocks by op (what SLURM jobs ask for); never part of a key. */
  readonly resources: ReadonlyMap<string, OpResources>;
}

export function stage(graph: StageGraph, id: StageId): Stage {
  return graph.graph.getNodeAttributes(id);
}

/** Every stage a value needs, itself included, in no particular order. */
export function stagesOf(value: CompiledValue): StageId[] {
  switch (value.kind) {
    case "static":
      return [];
    case "stage":
      return [value.stage];
    case "list":
      return value.items.flatMap(stagesOf);
  }
}
