// The op table as people read it: signatures (LANGUAGE.md's notation), the `lth ops`
// listing, the Markdown table in dsl/LANGUAGE.md, and JSON for tools.

import { LANGUAGE_VERSION, OPS, type Bounds, type DefaultValue, type OpCategory, type OpDecl, type ParamDecl } from "./ops.js";
import { showType, showValue, type Type } from "./types.js";

/** A parameter's default as the language writes it (`0.1`, `layerwise`, or another parameter's name). */
export function showDefault(d: DefaultValue): string {
  return d.kind === "Param" ? d.name : showValue(d);
}

function showParam(p: ParamDecl): string {
  return `${p.name}${p.optional ? "?" : ""}: ${showType(p.type)}${p.default ? ` = ${showDefault(p.default)}` : ""}`;
}

/** `train(net: Net, data: Dataset, length: Duration, lr: Number = 0.1, ...) -> Net` */
export function signature(op: OpDecl): string {
  return `${op.name}(${op.params.map(showParam).join(", ")}) -> ${showType(op.result)}`;
}

export function showBounds(b: Bounds | undefined, type: Type): string {
  if (!b) return "";
  const unit = type.kind === "Percent" ? "%" : "";
  if (b.oneOf) return b.oneOf.join("|");
  const lo = b.min === undefined ? "" : `${b.minExclusive ? ">" : "≥"}${b.min}${unit}`;
  const hi = b.max === undefined ? "" : `${b.maxExclusive ? "<" : "≤"}${b.max}${unit}`;
  return [lo, hi].filter(Boolean).join(", ");
}

const CATEGORY_ORDER: readonly OpCategory[] = ["data", "architecture", "training", "pruning", "analysis", "list"];

function byCategory(): [OpCategory, OpDecl[]][] {
  return CATEGORY_ORDER.map((c) => [c, [...OPS.values()].filter((op) => op.category === c)] as [OpCategory, OpDecl[]]).filter(
    ([, ops]) => ops.length > 0,
  );
}

function padColumns(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ").trimEnd());
}

/** The listing `lth ops` prints. */
export function renderOpsText(): string {
  const lines = [`lth standard library, language version ${LANGUAGE_VERSION}: ${OPS.size} ops`, ""];
  for (const [category, ops] of byCategory()) {
    lines.push(`${category}:`);
    for (const op of ops) {
      lines.push(`  ${signature(op)}    [v${op.version}]`, `      ${op.doc}`);
      if (op.params.length > 0) {
        const rows = op.params.map((p) => [
          p.name,
          showType(p.type),
          [showBounds(p.bounds ?? p.elementBounds, p.type), p.unit ?? ""].filter(Boolean).join(" "),
          p.default ? `= ${showDefault(p.default)}` : p.requiredWhen ? `required when ${p.requiredWhen.param} is ${p.requiredWhen.values.join("|")}` : p.optional ? "optional" : "required",
          p.doc,
        ]);
        for (const row of padColumns(rows)) lines.push(`      ${row}`);
      }
      for (const c of op.constraints ?? []) lines.push(`      requires ${c.doc}`);
      lines.push("");
    }
  }
  return lines.join("\n");
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, "\\|");
}

/** The standard-library table of dsl/LANGUAGE.md. */
export function renderOpsMarkdown(): string {
  const rows = [...OPS.values()].map((op) => {
    const params = `(${op.params.map(showParam).join(", ")}) -> ${showType(op.result)}`;
    const rules = (op.constraints ?? []).map((c) => `; ${c.doc}`).join("");
    return `| \`${op.name}\` | \`${escapeCell(params)}\` | ${escapeCell(op.doc + rules)} |`;
  });
  return ["| op | signature | what it does |", "|---|---|---|", ...rows].join("\n");
}

/** The op table for tools: `lth ops --json`. */
export function opsJson(): unknown {
  return {
    languageVersion: LANGUAGE_VERSION,
    ops: [...OPS.values()].map((op) => ({
      name: op.name,
      version: op.version,
      category: op.category,
      doc: op.doc,
      signature: signature(op),
      result: showType(op.result),
      params: op.params.map((p) => ({
        name: p.name,
        type: showType(p.type),
        doc: p.doc,
        ...(p.unit ? { unit: p.unit } : {}),
        ...(p.bounds ? { bounds: p.bounds } : {}),
        ...(p.elementBounds ? { elementBounds: p.elementBounds } : {}),
        ...(p.units ? { units: p.units } : {}),
        required: p.default === undefined && !p.optional,
        ...(p.requiredWhen ? { requiredWhen: p.requiredWhen } : {}),
        ...(p.default ? { default: showDefault(p.default) } : {}),
      })),
      constraints: (op.constraints ?? []).map((c) => c.doc),
    })),
  };
}
