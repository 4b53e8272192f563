// `resources op { gpus: 1, cpus: 4, mem: 16 GB, time: 2 h }`: what each batch job of an op
// asks a cluster for (lth run --executor slurm). Checked here, entry by entry, with the
// codes every other argument gets; the values are written out (no bindings), and they are
// never part of a stage's key: changing them reruns nothing.

import type * as A from "../ast.js";
import { error, type Diagnostic } from "../diagnostics.js";
import { lookupOp, OPS } from "../ops.js";
import type { SourceFile } from "../source.js";
import { closest } from "./suggest.js";

/** What a job of the op asks for; an absent field is the site's default. */
export interface OpResources {
  readonly cpus?: number;
  readonly gpus?: number;
  /** Memory in MiB, as SLURM reads `--mem=16G` (16 GB is 16,384 MiB). */
  readonly memMiB?: number;
  /** A time limit in whole minutes, rounded up. */
  readonly minutes?: number;
}

export const MEMORY_UNITS: ReadonlySet<A.QuantityUnit> = new Set(["KB", "MB", "GB", "TB"]);
/** MiB per unit: SLURM's K, M, G and T are binary. */
const MIB: Record<string, number> = { KB: 1 / 1024, MB: 1, GB: 1024, TB: 1024 * 1024 };
const MINUTES: Record<string, number> = { s: 1 / 60, min: 1, h: 60, d: 24 * 60 };

const FIELDS = ["cpus", "gpus", "mem", "time"] as const;
type Field = (typeof FIELDS)[number];

/**
 * Checks the `resources` blocks of one file; returns its table by op (two blocks for one op
 * merge, as `defaults` do), reporting into `diagnostics`.
 */
export function checkResources(source: SourceFile, items: readonly A.Item[], diagnostics: Diagnostic[]): Map<string, OpResources> {
  const table = new Map<string, Record<string, number>>();
  const report = (range: A.Identifier["range"], code: Diagnostic["code"], message: string) => diagnostics.push(error(source, range, code, message));
  for (const item of items) {
    if (item.kind !== "Resources") continue;
    const op = lookupOp(item.op.name);
    if (!op) {
      report(item.op.range, "unknown-op", `unknown op '${item.op.name}' in resources${hint(item.op.name, [...OPS.keys()])}`);
      continue;
    }
    const entry: Record<string, number> = { ...(table.get(op.name) ?? {}) };
    const given = new Set<string>();
    for (const arg of item.args) {
      // An unnamed entry is a syntax error already (build-ast.ts).
      if (!arg.name) continue;
      const name = arg.name.name;
      if (!(FIELDS as readonly string[]).includes(name)) {
        const suggestion = closest(name, FIELDS);
        report(arg.name.range, "unknown-param", `a resources block has no '${name}'${suggestion ? ` (did you mean '${suggestion}'?)` : ""}: its entries are cpus, gpus, mem (16 GB) and time (2 h)`);
        continue;
      }
      if (given.has(name)) {
        report(arg.name.range, "duplicate-arg", `'${name}' is given twice in the resources of '${op.name}'`);
        continue;
      }
      given.add(name);
      const value = fieldValue(name as Field, arg.value, report);
      if (value === undefined) continue;
      entry[name === "mem" ? "memMiB" : name === "time" ? "minutes" : name] = value;
    }
    table.set(op.name, entry);
  }
  return table as Map<string, OpResources>;
}

function fieldValue(field: Field, v: A.Expr, report: (range: A.Expr["range"], code: Diagnostic["code"], message: string) => void): number | undefined {
  if (field === "cpus" || field === "gpus") {
    if (v.kind !== "Number" || !v.integer) {
      report(v.range, "type-mismatch", `${field} takes a whole number written out (${field === "cpus" ? "cpus: 4" : "gpus: 1"}); found ${describe(v)}`);
      return undefined;
    }
    const least = field === "cpus" ? 1 : 0;
    if (v.value < least || !Number.isSafeInteger(v.value)) {
      report(v.range, "out-of-range", `${field} must be at least ${least}; found ${v.text}`);
      return undefined;
    }
    return v.value;
  }
  const units = field === "mem" ? MIB : MINUTES;
  const example = field === "mem" ? "mem: 16 GB (KB, MB, GB or TB)" : "time: 2 h (s, min, h or d)";
  if (v.kind !== "Quantity" || !(v.unit in units)) {
    report(v.range, "type-mismatch", `${field} takes ${field === "mem" ? "a memory size" : "a time"}: ${example}; found ${describe(v)}`);
    return undefined;
  }
  const amount = Math.ceil(v.value * units[v.unit]!);
  if (!(v.value > 0) || !Number.isSafeInteger(amount)) {
    report(v.range, "out-of-range", `${field} must be more than 0 and of a size SLURM takes; found ${v.text} ${v.unit}`);
    return undefined;
  }
  return amount;
}

function describe(v: A.Expr): string {
  switch (v.kind) {
    case "Number":
      return v.text;
    case "Quantity":
      return `${v.text} ${v.unit}`;
    case "Percent":
      return `${v.text}%`;
    case "Duration":
      return `${v.text} ${v.unit}`;
    case "String":
      return JSON.stringify(v.value);
    case "Name":
      return `'${v.name}' (a resources entry is written out, not a binding)`;
    default:
      return "an expression (a resources entry is a number or a quantity written out)";
  }
}

function hint(name: string, among: readonly string[] | undefined): string {
  const suggestion = among ? closest(name, among) : undefined;
  return suggestion ? `; did you mean '${suggestion}'?` : "";
}
