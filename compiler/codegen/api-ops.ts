// Writes runtime/api/ops.generated.ts from the op table: one typed method per op, required
// parameters positional, the others in an options object, so a script's calls are checked
// against the same declarations as a `.lth` file. A test keeps the file in step with the table.

import { omittable, OPS, type OpDecl, type ParamDecl } from "../../dsl/ops.js";
import { showValue, type Type } from "../../dsl/types.js";

/** The TypeScript type of a parameter or result. */
/**
 * `result`: what an op returns (a Number is a stage's `Num`); `param`: what a parameter takes
 * (a Number may also be a `Num` another stage computes); `static`: a value known before
 * anything runs (an architecture's numbers).
 */
export type TypeUse = "result" | "param" | "static";

export function tsType(t: Type, use: TypeUse = "result"): string {
  switch (t.kind) {
    case "Int":
      return "number";
    case "Number":
      return use === "param" ? "number | Num" : use === "static" ? "number" : "Num";
    case "Percent":
      return "Percent";
    case "Duration":
      return "Duration";
    case "String":
      return "string";
    case "Bool":
      return "boolean";
    case "Enum":
      return t.values.map((v) => JSON.stringify(v)).join(" | ");
    case "List":
      return `readonly ${wrap(tsType(t.element, use === "result" ? "static" : use))}[]`;
    case "Var":
      return t.name;
    case "Dataset":
    case "Arch":
    case "Net":
    case "Metrics":
      return t.kind;
    case "Empty":
    case "Unknown":
      return "never";
  }
}

/** An architecture is a description: its numbers must be known before anything runs. */
function paramUse(op: OpDecl): TypeUse {
  return op.category === "architecture" ? "static" : "param";
}

function wrap(t: string): string {
  return /[ |]/.test(t) ? `(${t})` : t;
}

export function optionsName(op: OpDecl): string {
  return `${op.name.split("_").map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")}Options`;
}

function doc(p: ParamDecl): string {
  const parts = [p.doc];
  if (p.default && p.default.kind !== "Param") parts.push(`default ${showValue(p.default)}`);
  if (p.default?.kind === "Param") parts.push(`default: the value of \`${p.default.name}\``);
  if (p.requiredWhen) parts.push(`required when ${p.requiredWhen.param} is ${p.requiredWhen.values.join(" or ")}`);
  return `/** ${parts.join("; ")} */`;
}

function method(op: OpDecl): string[] {
  const required = op.params.filter((p) => !omittable(p));
  const optional = op.params.filter(omittable);
  const generic = op.params.some((p) => p.type.kind === "List" && p.type.element.kind === "Var") ? "<T>" : "";
  const use = paramUse(op);
  const args = [...required.map((p) => `${p.name}: ${tsType(p.type, use)}`), ...(optional.length ? [`options: ${optionsName(op)} = {}`] : [])];
  const values = [...required.map((p) => p.name), ...(optional.length ? ["...options"] : [])];
  return [
    `  /** ${op.doc} */`,
    `  ${op.name}${generic}(${args.join(", ")}): ${tsType(op.result)} {`,
    `    return this.call(${JSON.stringify(op.name)}, { ${values.join(", ")} }) as ${tsType(op.result)};`,
    "  }",
  ];
}

export function apiOpsSource(): string {
  const lines = [
    "// Generated from dsl/ops.ts by compiler/codegen/api-ops.ts; do not edit.",
    "// `UPDATE_API=1 npx vitest run tests/compiler/codegen.test.ts` rewrites it after the op table changes.",
    "",
    'import type { Arch, Dataset, Duration, Metrics, Net, Num, Percent } from "./values.js";',
    "",
  ];
  for (const op of OPS.values()) {
    const optional = op.params.filter(omittable);
    if (!optional.length) continue;
    lines.push(`/** The optional parameters of \`${op.name}\`. */`, `export interface ${optionsName(op)} {`);
    for (const p of optional) lines.push(`  ${doc(p)}`, `  readonly ${p.name}?: ${tsType(p.type, paramUse(op))};`);
    lines.push("}", "");
  }
  lines.push(
    "/** Every op of the standard library as a typed method; `call` builds the stage. */",
    "export abstract class Ops {",
    "  protected abstract call(op: string, args: Readonly<Record<string, unknown>>): unknown;",
    "",
  );
  const methods = [...OPS.values()].map(method);
  methods.forEach((m, i) => lines.push(...m, ...(i + 1 < methods.length ? [""] : [])));
  lines.push("}", "");
  return lines.join("\n");
}
