// `lth codegen`: a checked program as a TypeScript script on the package's API. One `const`
// per binding in dependency order, `repeat` and `for` as loops, a `defaults` block as an
// options object, and each statement citing the `.lth` line it comes from. The script builds
// the same stages as `lth run`, so it fills the same store with the same keys.

import { basename, dirname, relative, resolve as resolvePath, sep } from "node:path";
import { IndentationText, Project, QuoteKind, VariableDeclarationKind } from "ts-morph";
import type * as A from "../../dsl/ast.js";
import type { CheckedProgram, LetBinding } from "../../dsl/check/index.js";
import type { Module } from "../../dsl/check/program.js";
import type { ArgSource } from "../../dsl/check/resolve.js";
import { omittable, type OpDecl } from "../../dsl/ops.js";
import type { Type } from "../../dsl/types.js";
import { optionsName, tsType } from "./api-ops.js";

/** Words a `.lth` name may be that a TypeScript `const` may not. */
const RESERVED = new Set(
  "break case catch class const continue debugger default delete do else enum export extends false finally for function if import in instanceof new null return super switch this throw true try typeof var void while with yield let static implements interface package private protected public await async of arguments eval undefined NaN Infinity percent epochs steps Experiment process".split(
    " ",
  ),
);

/**
 * `s` as a TypeScript string literal. JSON's escapes cover quotes, backslashes and control
 * characters; U+2028 and U+2029, which JSON leaves raw, end a line in TypeScript: raw, they
 * would end a `//` comment holding the literal and let the rest run as code, so they are
 * escaped too. Backticks, `${` and a comment's end are inert inside a double-quoted literal.
 */
export function jsString(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/**
 * A file's name for a `//` comment: as it is, unless it holds a line terminator (which would
 * end the comment and make the rest script) or another control character; then as a string
 * literal, which holds none raw.
 */
function commentText(s: string): string {
  return /[\u0000-\u001f\u007f\u2028\u2029]/.test(s) ? jsString(s) : s;
}

export interface CodegenOptions {
  /** Where the script will be written: relative paths in the program are rewritten from it. */
  readonly out: string;
}

export function codegen(program: CheckedProgram, options: CodegenOptions): string {
  return new ScriptWriter(program, options).write();
}

class ScriptWriter {
  private readonly names = new Map<string, string>();
  private readonly used = new Set<string>();
  private readonly ex: string;
  /** The options object each module's `defaults` block for an op became, once written. */
  private readonly defaultsConsts = new Map<Module, Map<string, string>>();
  /** What the script imports: values, and types (imported with `type`). */
  private readonly values = new Set<string>(["Experiment"]);
  private readonly types = new Set<string>();

  constructor(
    private readonly program: CheckedProgram,
    private readonly options: CodegenOptions,
  ) {
    for (const b of program.resolution.order) this.used.add(b.name);
    this.ex = this.fresh("ex");
  }

  /** A TypeScript name for a `.lth` name (the same, unless TypeScript reserves it). */
  private id(name: string): string {
    const known = this.names.get(name);
    if (known) return known;
    const safe = RESERVED.has(name) ? this.fresh(`${name}_`) : name;
    this.names.set(name, safe);
    return safe;
  }

  private fresh(base: string): string {
    let name = base;
    for (let n = 2; this.used.has(name) || RESERVED.has(name); n++) name = `${base}${n}`;
    this.used.add(name);
    return name;
  }

  private cite(module: Module, range: { start: number }): string {
    return `${this.leadingComments(module, range.start)}// ${commentText(basename(module.source.path))}:${module.source.position(range.start).line}`;
  }

  /**
   * The `.lth` file's comments written just above the item that starts at `start` (after the
   * item before it), as TypeScript comments: a pipeline's explanations stay with its statements.
   */
  private leadingComments(module: Module, start: number): string {
    const items = module.ast.items;
    const at = items.findIndex((i) => i.range.start === start);
    if (at < 0) return "";
    const from = at > 0 ? items[at - 1]!.range.end : 0;
    const comments = module.ast.comments.filter((c) => c.range.start >= from && c.range.end <= start);
    // A block comment that holds `*/` only at its end is valid TypeScript as it is; `//` lines too.
    return comments.map((c) => `${c.text}\n`).join("");
  }

  write(): string {
    const top = this.program.resolution.order.filter((b) => !b.block);
    const body = top.map((b) => this.letStatement(b)).join("\n\n");
    const reports = this.program.reports.map((r) => `// report ${r.title ? `${jsString(r.title.value)} ` : ""}{ ${r.names.map((n) => n.name).join(", ")} }`);
    const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Double } });
    const file = project.createSourceFile("script.ts", "");
    const source = commentText(basename(this.program.root.source.path));
    const imports = [...[...this.values].sort(), ...[...this.types].sort().map((t) => `type ${t}`)];
    // A script beside its pipeline runs from its own folder; one written elsewhere names the
    // pipeline's, so both use one store (`.lth/` there) and read data files from the same place.
    const base = this.baseFromScript();
    file.addStatements([
      `// Generated by \`lth codegen ${source}\`: the same stages, with the same keys, as \`lth run ${source}\`.`,
      base
        ? `// Run it with \`npx tsx\` on this file; its store is \`lth run ${source}\`'s, the \`.lth\` folder beside ${source} ($LTH_STORE overrides).`
        : "// Run it with `npx tsx` on this file; the store is the `.lth` folder beside it, as `lth run`'s ($LTH_STORE overrides).",
      ...(base ? ['import { fileURLToPath } from "node:url";'] : []),
      `import { ${imports.join(", ")} } from "lth";`,
    ]);
    const options = base ? `{ base: fileURLToPath(new URL(${jsString(base)}, import.meta.url)) }` : "";
    file.addVariableStatement({ declarationKind: VariableDeclarationKind.Const, declarations: [{ name: this.ex, initializer: `new Experiment(${options})` }] });
    // The library leaves the exit status alone; the script sets it from the counts, as `lth run` does.
    const run = [`// Exit status 1 when a stage failed, as \`lth run\`.`, `void ${this.ex}.run().then((counts) => {`, "  if (counts.failed > 0) process.exitCode = 1;", "});"].join("\n");
    file.addStatements([body, ...(reports.length ? [reports.join("\n")] : []), run]);
    file.formatText({ indentSize: 2, convertTabsToSpaces: true });
    return file.getFullText();
  }

  private letStatement(b: LetBinding): string {
    const name = this.id(b.name);
    const value = b.node.value;
    const cite = this.cite(b.module, b.node.range);
    const inner = value.kind === "Paren" ? value.inner : value;
    // The stage name `lth run` gives this binding: `dense`, or `rounds[${round}].pruned` in a block.
    const path = this.path === undefined ? b.name : `${this.path}.${b.name}`;
    // A defaults object a loop uses is declared before the loop, not in its block, where later statements could not see it.
    if (inner.kind === "Repeat" || inner.kind === "For") return `${this.defaultsFor(inner, b.module)}${cite}\n${this.loop(inner, b.module, name, path)}`;
    return `${this.defaultsFor(value, b.module)}${cite}\nconst ${name} = ${this.named(path, value, this.expr(value, b.module))};`;
  }

  /** The `.lth` stage-name prefix of the block being written (a template literal's body), or undefined at file level. */
  private path: string | undefined;

  /**
   * `ex.named("dense", () => …)` around an expression that makes stages, so the script's run
   * lines name them as `lth run` does; the expression itself elsewhere.
   */
  private named(path: string, e: A.Expr, text: string): string {
    const inner = e.kind === "Paren" ? e.inner : e;
    const call = inner.kind === "Call" ? inner : inner.kind === "Pipe" ? inner.call : undefined;
    const op = call && this.program.resolution.calls.get(call)?.op;
    if (!op || op.category === "architecture" || op.name === "last") return text;
    const name = path.includes("${") ? `\`${path}\`` : jsString(path);
    return `${this.ex}.named(${name}, () => ${text})`;
  }

  /** The `defaults` options objects an expression uses, written before their first use. */
  private defaultsFor(e: A.Expr, module: Module): string {
    const out: string[] = [];
    const visit = (x: A.Expr): void => {
      if (x.kind === "Call" || x.kind === "Pipe") {
        const call = x.kind === "Call" ? x : x.call;
        const entries = this.program.resolution.defaults.get(module)?.get(call.op.name);
        const byModule = this.defaultsConsts.get(module) ?? new Map<string, string>();
        this.defaultsConsts.set(module, byModule);
        const op = this.program.resolution.calls.get(call)?.op;
        if (entries && op && !byModule.has(op.name)) {
          const optional = [...entries.values()].filter((a) => { const p = op.params.find((q) => q.name === a.name!.name); return p !== undefined && omittable(p); });
          if (optional.length) {
            const name = this.fresh(`${op.name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase())}Defaults`);
            byModule.set(op.name, name);
            this.types.add(optionsName(op));
            const fields = optional.map((a) => `${a.name!.name}: ${this.argValue(op, a.name!.name, a.value, module)}`);
            out.push(`${this.cite(module, optional[0]!.range)} (defaults ${op.name})\nconst ${name}: ${optionsName(op)} = { ${fields.join(", ")} };\n\n`);
          }
        }
      }
      for (const child of children(x)) visit(child);
      if (x.kind === "Repeat" || x.kind === "For") {
        for (const b of this.program.resolution.blockOrder.get(x) ?? []) visit(b.node.value);
        visit(x.body.result);
      }
    };
    visit(e);
    return out.join("");
  }

  private loop(e: A.RepeatExpr | A.ForExpr, module: Module, name: string, path?: string): string {
    const element = this.typeName(this.program.info.get(e)?.type, true);
    const variable = this.id(e.variable.name);
    const round = e.kind === "Repeat" ? this.fresh("round") : undefined;
    // Each round's stages are named `rounds[k]…`, as `lth run` names them; k from the loop's own counter.
    const outer = this.path;
    const index = round ?? (e.kind === "For" && e.replicate ? `${variable} - 1` : `${name}.length`);
    this.path = path === undefined ? undefined : `${path}[\${${index}}]`;
    const lets = (this.program.resolution.blockOrder.get(e) ?? []).map((b) => this.letStatement(b));
    const defaults = this.defaultsFor(e.body.result, module);
    const rawResult = this.expr(e.body.result, module);
    const result = this.path === undefined ? rawResult : this.named(this.path, e.body.result, rawResult);
    this.path = outer;
    // `readonly Net[]` elements need parentheses: `readonly Net[][]` would be a readonly array, with no push.
    const declare = `const ${name}: ${/^[\w.]+$/.test(element) ? element : `(${element})`}[] = [];`;
    if (e.kind === "Repeat") {
      const count = this.expr(e.count, module);
      const from = this.expr(e.from, module);
      return [
        declare,
        `for (let ${round} = 0, ${variable} = ${from}; ${round} < ${count}; ${round}++) {`,
        ...lets,
        `${defaults}${variable} = ${result};`,
        `${name}.push(${variable});`,
        "}",
      ].join("\n");
    }
    // A replicate block: the API's replicate, which calls the block with its variable 1 … N.
    if (e.replicate) {
      const type = /^[\w.]+$/.test(element) ? element : `(${element})`;
      return [`const ${name}: ${type}[] = ${this.ex}.replicate(${this.expr(e.replicate.count, module)}, (${variable}) => {`, ...lets, `${defaults}return ${result};`, "});"].join("\n");
    }
    return [declare, `for (const ${variable} of ${this.expr(e.over, module)}) {`, ...lets, `${defaults}${name}.push(${result});`, "}"].join("\n");
  }

  /** The TypeScript type of a list's elements, for the loop's array. */
  private typeName(t: Type | undefined, element: boolean): string {
    const inner = element && t?.kind === "List" ? t.element : t;
    if (!inner) return "unknown";
    const name = tsType(inner, "param");
    for (const word of name.match(/\b(Net|Dataset|Metrics|Num|Arch|Percent|Duration)\b/g) ?? []) this.types.add(word);
    return name;
  }

  private expr(e: A.Expr, module: Module): string {
    switch (e.kind) {
      case "Number":
        return e.text;
      case "Percent":
        this.values.add("percent");
        return `percent(${e.value})`;
      case "Duration":
        this.values.add(e.unit);
        return `${e.unit}(${e.text})`;
      case "Quantity":
        throw new Error(`internal: ${e.text} ${e.unit} outside a resources block reached codegen`);
      case "String":
        return jsString(e.value);
      case "Bool":
        return String(e.value);
      case "Negate":
        return `-${this.expr(e.operand, module)}`;
      case "Paren":
        return `(${this.expr(e.inner, module)})`;
      case "List": {
        const items = `[${e.items.map((i) => this.expr(i, module)).join(", ")}]`;
        // Enum values stay their literal types (`"snip" | "grasp"`), which the op methods take.
        const type = this.program.info.get(e)?.type;
        return type?.kind === "List" && type.element.kind === "Enum" ? `(${items} as const)` : items;
      }
      case "Name": {
        const enumValue = this.program.resolution.enumArgs.get(e);
        return enumValue !== undefined ? jsString(enumValue) : this.id(e.name);
      }
      case "Index": {
        const target = this.expr(e.target, module);
        const index = this.expr(e.index, module);
        return index.startsWith("-") ? `${target}.at(${index})!` : `${target}[${index}]!`;
      }
      case "Call":
        return this.call(e, module);
      case "Pipe":
        return this.call(e.call, module);
      case "Repeat":
      case "For": {
        const name = this.fresh("items");
        return `(() => {\n${this.loop(e, module, name)}\nreturn ${name};\n})()`;
      }
      case "Missing":
        throw new Error("internal: a syntax hole reached the code generator");
    }
  }

  private call(call: A.CallExpr, module: Module): string {
    const resolved = this.program.resolution.calls.get(call)!;
    const op = resolved.op;
    const positional: string[] = [];
    const named: string[] = [];
    let spread: string | undefined;
    for (const p of op.params) {
      const source: ArgSource | undefined = resolved.args.get(p.name);
      if (!source || source.kind === "default") continue;
      if (source.kind === "defaults" && omittable(p)) {
        spread = this.defaultsConsts.get(module)?.get(op.name);
        continue;
      }
      const value = source.kind === "arg" ? source.value : source.entry.value;
      const text = this.argValue(op, p.name, value, module);
      if (omittable(p)) named.push(`${p.name}: ${text}`);
      // A required parameter is positional in the API; where the file named it, so does the script.
      else positional.push(source.kind === "arg" && source.name ? `/* ${p.name} */ ${text}` : text);
    }
    const options = spread && named.length === 0 ? spread : named.length ? `{ ${[...(spread ? [`...${spread}`] : []), ...named].join(", ")} }` : undefined;
    return `${this.ex}.${op.name}(${[...positional, ...(options ? [options] : [])].join(", ")})`;
  }

  /** An argument's text; a relative path is rewritten to hold from the experiment's base folder (the pipeline's). */
  private argValue(op: OpDecl, param: string, value: A.Expr, module: Module): string {
    const decl = op.params.find((p) => p.name === param);
    if (decl?.unit === "path" && value.kind === "String") {
      const absolute = resolvePath(dirname(module.source.path), value.value);
      const rel = relative(dirname(this.program.root.source.path), absolute).split(sep).join("/");
      return jsString(value.value.startsWith("/") ? absolute : rel);
    }
    return this.expr(value, module);
  }

  /** The pipeline's folder as a URL relative to the script's (`../pipelines/`), or undefined when they are one folder. */
  private baseFromScript(): string | undefined {
    const pipeline = dirname(resolvePath(this.program.root.source.path));
    const script = dirname(resolvePath(this.options.out));
    if (pipeline === script) return undefined;
    const rel = relative(script, pipeline).split(sep).join("/");
    return `${rel.startsWith(".") ? rel : `./${rel}`}/`;
  }
}

function children(e: A.Expr): A.Expr[] {
  switch (e.kind) {
    case "Call":
      return e.args.map((a) => a.value);
    case "Pipe":
      return [e.input, ...e.call.args.map((a) => a.value)];
    case "List":
      return [...e.items];
    case "Index":
      return [e.target, e.index];
    case "Negate":
      return [e.operand];
    case "Paren":
      return [e.inner];
    case "Repeat":
      return [e.count, e.from];
    case "For":
      return e.replicate ? [e.replicate.count] : [e.over];
    default:
      return [];
  }
}
