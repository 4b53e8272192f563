// How a call becomes a stage, shared by the compiler and the TypeScript API: parameters
// normalised (every default applied, units normalised), inputs by stage, path parameters
// resolved, identical calls made one stage. Both therefore produce the same stage keys.

import type { OpResources } from "../dsl/check/resources.js";
import { DirectedGraph } from "graphology";
import { dirname, resolve as resolvePath } from "node:path";
import type { DurationUnit } from "../dsl/ast.js";
import type { DefaultValue, OpDecl, ParamDecl } from "../dsl/ops.js";
import type { Range } from "../dsl/source.js";
import type { Value } from "../dsl/types.js";
import type { CompiledValue, ParamValue, ReportSpec, ResultKind, Stage, StageGraph, StageId } from "./stage.js";

/** Where a call is written: its file (the base of relative paths) and its range there. */
export interface CallSite {
  readonly file: string;
  readonly range: Range;
}

/** A value of the program that no stage can hold: an expected failure, with its place. */
export class CompileError extends Error {
  constructor(
    readonly file: string,
    readonly range: { readonly start: number; readonly end: number },
    message: string,
  ) {
    super(message);
  }
}

export function duration(count: number, unit: DurationUnit): ParamValue {
  return count === 0 ? { steps: 0 } : { [unit]: count };
}

/** A checker `Value` (an op's default) as a stage parameter: `20%` is 0.2. */
export function normalise(v: Value): ParamValue {
  switch (v.kind) {
    case "Percent":
      return v.value / 100;
    case "Duration":
      return duration(v.count, v.unit);
    case "List":
      return v.items.map(normalise);
    default:
      return v.value;
  }
}

/** An op's own default: a constant, or the value given for another parameter (`output_rate = rate`). */
export function defaultValue(d: DefaultValue, valueOf: (param: string) => CompiledValue): CompiledValue {
  return d.kind === "Param" ? valueOf(d.name) : { kind: "static", value: normalise(d) };
}

/** Every parameter of `op` that has a value: the given ones, then the op's defaults. */
export function withDefaults(op: OpDecl, given: ReadonlyMap<string, CompiledValue>): Map<string, CompiledValue> {
  const values = new Map<string, CompiledValue>();
  const valueOf = (param: string): CompiledValue => {
    const known = values.get(param) ?? given.get(param);
    if (known) return known;
    const decl = op.params.find((p) => p.name === param)!;
    return defaultValue(decl.default!, valueOf);
  };
  for (const p of op.params) if (given.has(p.name) || p.default) values.set(p.name, valueOf(p.name));
  return values;
}

export function staticValue(value: CompiledValue, site: CallSite): ParamValue {
  if (value.kind === "static") return value.value;
  if (value.kind === "list") return value.items.map((item) => staticValue(item, site));
  throw new CompileError(site.file, site.range, "a value computed by a stage cannot stand inside a list argument");
}

/**
 * An architecture is a description, not a computation: it becomes a parameter of the
 * `init` that uses it. `lenet_300_100()` is `mlp(hidden: [300, 100])`, so both share stages.
 */
export function architecture(op: OpDecl, args: ReadonlyMap<string, CompiledValue>, site: CallSite): ParamValue {
  if (op.name === "lenet_300_100") return { arch: "mlp", hidden: [300, 100] };
  const spec: Record<string, ParamValue> = { arch: op.name };
  for (const [param, value] of args) spec[param] = staticValue(value, site);
  return spec;
}

export function lastOf(xs: CompiledValue, site: CallSite): CompiledValue {
  if (xs.kind !== "list" || xs.items.length === 0) throw new CompileError(site.file, site.range, "last() needs a non-empty list");
  return xs.items[xs.items.length - 1]!;
}

/** Whether a static argument equals its parameter's default (after normalisation). */
function atDefault(decl: ParamDecl, value: CompiledValue, args: ReadonlyMap<string, CompiledValue>): boolean {
  if (!decl.default || value.kind !== "static") return false;
  const fallback = decl.default.kind === "Param" ? args.get(decl.default.name) : { kind: "static" as const, value: normalise(decl.default) };
  return fallback?.kind === "static" && JSON.stringify(fallback.value) === JSON.stringify(value.value);
}

/** What makes two calls one stage: the same op, version, parameters, inputs and files. */
function signatureOf(s: Pick<Stage, "op" | "version" | "params" | "inputs" | "files">): string {
  return JSON.stringify([s.op, s.version, s.params, s.inputs, s.files]);
}

export class StageBuilder {
  readonly graph = new DirectedGraph<Stage>();
  /** Identical calls (same op, parameters and inputs) share one stage. */
  private readonly bySignature = new Map<string, StageId>();

  /** The stage for a call whose every parameter has a value; `name` is what it is called. */
  add(op: OpDecl, args: ReadonlyMap<string, CompiledValue>, site: CallSite, name: string): StageId {
    const params: Record<string, ParamValue> = {};
    const inputs: Record<string, StageId> = {};
    const files: Record<string, string> = {};
    for (const decl of op.params) {
      const value = args.get(decl.name);
      if (!value) continue;
      if (decl.addedLater && atDefault(decl, value, args)) continue;
      if (value.kind === "stage") inputs[decl.name] = value.stage;
      else if (decl.unit === "path") files[decl.name] = resolvePath(dirname(site.file), staticValue(value, site) as string);
      else params[decl.name] = staticValue(value, site);
    }
    const signature = signatureOf({ op: op.name, version: op.version, params, inputs, files });
    const existing = this.bySignature.get(signature);
    if (existing) {
      this.graph.updateNodeAttribute(existing, "names", (names = []) => (names.includes(name) ? names : [...names, name]));
      return existing;
    }
    const id = this.uniqueId(name);
    const stage: Stage = {
      id,
      op: op.name,
      version: op.version,
      params,
      inputs,
      files,
      result: op.result.kind as ResultKind,
      // The id, not the wanted name: `q/prune#2` must be findable by what `plan` prints.
      names: [id],
      source: site,
    };
    this.graph.addNode(id, stage);
    for (const input of new Set(Object.values(inputs))) this.graph.addEdge(input, id);
    this.bySignature.set(signature, id);
    return id;
  }

  /** How many stages the builder holds: a mark for `renameSince`. */
  get size(): number {
    return this.graph.order;
  }

  /**
   * Gives the stages made since `mark` (their ids in the order they were made) the names
   * `rename` picks, as the compiler names a binding's stages (`dense`, `dense/prune`); stages
   * that read them follow. Returns the old id → new id map. (The API's `named`: a script's
   * calls make their inner stages first, so a statement's names are known only at its end.)
   */
  renameSince(mark: number, rename: (stage: Stage) => string): Map<StageId, StageId> {
    const fresh = this.graph.nodes().slice(mark).map((id) => this.graph.getNodeAttributes(id));
    const renamed = new Map<StageId, StageId>();
    if (fresh.length === 0) return renamed;
    for (const stage of fresh) {
      this.bySignature.delete(signatureOf(stage));
      this.graph.dropNode(stage.id);
    }
    for (const stage of fresh) {
      const id = this.uniqueId(rename(stage));
      renamed.set(stage.id, id);
      const inputs = Object.fromEntries(Object.entries(stage.inputs).map(([k, v]) => [k, renamed.get(v) ?? v]));
      const moved: Stage = { ...stage, id, inputs, names: [id] };
      this.graph.addNode(id, moved);
      for (const input of new Set(Object.values(inputs))) this.graph.addEdge(input, id);
      this.bySignature.set(signatureOf(moved), id);
    }
    return renamed;
  }

  private uniqueId(name: string): StageId {
    let id = name;
    for (let n = 2; this.graph.hasNode(id); n++) id = `${name}#${n}`;
    return id as StageId;
  }
}

/**
 * The one constructor of a `StageGraph`: the stages a builder made, the file they come from
 * (the base of the store's default place and of the run record), what the file's top-level
 * bindings denote, and its report blocks. `compile` and the API's `Experiment` both make
 * their graphs here.
 */
export function stageGraph(
  stages: StageBuilder,
  file: string,
  bindings: ReadonlyMap<string, CompiledValue> = new Map(),
  reports: readonly ReportSpec[] = [],
  resources: ReadonlyMap<string, OpResources> = new Map(),
): StageGraph {
  // The brand exists only in types: this is the one place that grants it.
  return { file, graph: stages.graph, bindings, reports, resources } as StageGraph;
}
