// Checked program → stage graph: evaluates every binding, unrolling `repeat` and `for`,
// so that each op call that computes something becomes one stage with static parameters.

import type * as A from "../dsl/ast.js";
import type { CheckedProgram, LetBinding } from "../dsl/check/index.js";
import type { Module } from "../dsl/check/program.js";
import type { ResolvedCall } from "../dsl/check/resolve.js";
import type { CompiledValue, ParamValue, StageGraph } from "./stage.js";
import { architecture, CompileError, defaultValue, duration, lastOf, StageBuilder, stageGraph } from "./stages.js";

export { CompileError } from "./stages.js";


export function compile(program: CheckedProgram): StageGraph {
  return new Compiler(program).run();
}

/** One evaluation context: the file level, or one round of a `repeat`/`for` block. */
interface Frame {
  readonly parent?: Frame;
  readonly loop?: A.RepeatExpr | A.ForExpr;
  /** The loop variable's value in this round. */
  readonly variable?: CompiledValue;
  /** `rounds[2]`: the prefix of the names of the stages made in this round. */
  readonly path: string;
  readonly memo: Map<LetBinding, CompiledValue>;
  /** Lets being evaluated, to turn a cycle the checker let through into an error, not a hang. */
  readonly active: Set<LetBinding>;
}

/** Rounds of repeat and for blocks one pipeline may unroll into, all loops together. */
export const MAX_ROUNDS = 100_000;

class Compiler {
  private readonly stages = new StageBuilder();
  private rounds = 0;
  private readonly root: Frame = { path: "", memo: new Map(), active: new Set() };
  private readonly moduleOf = new Map<A.LetItem, Module>();

  constructor(private readonly program: CheckedProgram) {
    for (const binding of program.resolution.order) this.moduleOf.set(binding.node, binding.module);
  }

  run(): StageGraph {
    for (const binding of this.program.resolution.order) {
      if (!binding.block) this.letValue(binding, this.root);
    }
    const bindings = new Map<string, CompiledValue>();
    for (const [name, binding] of this.program.scope) {
      if (binding.kind === "let") bindings.set(name, this.letValue(binding, this.root));
    }
    const reports = this.program.reports.map((r) => ({
      ...(r.title ? { title: r.title.value } : {}),
      names: r.names.map((n) => n.name),
    }));
    return stageGraph(this.stages, this.program.root.source.path, bindings, reports, this.program.resources);
  }

  private letValue(binding: LetBinding, from: Frame): CompiledValue {
    const frame = binding.block ? this.frameOf(binding.block, from) : this.root;
    const known = frame.memo.get(binding);
    if (known) return known;
    if (frame.active.has(binding)) {
      throw new CompileError(binding.module.source.path, binding.node.name.range, `'${binding.name}' depends on itself`);
    }
    frame.active.add(binding);
    const name = frame.path ? `${frame.path}.${binding.name}` : binding.name;
    const value = this.expr(binding.node.value, frame, binding.module, name, name);
    frame.active.delete(binding);
    frame.memo.set(binding, value);
    return value;
  }

  private frameOf(loop: A.RepeatExpr | A.ForExpr, from: Frame): Frame {
    for (let f: Frame | undefined = from; f; f = f.parent) if (f.loop === loop) return f;
    throw new Error(`internal: no frame for the loop at offset ${loop.range.start}`);
  }

  /**
   * `name` is what the value of `e` is called (absent for a nested call); `context` is the
   * binding path nested calls are named under.
   */
  private expr(e: A.Expr, frame: Frame, module: Module, name: string | undefined, context: string): CompiledValue {
    switch (e.kind) {
      case "Number":
      case "Percent":
      case "Duration":
      case "String":
      case "Bool":
        return { kind: "static", value: literal(e) };
      case "Quantity":
        // The checker allows these in resources blocks only, which are not stages.
        throw new CompileError(module.source.path, e.range, "a memory size or a time is written only in a resources block");
      case "Negate": {
        const operand = this.expr(e.operand, frame, module, undefined, context);
        if (operand.kind !== "static" || typeof operand.value !== "number") {
          throw new CompileError(module.source.path, e.range, "only a number can be negated");
        }
        return { kind: "static", value: -operand.value };
      }
      case "Paren":
        return this.expr(e.inner, frame, module, name, context);
      case "Name":
        return this.name(e, frame, module);
      case "List":
        return { kind: "list", items: e.items.map((item) => this.expr(item, frame, module, undefined, context)) };
      case "Index": {
        const target = this.expr(e.target, frame, module, undefined, context);
        const index = this.expr(e.index, frame, module, undefined, context);
        if (target.kind !== "list" || index.kind !== "static" || typeof index.value !== "number") {
          throw new CompileError(module.source.path, e.range, "an index must be a number known before running, into a list");
        }
        const n = target.items.length;
        const item = target.items[index.value < 0 ? n + index.value : index.value];
        if (!item) throw new CompileError(module.source.path, e.index.range, `index ${index.value} is outside a list of ${n}`);
        return item;
      }
      case "Call":
        return this.call(e, e.range, frame, module, name, context);
      case "Pipe":
        return this.call(e.call, e.range, frame, module, name, context);
      case "Repeat":
        return this.repeat(e, frame, module, name ?? `${context}/repeat`);
      case "For":
        return this.forLoop(e, frame, module, name ?? `${context}/for`);
      case "Missing":
        throw new CompileError(module.source.path, e.range, "internal: a syntax hole reached the compiler");
    }
  }

  private name(e: A.NameExpr, frame: Frame, module: Module): CompiledValue {
    const enumValue = this.program.resolution.enumArgs.get(e);
    if (enumValue !== undefined) return { kind: "static", value: enumValue };
    const binding = this.program.resolution.refs.get(e);
    if (!binding) throw new CompileError(module.source.path, e.range, `internal: '${e.name}' is unresolved`);
    if (binding.kind === "let") return this.letValue(binding, frame);
    const round = this.frameOf(binding.loop, frame);
    return round.variable!;
  }

  private repeat(e: A.RepeatExpr, frame: Frame, module: Module, path: string): CompiledValue {
    const count = this.expr(e.count, frame, module, undefined, path);
    if (count.kind !== "static" || typeof count.value !== "number") {
      throw new CompileError(module.source.path, e.count.range, "a repeat count must be a number");
    }
    let previous = this.expr(e.from, frame, module, undefined, path);
    const items: CompiledValue[] = [];
    for (let k = 0; k < count.value; k++) {
      previous = this.block(e, e.body, previous, k, frame, module, path);
      items.push(previous);
    }
    return { kind: "list", items };
  }

  private forLoop(e: A.ForExpr, frame: Frame, module: Module, path: string): CompiledValue {
    const over = this.expr(e.over, frame, module, undefined, path);
    if (over.kind !== "list") throw new CompileError(module.source.path, e.over.range, "a for loop needs a list");
    const items = over.items.map((item, k) => this.block(e, e.body, item, k, frame, module, path));
    return e.replicate ? { kind: "list", items, replicates: true } : { kind: "list", items };
  }

  private block(loop: A.RepeatExpr | A.ForExpr, body: A.Block, variable: CompiledValue, k: number, parent: Frame, module: Module, path: string): CompiledValue {
    // Each loop is checked to at most 10,000 rounds, but loops nest: 10,000³ rounds would
    // exhaust memory long before they finished. Refuse at the loop that goes over, instead.
    if (++this.rounds > MAX_ROUNDS) {
      throw new CompileError(module.source.path, loop.range, `this pipeline unrolls into more than ${MAX_ROUNDS.toLocaleString("en")} rounds of repeat, for and replicate blocks; nested loops multiply their counts`);
    }
    const round: Frame = { parent, loop, variable, path: `${path}[${k}]`, memo: new Map(), active: new Set() };
    for (const binding of this.program.resolution.blockOrder.get(loop) ?? []) this.letValue(binding, round);
    return this.expr(body.result, round, module, round.path, round.path);
  }

  private call(
    call: A.CallExpr,
    range: A.Expr["range"],
    frame: Frame,
    module: Module,
    name: string | undefined,
    context: string,
  ): CompiledValue {
    const resolved = this.program.resolution.calls.get(call);
    if (!resolved) throw new CompileError(module.source.path, call.range, `internal: the call of '${call.op.name}' is unresolved`);
    const op = resolved.op;
    const args = this.args(resolved, frame, module, context);
    if (op.name === "last") return lastOf(args.get("xs")!, { file: module.source.path, range });
    // Architectures describe, they compute nothing: a parameter of the init that uses them.
    const source = { file: module.source.path, range };
    if (op.category === "architecture") return { kind: "static", value: architecture(op, args, source) };
    return { kind: "stage", stage: this.stages.add(op, args, source, name ?? `${context}/${op.name}`) };
  }

  private args(resolved: ResolvedCall, frame: Frame, module: Module, context: string): Map<string, CompiledValue> {
    const values = new Map<string, CompiledValue>();
    const valueOf = (param: string): CompiledValue => {
      const known = values.get(param);
      if (known) return known;
      const source = resolved.args.get(param)!;
      let value: CompiledValue;
      if (source.kind === "arg") value = this.expr(source.value, frame, module, undefined, context);
      // A defaults entry belongs to the file, not the round: it sees only file-level names.
      else if (source.kind === "defaults") value = this.expr(source.entry.value, this.root, module, undefined, context);
      else value = defaultValue(source.value, valueOf);
      values.set(param, value);
      return value;
    };
    for (const param of resolved.args.keys()) valueOf(param);
    return values;
  }

}

function literal(e: Exclude<A.Literal, A.QuantityLiteral>): ParamValue {
  switch (e.kind) {
    case "Number":
    case "String":
    case "Bool":
      return e.value;
    case "Percent":
      return e.value / 100;
    case "Duration":
      return duration(e.count, e.unit);
  }
}
