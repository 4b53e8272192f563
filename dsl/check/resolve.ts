// Name resolution, independent of line order: scopes for files and `repeat`/`for`
// blocks, imported names, enum arguments, arguments bound to parameters, and cycles.

import type * as A from "../ast.js";
import { error, type Diagnostic } from "../diagnostics.js";
import { lookupOp, OPS, paramOf, type DefaultValue, type OpDecl } from "../ops.js";
import type { Range } from "../source.js";
import type { Module } from "./program.js";
import { closest, didYouMean } from "./suggest.js";

export interface LetBinding {
  readonly kind: "let";
  readonly name: string;
  readonly node: A.LetItem;
  readonly module: Module;
  /** The `repeat`/`for` whose block holds this binding; absent at file level. */
  readonly block?: A.RepeatExpr | A.ForExpr;
}

/** `t` in `repeat 5 from x as t`, `x` in `for x in xs`. */
export interface LoopBinding {
  readonly kind: "loop";
  readonly name: string;
  readonly node: A.Identifier;
  readonly module: Module;
  readonly loop: A.RepeatExpr | A.ForExpr;
}

export type Binding = LetBinding | LoopBinding;

/** Where a parameter's value comes from in one call. */
export type ArgSource =
  /** Written in the call, or piped into it (`name` is absent for positional ones). */
  | { readonly kind: "arg"; readonly value: A.Expr; readonly name?: A.Identifier }
  /** An entry of a `defaults` block in the call's file. */
  | { readonly kind: "defaults"; readonly entry: A.Arg }
  /** The op's own default. */
  | { readonly kind: "default"; readonly value: DefaultValue };

export interface ResolvedCall {
  readonly op: OpDecl;
  /** Every parameter that has a value, in parameter order. */
  readonly args: ReadonlyMap<string, ArgSource>;
}

class Scope {
  readonly names = new Map<string, Binding>();
  /** Messages for names this scope lacks, so a name missing 2,000 times is looked into once. */
  readonly undefinedMessages = new Map<string, string>();
  constructor(
    readonly module: Module,
    readonly parent?: Scope,
  ) {}

  lookup(name: string): Binding | undefined {
    return this.names.get(name) ?? this.parent?.lookup(name);
  }

  *visible(): Iterable<string> {
    yield* this.names.keys();
    if (this.parent) yield* this.parent.visible();
  }
}

export interface Resolution {
  /** What each name in an expression refers to. */
  readonly refs: Map<A.NameExpr, Binding>;
  /** Bare identifiers read as enum values (`scope: layerwise`), with the value when it is one. */
  readonly enumArgs: Map<A.NameExpr, string | undefined>;
  /** Calls and pipes with their arguments bound to the op's parameters. */
  readonly calls: Map<A.CallExpr, ResolvedCall>;
  /** The `defaults` entries of each file, by op and parameter. */
  readonly defaults: Map<Module, Map<string, Map<string, A.Arg>>>;
  readonly letOf: Map<A.LetItem, LetBinding>;
  /** Each file's top-level names, own and imported. */
  readonly fileScopes: Map<Module, ReadonlyMap<string, Binding>>;
  /** Bindings that depend on themselves; the type checker gives them no type. */
  readonly cyclic: Set<LetBinding>;
  /** Every `let`, each after the bindings it reads (cycles aside). */
  readonly order: LetBinding[];
  /** The `let`s of each block, in that order. */
  readonly blockOrder: Map<A.RepeatExpr | A.ForExpr, LetBinding[]>;
  /** The binding owning each loop variable's block lets, by loop. */
  readonly loopVariables: Map<A.RepeatExpr | A.ForExpr, LoopBinding>;
}

export function resolveModules(modules: readonly Module[], diagnostics: Diagnostic[]): Resolution {
  return new Resolver(diagnostics).run(modules);
}

class Resolver {
  private readonly result: Resolution = {
    refs: new Map(),
    enumArgs: new Map(),
    calls: new Map(),
    defaults: new Map(),
    letOf: new Map(),
    fileScopes: new Map(),
    cyclic: new Set(),
    order: [],
    blockOrder: new Map(),
    loopVariables: new Map(),
  };
  /** Bindings each `let` reads, directly or through a block it contains. */
  private readonly deps = new Map<LetBinding, Set<LetBinding>>();
  /** Every `let`, file level and block level, as declared (`order` has them sorted). */
  private readonly lets: LetBinding[] = [];
  /** Bindings read by each file's `defaults` entries, by op: a call of the op reads them too. */
  private readonly defaultsDeps = new Map<Module, Map<string, Set<LetBinding>>>();
  /** Files that miss some names because an import, theirs or a nested one, failed. */
  private readonly incomplete = new Set<Module>();

  constructor(private readonly diagnostics: Diagnostic[]) {}

  run(modules: readonly Module[]): Resolution {
    const scopes = new Map<Module, Scope>();
    for (const module of modules) scopes.set(module, this.ownScope(module));
    const state = new Map<Module, "visiting" | "done">();
    for (const module of modules) this.completeScope(module, scopes, state);
    for (const module of modules) this.resolveModule(module, scopes.get(module)!);
    this.findCycles();
    return this.result;
  }

  private report(module: Module, range: Range, code: Diagnostic["code"], message: string): void {
    this.diagnostics.push(error(module.source, range, code, message));
  }

  // ---- scopes ---------------------------------------------------------------------------

  /** A file's own `let`s; a second binding of a name points at the first. */
  private ownScope(module: Module): Scope {
    const scope = new Scope(module);
    for (const item of module.ast.items) {
      if (item.kind === "Let") this.declare(scope, this.letBinding(item, module));
    }
    return scope;
  }

  private letBinding(node: A.LetItem, module: Module, block?: A.RepeatExpr | A.ForExpr): LetBinding {
    const binding: LetBinding = block ? { kind: "let", name: node.name.name, node, module, block } : { kind: "let", name: node.name.name, node, module };
    this.lets.push(binding);
    this.deps.set(binding, new Set());
    this.result.letOf.set(node, binding);
    return binding;
  }

  private declare(scope: Scope, binding: Binding): void {
    const earlier = scope.names.get(binding.name);
    if (earlier) {
      const line = earlier.module.source.line(earlier.node.range.start);
      const what = binding.kind === "let" ? binding.node.name : binding.node;
      this.report(scope.module, what.range, "duplicate-binding", `'${binding.name}' is already bound on line ${line}`);
      return;
    }
    scope.names.set(binding.name, binding);
  }

  /**
   * A file's names: its own `let`s and every name visible in the files it imports, which
   * are completed first (inside an import cycle, a file still being completed offers its
   * own names only).
   */
  private completeScope(module: Module, scopes: Map<Module, Scope>, state: Map<Module, "visiting" | "done">): void {
    if (state.has(module)) return;
    state.set(module, "visiting");
    for (const { target } of module.imports) if (target) this.completeScope(target, scopes, state);
    this.addImports(module, scopes);
    if (module.incompleteImports || module.imports.some(({ target }) => target && this.incomplete.has(target))) {
      this.incomplete.add(module);
    }
    state.set(module, "done");
  }

  /**
   * An imported file's names become visible. One binding reached twice (a diamond) is
   * bound once; a different binding of a name already bound, locally or by an earlier
   * import, is an error.
   */
  private addImports(module: Module, scopes: Map<Module, Scope>): void {
    const scope = scopes.get(module)!;
    const own = new Map(scope.names);
    const importedFrom = new Map<string, A.ImportItem>();
    const seen = new Set<Module>();
    for (const { item, target } of module.imports) {
      if (!target || target === module || seen.has(target)) continue;
      seen.add(target);
      const clashes: string[] = [];
      for (const [name, binding] of scopes.get(target)!.names) {
        const local = own.get(name);
        if (local === binding) continue;
        if (local?.kind === "let") {
          this.report(module, local.node.name.range, "duplicate-binding", `'${name}' is already bound by import "${item.path.value}"`);
          continue;
        }
        const other = importedFrom.get(name);
        if (other) {
          if (scope.names.get(name) !== binding) clashes.push(name);
          continue;
        }
        importedFrom.set(name, item);
        scope.names.set(name, binding);
      }
      if (clashes.length > 0) {
        const other = importedFrom.get(clashes[0]!)!;
        const names = clashes.map((n) => `'${n}'`).join(", ");
        this.report(
          module,
          item.path.range,
          "duplicate-binding",
          `${names} ${clashes.length === 1 ? "is" : "are"} bound by both "${other.path.value}" and "${item.path.value}"`,
        );
      }
    }
    this.result.fileScopes.set(module, scope.names);
  }

  // ---- resolution -----------------------------------------------------------------------

  private resolveModule(module: Module, scope: Scope): void {
    this.collectDefaults(module, scope);
    for (const item of module.ast.items) {
      if (item.kind === "Let") {
        // A duplicate `let` is checked as well, under a binding of its own.
        this.expr(item.value, scope, this.deps.get(this.result.letOf.get(item)!)!);
      } else if (item.kind === "Report") {
        for (const name of item.names) this.lookup(name.name, name.range, scope);
      }
    }
  }

  /** `defaults op { k: v }`: checked once per file, then consulted by every call of `op`. */
  private collectDefaults(module: Module, scope: Scope): void {
    const table = new Map<string, Map<string, A.Arg>>();
    const deps = new Map<string, Set<LetBinding>>();
    this.result.defaults.set(module, table);
    this.defaultsDeps.set(module, deps);
    for (const item of module.ast.items) {
      if (item.kind !== "Defaults") continue;
      const op = lookupOp(item.op.name);
      if (!op) this.unknownOp(item.op, scope);
      const entries = table.get(item.op.name) ?? new Map<string, A.Arg>();
      const reads = deps.get(item.op.name) ?? new Set<LetBinding>();
      if (op) {
        table.set(op.name, entries);
        deps.set(op.name, reads);
      }
      for (const arg of item.args) {
        // A positional entry is a syntax error (build-ast.ts), so this never runs on one.
        if (!arg.name) continue;
        const param = op && paramOf(op, arg.name.name);
        if (!param) {
          if (op) this.unknownParam(op, arg.name, module);
          this.unboundValue(arg.value, scope, reads);
          continue;
        }
        if (entries.has(param.name)) {
          this.report(module, arg.name.range, "duplicate-arg", `'${param.name}' already has a default for '${op!.name}'`);
        } else entries.set(param.name, arg);
        this.argValue(arg.value, param.type.kind === "Enum" ? param.type.values : undefined, scope, reads);
      }
    }
  }

  /** Resolves the names in `e`; every `let` it reads goes into `reads`. */
  private expr(e: A.Expr, scope: Scope, reads: Set<LetBinding>): void {
    switch (e.kind) {
      case "Name":
        this.readName(e, scope, reads);
        return;
      case "Call":
        this.call(e, undefined, scope, reads);
        return;
      case "Pipe":
        this.call(e.call, e.input, scope, reads);
        return;
      case "List":
        for (const item of e.items) this.expr(item, scope, reads);
        return;
      case "Index":
        this.expr(e.target, scope, reads);
        this.expr(e.index, scope, reads);
        return;
      case "Negate":
        this.expr(e.operand, scope, reads);
        return;
      case "Paren":
        this.expr(e.inner, scope, reads);
        return;
      case "Repeat":
        this.expr(e.from, scope, reads);
        this.block(e, e.body, scope, reads);
        return;
      case "For":
        this.expr(e.over, scope, reads);
        this.block(e, e.body, scope, reads);
        return;
      default:
        return;
    }
  }

  /** A block's names are local to one round; its `let`s are computed as part of the owner. */
  private block(loop: A.RepeatExpr | A.ForExpr, body: A.Block, outer: Scope, reads: Set<LetBinding>): void {
    const scope = new Scope(outer.module, outer);
    const variable: LoopBinding = { kind: "loop", name: loop.variable.name, node: loop.variable, module: outer.module, loop };
    this.result.loopVariables.set(loop, variable);
    if (variable.name !== "") scope.names.set(variable.name, variable);
    const lets: LetBinding[] = [];
    for (const node of body.lets) {
      const binding = this.letBinding(node, outer.module, loop);
      this.declare(scope, binding);
      reads.add(binding);
      lets.push(binding);
    }
    for (const binding of lets) this.expr(binding.node.value, scope, this.deps.get(binding)!);
    this.expr(body.result, scope, reads);
  }

  private readName(e: A.NameExpr, scope: Scope, reads: Set<LetBinding>): void {
    // A name bound nowhere that is some op's enum value is that value (`for c in [snip, grasp]`).
    if (!scope.lookup(e.name) && isEnumValue(e.name)) {
      this.result.enumArgs.set(e, e.name);
      return;
    }
    const binding = this.lookup(e.name, e.range, scope);
    if (binding) this.result.refs.set(e, binding);
    if (binding?.kind === "let") reads.add(binding);
  }

  private lookup(name: string, range: Range, scope: Scope): Binding | undefined {
    const binding = scope.lookup(name);
    // A name the failed import would have bound is not news on top of that failure.
    if (!binding && !this.incomplete.has(scope.module)) {
      let message = scope.undefinedMessages.get(name);
      if (message === undefined) {
        message = undefinedNameMessage(name, scope);
        scope.undefinedMessages.set(name, message);
      }
      this.report(scope.module, range, "undefined-name", message);
    }
    return binding;
  }

  /**
   * The value of an argument with no parameter (a misspelt op or name, one argument too
   * many): a bare identifier that names nothing is probably an enum value meant for some
   * parameter, so it is not reported on top of the mistake already reported.
   */
  private unboundValue(value: A.Expr, scope: Scope, reads: Set<LetBinding>): void {
    if (value.kind === "Name" && !scope.lookup(value.name)) {
      this.result.enumArgs.set(value, undefined);
      return;
    }
    this.expr(value, scope, reads);
  }

  /** An argument: a bare identifier for an enum parameter is one of its values. */
  private argValue(value: A.Expr, enumValues: readonly string[] | undefined, scope: Scope, reads: Set<LetBinding>): void {
    if (!enumValues || value.kind !== "Name") {
      this.expr(value, scope, reads);
      return;
    }
    if (enumValues.includes(value.name)) {
      this.result.enumArgs.set(value, value.name);
      return;
    }
    // A binding holding an enum value (a loop's `c` over [snip, grasp]): its type is checked against the enum.
    if (scope.lookup(value.name)) {
      this.expr(value, scope, reads);
      return;
    }
    this.result.enumArgs.set(value, undefined);
    this.report(
      scope.module,
      value.range,
      "unknown-enum",
      `'${value.name}' is not one of ${enumValues.join(", ")}${didYouMean(value.name, enumValues)}`,
    );
  }

  private call(call: A.CallExpr, piped: A.Expr | undefined, scope: Scope, reads: Set<LetBinding>): void {
    const module = scope.module;
    const op = lookupOp(call.op.name);
    if (!op) {
      this.unknownOp(call.op, scope);
      if (piped) this.expr(piped, scope, reads);
      for (const arg of call.args) this.unboundValue(arg.value, scope, reads);
      return;
    }
    const args = new Map<string, ArgSource>();
    // Positional arguments come first (a syntax error otherwise, caught in build-ast.ts).
    const positional: { value: A.Expr }[] = [...(piped ? [{ value: piped }] : []), ...call.args.filter((a) => !a.name)];
    const named = call.args.filter((a) => a.name);
    positional.forEach(({ value }, i) => {
      const param = op.params[i];
      if (param) {
        args.set(param.name, { kind: "arg", value });
        this.argValue(value, param.type.kind === "Enum" ? param.type.values : undefined, scope, reads);
        return;
      }
      if (i === op.params.length) {
        const most = op.params.length;
        this.report(
          module,
          value.range,
          "too-many-args",
          `'${op.name}' takes ${most === 0 ? "no arguments" : `at most ${most} argument${most === 1 ? "" : "s"}`}; found ${positional.length}`,
        );
      }
      this.unboundValue(value, scope, reads);
    });
    for (const arg of named) {
      const name = arg.name!;
      const param = paramOf(op, name.name);
      if (!param) {
        this.unknownParam(op, name, module);
        this.unboundValue(arg.value, scope, reads);
        continue;
      }
      if (args.has(param.name)) {
        this.report(module, name.range, "duplicate-arg", `'${param.name}' is given twice in this call of '${op.name}'`);
      } else args.set(param.name, { kind: "arg", value: arg.value, name });
      this.argValue(arg.value, param.type.kind === "Enum" ? param.type.values : undefined, scope, reads);
    }

    const fileDefaults = this.result.defaults.get(module)?.get(op.name);
    for (const binding of this.defaultsDeps.get(module)?.get(op.name) ?? []) reads.add(binding);
    const missing: string[] = [];
    const ordered = new Map<string, ArgSource>();
    for (const param of op.params) {
      const given = args.get(param.name);
      const entry = fileDefaults?.get(param.name);
      if (given) ordered.set(param.name, given);
      else if (entry) ordered.set(param.name, { kind: "defaults", entry });
      else if (param.default) ordered.set(param.name, { kind: "default", value: param.default });
      else if (!param.optional) missing.push(param.name);
    }
    if (missing.length > 0) {
      const list = missing.map((m) => `'${m}'`).join(", ");
      this.report(module, call.op.range, "missing-arg", `'${op.name}' needs ${missing.length === 1 ? "an argument" : "arguments"} for ${list}`);
    }
    this.result.calls.set(call, { op, args: ordered });
  }

  private unknownOp(id: A.Identifier, scope: Scope): void {
    const binding = scope.lookup(id.name);
    const hint = binding ? `; '${id.name}' is a value, not an op` : didYouMean(id.name, OPS.keys());
    this.report(scope.module, id.range, "unknown-op", `unknown op '${id.name}'${hint}`);
  }

  private unknownParam(op: OpDecl, name: A.Identifier, module: Module): void {
    const names = op.params.map((p) => p.name);
    const known = names.length === 0 ? "it takes no parameters" : `its parameters are ${names.join(", ")}`;
    const suggestion = closest(name.name, names);
    this.report(
      module,
      name.range,
      "unknown-param",
      suggestion
        ? `'${op.name}' has no parameter '${name.name}'; did you mean '${suggestion}'?`
        : `'${op.name}' has no parameter '${name.name}'; ${known}`,
    );
  }

  // ---- cycles ---------------------------------------------------------------------------

  /** Strongly connected components (Tarjan); each cycle is reported once, at its first binding. */
  private findCycles(): void {
    const index = new Map<LetBinding, number>();
    const low = new Map<LetBinding, number>();
    const onStack = new Set<LetBinding>();
    const stack: LetBinding[] = [];
    let counter = 0;
    const lets = this.lets;

    const connect = (root: LetBinding) => {
      // Iterative, so a 5,000-binding chain cannot overflow the call stack.
      const work: { node: LetBinding; next: Iterator<LetBinding> }[] = [];
      const enter = (node: LetBinding) => {
        index.set(node, counter);
        low.set(node, counter);
        counter++;
        stack.push(node);
        onStack.add(node);
        work.push({ node, next: this.deps.get(node)![Symbol.iterator]() });
      };
      enter(root);
      while (work.length > 0) {
        const frame = work[work.length - 1]!;
        const step = frame.next.next();
        if (!step.done) {
          const dep = step.value;
          if (!index.has(dep)) enter(dep);
          else if (onStack.has(dep)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(dep)!));
          continue;
        }
        work.pop();
        const parent = work[work.length - 1];
        if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
        if (low.get(frame.node) === index.get(frame.node)) {
          const component: LetBinding[] = [];
          let member: LetBinding;
          do {
            member = stack.pop()!;
            onStack.delete(member);
            component.push(member);
          } while (member !== frame.node);
          // Tarjan closes a component only after everything it reads: dependencies first.
          for (const binding of component) {
            this.result.order.push(binding);
            if (!binding.block) continue;
            const list = this.result.blockOrder.get(binding.block) ?? [];
            list.push(binding);
            this.result.blockOrder.set(binding.block, list);
          }
          const selfLoop = component.length === 1 && this.deps.get(frame.node)!.has(frame.node);
          if (component.length > 1 || selfLoop) this.reportCycle(component);
        }
      }
    };
    for (const binding of lets) if (!index.has(binding)) connect(binding);
  }

  private reportCycle(component: LetBinding[]): void {
    const members = new Set(component);
    for (const m of component) this.result.cyclic.add(m);
    const first = component.reduce((a, b) => (b.node.range.start < a.node.range.start ? b : a));
    // The shortest way round from the first binding back to itself.
    const previous = new Map<LetBinding, LetBinding>();
    const queue = [first];
    let closing: LetBinding | undefined;
    while (queue.length > 0 && !closing) {
      const node = queue.shift()!;
      for (const dep of this.deps.get(node)!) {
        if (!members.has(dep)) continue;
        if (dep === first) {
          closing = node;
          break;
        }
        if (!previous.has(dep)) {
          previous.set(dep, node);
          queue.push(dep);
        }
      }
    }
    const path: string[] = [first.name];
    for (let at = closing; at && at !== first; at = previous.get(at)) path.splice(1, 0, at.name);
    path.push(first.name);
    this.report(first.module, first.node.name.range, "cycle", `'${first.name}' depends on itself: ${path.join(" → ")}`);
  }
}

/** Whether `name` is a value of some op's enum parameter (`snip`, `global`, `crop_flip`). */
function isEnumValue(name: string): boolean {
  for (const op of OPS.values()) for (const param of op.params) if (param.type.kind === "Enum" && param.type.values.includes(name)) return true;
  return false;
}

function undefinedNameMessage(name: string, scope: Scope): string {
  if (lookupOp(name)) return `'${name}' is an op, not a value; call it: ${name}(...)`;
  const suggestion = closest(name, scope.visible());
  if (suggestion) return `'${name}' is not defined; did you mean '${suggestion}'?`;
  for (const op of OPS.values()) {
    for (const param of op.params) {
      if (param.type.kind === "Enum" && param.type.values.includes(name)) {
        return `'${name}' is not defined; it is a value of '${param.name}' of '${op.name}', usable only as that argument`;
      }
    }
  }
  return `'${name}' is not defined`;
}
