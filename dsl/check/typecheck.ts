// Types, units and ranges (LANGUAGE.md, Types): every argument against its parameter,
// before anything runs. Each expression is typed once; a value already reported as wrong
// types as Unknown, so one mistake is one diagnostic.

import { MEMORY_UNITS } from "./resources.js";
import type * as A from "../ast.js";
import { error, warning, type Diagnostic } from "../diagnostics.js";
import { lookupOp, type Bounds, type OpDecl, type ParamDecl } from "../ops.js";
import type { Range } from "../source.js";
import {
  aType,
  assignable,
  Empty,
  Int,
  enumOf,
  join,
  listOf,
  magnitude,
  showType,
  showValue,
  substitute,
  Unknown,
  type Bindings,
  type Type,
  type Value,
} from "../types.js";
import { dataFileProblem, type DataFileHost } from "./data-files.js";
import { Lineages, surelyDifferent } from "./lineage.js";
import type { Module } from "./program.js";
import type { ArgSource, Binding, LetBinding, Resolution, ResolvedCall } from "./resolve.js";

/** What the checker knows about an expression before anything runs. */
export interface ExprInfo {
  readonly type: Type;
  /** The value, when the text fixes it (a literal, a name bound to one). */
  readonly value?: Value;
  /** The length of a list whose length the text fixes (`repeat 5`, `[a, b]`). */
  readonly length?: number;
  /** A problem with this value was already reported; checks that would repeat it are skipped. */
  readonly reported?: boolean;
}

const UNKNOWN: ExprInfo = { type: Unknown, reported: true };

/** The largest number of rounds a `repeat` may unroll into. */
export const MAX_REPEAT = 10_000;

export class TypeChecker {
  readonly info = new Map<A.Expr, ExprInfo>();
  private lineages: Lineages | undefined;
  private readonly bindingInfo = new Map<Binding, ExprInfo>();
  private readonly inProgress = new Set<Binding>();
  /** The checked value of each `defaults` entry. */
  private readonly defaultsInfo = new Map<A.Arg, ExprInfo>();
  private module!: Module;

  constructor(
    private readonly resolution: Resolution,
    private readonly diagnostics: Diagnostic[],
    /** Where to look at the data files that calls name; without it they are not looked at. */
    private readonly dataFiles?: DataFileHost,
  ) {}

  run(modules: readonly Module[]): void {
    // Dependencies first, so typing one binding never recurses down a long chain of others.
    // Block lets wait for their block: their loop variable's type comes from it.
    for (const binding of this.resolution.order) if (!binding.block) this.checkBinding(binding);
    // `defaults` entries that no call used are checked all the same.
    for (const module of modules) {
      for (const [opName, entries] of this.resolution.defaults.get(module) ?? []) {
        const op = lookupOp(opName)!;
        for (const [paramName, entry] of entries) this.defaultsEntry(module, entry, op.params.find((p) => p.name === paramName)!);
      }
    }
  }

  private report(range: Range, code: Diagnostic["code"], message: string): void {
    this.diagnostics.push(error(this.module.source, range, code, message));
  }

  /** A `defaults` entry, checked against its parameter once, when first needed. */
  private defaultsEntry(module: Module, entry: A.Arg, param: ParamDecl): ExprInfo {
    const known = this.defaultsInfo.get(entry);
    if (known) return known;
    const info = this.within(module, () => this.argument(entry.value, param, new Map()));
    this.defaultsInfo.set(entry, info);
    return info;
  }

  /**
   * Checks a `let`. One in a cycle has no type, but its expression is still checked, so
   * mistakes inside it are reported too; callers go in dependency order, so neither a
   * long chain nor a long cycle is followed by recursion.
   */
  private checkBinding(binding: LetBinding): void {
    this.bindingType(binding);
    if (this.resolution.cyclic.has(binding)) this.within(binding.module, () => this.expr(binding.node.value));
  }

  /** A binding's info, computed once; a binding in a cycle has none. */
  bindingType(binding: Binding): ExprInfo {
    const known = this.bindingInfo.get(binding);
    if (known) return known;
    if (binding.kind === "loop" || this.inProgress.has(binding)) return UNKNOWN;
    if (this.resolution.cyclic.has(binding)) {
      this.bindingInfo.set(binding, UNKNOWN);
      return UNKNOWN;
    }
    this.inProgress.add(binding);
    const info = this.within(binding.module, () => this.expr(binding.node.value));
    this.inProgress.delete(binding);
    this.bindingInfo.set(binding, info);
    return info;
  }

  private within<T>(module: Module, f: () => T): T {
    const saved = this.module;
    this.module = module;
    try {
      return f();
    } finally {
      this.module = saved;
    }
  }

  expr(e: A.Expr): ExprInfo {
    const known = this.info.get(e);
    if (known) return known;
    const info = this.compute(e);
    this.info.set(e, info);
    return info;
  }

  private compute(e: A.Expr): ExprInfo {
    switch (e.kind) {
      case "Number":
        if (e.integer ? !Number.isSafeInteger(e.value) : !Number.isFinite(e.value)) {
          this.report(e.range, "out-of-range", `${e.text} is too large for ${e.integer ? "an Int" : "a Number"}`);
          return UNKNOWN;
        }
        return { type: { kind: e.integer ? "Int" : "Number" }, value: { kind: e.integer ? "Int" : "Number", value: e.value } };
      case "Percent":
        if (e.value > 100) {
          this.report(e.range, "out-of-range", `a percentage must be between 0% and 100%; found ${e.text}%`);
          return UNKNOWN;
        }
        return { type: { kind: "Percent" }, value: { kind: "Percent", value: e.value } };
      case "Duration":
        if (!Number.isFinite(e.count)) {
          this.report(e.range, "out-of-range", `${e.text} is too large for a duration`);
          return UNKNOWN;
        }
        if (e.unit === "steps" && !Number.isInteger(e.count)) {
          this.report(e.range, "out-of-range", `a number of steps must be whole; found ${e.text}`);
          return UNKNOWN;
        }
        return { type: { kind: "Duration" }, value: { kind: "Duration", count: e.count, unit: e.unit } };
      case "String":
        return { type: { kind: "String" }, value: { kind: "String", value: e.value } };
      case "Bool":
        return { type: { kind: "Bool" }, value: { kind: "Bool", value: e.value } };
      case "Quantity":
        this.report(e.range, "type-mismatch", `${e.text} ${e.unit} is ${MEMORY_UNITS.has(e.unit) ? "a memory size" : "a time"}, written only in a resources block`);
        return UNKNOWN;
      case "Name": {
        const enumValue = this.resolution.enumArgs.get(e);
        if (enumValue !== undefined) return { type: enumOf(enumValue), value: { kind: "Enum", value: enumValue } };
        if (this.resolution.enumArgs.has(e)) return UNKNOWN;
        const binding = this.resolution.refs.get(e);
        return binding ? this.bindingType(binding) : UNKNOWN;
      }
      case "Paren":
        return this.expr(e.inner);
      case "Negate":
        return this.negate(e);
      case "List":
        return this.list(e);
      case "Index":
        return this.index(e);
      case "Call":
        return this.call(e);
      case "Pipe":
        return this.call(e.call, e.input);
      case "Repeat":
        return this.repeat(e);
      case "For":
        return this.forLoop(e);
      case "Missing":
        return UNKNOWN;
    }
  }

  private negate(e: A.NegateExpr): ExprInfo {
    const operand = this.expr(e.operand);
    if (operand.type.kind === "Unknown") return operand;
    const v = operand.value;
    switch (operand.type.kind) {
      case "Int":
      case "Number":
        return v?.kind === "Int" || v?.kind === "Number" ? { type: operand.type, value: { kind: v.kind, value: -v.value } } : { type: operand.type };
      case "Percent":
      case "Duration": {
        // `-0%` is 0%; anything else below zero has no meaning for a share or a length.
        if (v && magnitude(v) === 0) return operand;
        const what = operand.type.kind === "Percent" ? "a percentage" : "a duration";
        this.report(e.range, "out-of-range", `${what} cannot be negative${v ? `; found -${showValue(v)}` : ""}`);
        return UNKNOWN;
      }
      default:
        this.report(e.operand.range, "type-mismatch", `only a number can be negated; this is ${aType(operand.type)}`);
        return UNKNOWN;
    }
  }

  private list(e: A.ListExpr): ExprInfo {
    let element: Type = Empty;
    const values: Value[] = [];
    let allKnown = true;
    for (const item of e.items) {
      const info = this.expr(item);
      const joined = join(element, info.type);
      if (!joined) {
        this.report(item.range, "type-mismatch", `list elements must share one type: this is ${aType(info.type)}, the ones before are ${showType(element)}`);
        element = Unknown;
        continue;
      }
      element = joined;
      if (info.value && !info.reported) values.push(info.value);
      else allKnown = false;
    }
    const type = listOf(element);
    return allKnown ? { type, length: e.items.length, value: { kind: "List", items: values } } : { type, length: e.items.length };
  }

  private index(e: A.IndexExpr): ExprInfo {
    const target = this.expr(e.target);
    const index = this.expr(e.index);
    let ok = true;
    if (target.type.kind !== "List" && target.type.kind !== "Unknown") {
      this.report(e.target.range, "type-mismatch", `only a list can be indexed; this is ${aType(target.type)}`);
      ok = false;
    }
    if (!assignable(index.type, { kind: "Int" })) {
      this.report(e.index.range, "type-mismatch", `a list index must be an Int; found ${aType(index.type)}`);
      ok = false;
    }
    if (!ok || target.type.kind !== "List") return UNKNOWN;
    const element = target.type.element.kind === "Empty" ? Unknown : target.type.element;
    const i = index.value?.kind === "Int" ? index.value.value : undefined;
    if (i === undefined || target.length === undefined) return { type: element };
    const n = target.length;
    if (i >= n || i < -n) {
      const valid = n === 0 ? "the list is empty" : `valid indexes are 0 to ${n - 1}, or -${n} to -1`;
      this.report(e.index.range, "out-of-range", `index ${i} is outside a list of ${n}; ${valid}`);
      return UNKNOWN;
    }
    const item = target.value?.kind === "List" ? target.value.items[i < 0 ? n + i : i] : undefined;
    return item ? { type: element, value: item } : { type: element };
  }

  private repeat(e: A.RepeatExpr): ExprInfo {
    const count = this.repeatCount(e.count);
    const from = this.expr(e.from);
    const variable = this.resolution.loopVariables.get(e);
    if (variable) this.bindingInfo.set(variable, { type: from.type });
    const result = this.block(e);
    if (!assignable(result.type, from.type)) {
      this.report(
        e.body.result.range,
        "type-mismatch",
        `each round's result becomes the next round's '${e.variable.name}', so it must be ${aType(from.type)} like the start value; found ${aType(result.type)}`,
      );
    }
    return count === undefined ? { type: listOf(result.type) } : { type: listOf(result.type), length: count };
  }

  /** The number of rounds; a fraction is a syntax error (build-ast.ts), a count below 1 out of range. */
  private repeatCount(count: A.NumberLiteral | A.NegateExpr): number | undefined {
    const literal = count.kind === "Negate" ? (count.operand as A.NumberLiteral) : count;
    const value = count.kind === "Negate" ? -literal.value : literal.value;
    if (value < 1 || value > MAX_REPEAT) {
      this.report(count.range, "out-of-range", `'repeat' needs between 1 and ${MAX_REPEAT} rounds; found ${value}`);
      return undefined;
    }
    return value;
  }

  private forLoop(e: A.ForExpr): ExprInfo {
    if (e.replicate) return this.replicate(e, e.replicate.count);
    const over = this.expr(e.over);
    let element: Type = Unknown;
    if (over.type.kind === "List") element = over.type.element.kind === "Empty" ? Unknown : over.type.element;
    else if (over.type.kind !== "Unknown") {
      this.report(e.over.range, "type-mismatch", `'for' goes over a list; this is ${aType(over.type)}`);
    }
    const variable = this.resolution.loopVariables.get(e);
    if (variable) this.bindingInfo.set(variable, { type: element });
    const result = this.block(e);
    return over.length === undefined ? { type: listOf(result.type) } : { type: listOf(result.type), length: over.length };
  }

  /** `replicate N as seed`: N from 1 to MAX_REPEAT, `seed` an Int, the value a `Replicates<T>`. */
  private replicate(e: A.ForExpr, count: A.NumberLiteral | A.NegateExpr): ExprInfo {
    const literal = count.kind === "Negate" ? (count.operand as A.NumberLiteral) : count;
    const value = count.kind === "Negate" ? -literal.value : literal.value;
    const ok = Number.isNaN(value) || (value >= 1 && value <= MAX_REPEAT);
    if (!ok) this.report(count.range, "out-of-range", `'replicate' needs between 1 and ${MAX_REPEAT} replicates; found ${value}`);
    const variable = this.resolution.loopVariables.get(e);
    if (variable) this.bindingInfo.set(variable, { type: Int });
    const result = this.block(e);
    const type = { kind: "List" as const, element: result.type, replicates: true as const };
    return ok && !Number.isNaN(value) ? { type, length: value } : { type };
  }

  /** Every `let` of a block is checked, used or not, in dependency order; the block's value is its `yield`. */
  private block(loop: A.RepeatExpr | A.ForExpr): ExprInfo {
    for (const binding of this.resolution.blockOrder.get(loop) ?? []) this.checkBinding(binding);
    return this.expr(loop.body.result);
  }

  // ---- calls ----------------------------------------------------------------------------

  private call(call: A.CallExpr, piped?: A.Expr): ExprInfo {
    const resolved = this.resolution.calls.get(call);
    // Arguments the resolver could not bind (extra, unknown, duplicate) are checked too.
    const unbound = () => {
      if (piped) this.expr(piped);
      for (const arg of call.args) this.expr(arg.value);
    };
    if (!resolved) {
      unbound();
      return UNKNOWN;
    }
    const { op } = resolved;
    const bindings: Bindings = new Map();
    const values = new Map<string, Value>();
    for (const param of op.params) {
      const source = resolved.args.get(param.name);
      if (!source) continue;
      const info = this.source(source, param, bindings, values);
      if (info.value && !info.reported) values.set(param.name, info.value);
    }
    this.checkConstraints(op, resolved, values, call.op.range);
    this.ineffectiveSeed(op, resolved, values);
    if (op.name === "rewind") this.sameLineage(resolved);
    if (this.dataFiles) this.checkDataFiles(op, resolved, values, this.dataFiles);
    for (const param of op.params) {
      const when = param.requiredWhen;
      const v = when && !resolved.args.has(param.name) ? values.get(when.param) : undefined;
      if (v?.kind === "Enum" && when!.values.includes(v.value)) {
        this.report(call.op.range, "missing-arg", `'${op.name}' needs an argument for '${param.name}' when ${when!.param} is ${v.value}`);
      }
    }
    unbound();
    return { type: substitute(op.result, bindings) };
  }

  /** `rewind(net, to: other)` with the two from different `init`s: an error at `to`, read from the text. */
  private sameLineage(resolved: ResolvedCall): void {
    const net = resolved.args.get("net");
    const to = resolved.args.get("to");
    if (net?.kind !== "arg" || to?.kind !== "arg") return;
    this.lineages ??= new Lineages(this.resolution);
    const a = this.lineages.of(net.value);
    const b = this.lineages.of(to.value);
    if (a === "unknown" || b === "unknown" || a.size === 0 || b.size === 0) return;
    const valueOf = (e: A.Expr) => this.info.get(e)?.value;
    // Different only if every origin of one surely differs from every origin of the other.
    const apart = [...a].every((x) => [...b].every((y) => surelyDifferent(x, y, this.resolution, valueOf)));
    if (!apart) return;
    const where = (set: ReadonlySet<A.CallExpr>) => [...set].map((c) => `${c.op.name} at line ${this.module.source.position(c.range.start).line}`).join(" or ");
    this.report(
      to.value.range,
      "lineage-mismatch",
      `rewind needs two nets from the same initialisation: 'net' descends from the ${where(a)}, 'to' from the ${where(b)}; rewind to a net trained from the same init (a reinit starts a new one)`,
    );
  }

  /**
   * A `seed` written in a prune whose criterion draws nothing (magnitude, snip, grasp,
   * synflow): a warning, since it changes no result, only the stage's key.
   */
  private ineffectiveSeed(op: OpDecl, resolved: ResolvedCall, values: ReadonlyMap<string, Value>): void {
    if (op.name !== "prune") return;
    const seed = resolved.args.get("seed");
    const criterion = values.get("criterion");
    if (seed?.kind !== "arg" || criterion?.kind !== "Enum" || criterion.value === "random") return;
    this.diagnostics.push(
      warning(this.module.source, seed.value.range, "ineffective-arg", `'seed' changes nothing in a ${criterion.value} prune (only criterion: random draws at random); it only gives the stage another key, so it reruns to the same result`),
    );
  }

  private source(source: ArgSource, param: ParamDecl, bindings: Bindings, values: ReadonlyMap<string, Value>): ExprInfo {
    switch (source.kind) {
      case "arg":
        return this.argument(source.value, param, bindings);
      case "defaults": {
        // Defaults apply within their own file, so this call's module is the entry's.
        const info = this.defaultsEntry(this.module, source.entry, param);
        assignable(info.type, param.type, bindings);
        return info;
      }
      case "default": {
        const value = source.value.kind === "Param" ? values.get(source.value.name) : source.value;
        return value ? { type: param.type, value } : { type: param.type };
      }
    }
  }

  /** One argument against its parameter: type, unit, then range. */
  private argument(value: A.Expr, param: ParamDecl, bindings: Bindings): ExprInfo {
    const info = this.expr(value);
    if (info.type.kind === "Unknown") return info;
    if (!assignable(info.type, param.type, bindings)) {
      this.report(value.range, "type-mismatch", mismatchMessage(param, info));
      return UNKNOWN;
    }
    const v = info.value;
    if (v?.kind === "Duration" && param.units && !param.units.includes(v.unit)) {
      this.report(value.range, "type-mismatch", `'${param.name}' is counted in ${param.units.join(" or ")}; found ${showValue(v)}`);
      return UNKNOWN;
    }
    if (info.reported) return info;
    if (v && param.bounds && !withinBounds(v, param.bounds)) {
      this.report(value.range, "out-of-range", `'${param.name}' must be ${describeBounds(param.bounds, param.type)}; found ${showValue(v)}`);
      return { ...info, reported: true };
    }
    if (v?.kind === "List" && param.elementBounds) {
      const items = value.kind === "List" ? value.items : undefined;
      for (const [i, item] of v.items.entries()) {
        if (withinBounds(item, param.elementBounds)) continue;
        const element = param.type.kind === "List" ? param.type.element : param.type;
        this.report(items?.[i]?.range ?? value.range, "out-of-range", `each of '${param.name}' must be ${describeBounds(param.elementBounds, element)}; found ${showValue(item)}`);
        return { ...info, reported: true };
      }
    }
    if (param.nonEmpty && info.length === 0) {
      this.report(value.range, "out-of-range", `'${param.name}' must not be an empty list`);
      return { ...info, reported: true };
    }
    return info;
  }

  /**
   * Each data file the call names (a `path` parameter whose value the text fixes) must be
   * there and readable: reported at the argument, or at the `defaults` entry that gave it.
   */
  private checkDataFiles(op: OpDecl, call: ResolvedCall, values: ReadonlyMap<string, Value>, host: DataFileHost): void {
    for (const param of op.params) {
      const value = values.get(param.name);
      if (param.unit !== "path" || value?.kind !== "String") continue;
      const source = call.args.get(param.name);
      const range = source?.kind === "arg" ? source.value.range : source?.kind === "defaults" ? source.entry.value.range : undefined;
      if (!range) continue;
      const problem = dataFileProblem(host, op.name, param.name, value.value, this.module.source.path);
      if (problem) this.report(range, "data-not-found", problem);
    }
  }

  private checkConstraints(op: OpDecl, call: ResolvedCall, values: ReadonlyMap<string, Value>, opRange: Range): void {
    for (const constraint of op.constraints ?? []) {
      if (!constraint.params.every((p) => values.has(p))) continue;
      const message = constraint.violated(values);
      if (!message) continue;
      // At the value written last among those the rule involves; the op if none was written.
      const written = constraint.params
        .map((p) => call.args.get(p))
        .filter((s): s is Extract<ArgSource, { kind: "arg" }> => s?.kind === "arg")
        .map((s) => s.value.range)
        .sort((a, b) => b.start - a.start);
      this.report(written[0] ?? opRange, "out-of-range", message);
    }
  }
}

export function withinBounds(v: Value, b: Bounds): boolean {
  const x = magnitude(v);
  if (x === undefined) return true;
  if (b.oneOf && !b.oneOf.includes(x)) return false;
  if (b.min !== undefined && (b.minExclusive ? x <= b.min : x < b.min)) return false;
  if (b.max !== undefined && (b.maxExclusive ? x >= b.max : x > b.max)) return false;
  return true;
}

export function describeBounds(b: Bounds, type: Type): string {
  const show = (n: number) => (type.kind === "Percent" ? `${n}%` : type.kind === "Duration" ? `${n} (epochs or steps)` : String(n));
  if (b.oneOf) return `one of ${b.oneOf.join(", ")}`;
  const lo = b.min;
  const hi = b.max;
  if (lo !== undefined && hi !== undefined) {
    if (!b.minExclusive && !b.maxExclusive) return `between ${show(lo)} and ${show(hi)}`;
    const low = b.minExclusive ? `above ${show(lo)}` : `at least ${show(lo)}`;
    const high = b.maxExclusive ? `below ${show(hi)}` : `at most ${show(hi)}`;
    return `${low} and ${high}`;
  }
  if (lo !== undefined) {
    if (type.kind === "Duration" && b.minExclusive && lo === 0) return "longer than zero";
    return b.minExclusive ? `above ${show(lo)}` : `at least ${show(lo)}`;
  }
  if (hi !== undefined) return b.maxExclusive ? `below ${show(hi)}` : `at most ${show(hi)}`;
  return "valid";
}

function mismatchMessage(param: ParamDecl, found: ExprInfo): string {
  const base = `'${param.name}' expects ${aType(param.type)}; found ${aType(found.type)}`;
  const v = found.value;
  if (param.type.kind === "Percent" && (v?.kind === "Number" || v?.kind === "Int")) {
    return `${base}; write ${Number((v.value * 100).toPrecision(12))}% for a percentage`;
  }
  if (param.type.kind === "Duration" && (v?.kind === "Number" || v?.kind === "Int")) {
    return `${base}; write ${v.value} epochs or ${v.value} steps`;
  }
  if (param.type.kind === "Enum" && v?.kind === "String") {
    return `${base}; write ${v.value} without quotes`;
  }
  if (param.type.kind === "Int" && v?.kind === "Number" && Number.isInteger(v.value)) {
    return `${base}; write ${v.value} without a fraction or exponent`;
  }
  return base;
}
