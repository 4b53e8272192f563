// Which initialisation a net descends from, read from the text alone: `rewind(net, to: other)`
// needs both from the same `init`, and the checker says so at the call when they cannot be
// (issue 20). A net's lineage is the set of `init` (or `reinit`, which starts a new one) calls
// it may come from; ops that transform a net keep its `net` argument's lineage. Where the text
// cannot tell (an op the rules do not know, a loop variable over computed values), the answer
// is "unknown" and nothing is reported: the runtime's own check still stands.

import type * as A from "../ast.js";
import type { ArgSource, Resolution } from "./resolve.js";
import type { Value } from "../types.js";

export type Lineage = ReadonlySet<A.CallExpr> | "unknown";

/** Ops whose result starts a lineage of its own. */
const ORIGINS = new Set(["init", "reinit"]);

export class Lineages {
  private readonly memo = new Map<A.Expr, Lineage>();
  private readonly active = new Set<A.Expr>();

  constructor(private readonly resolution: Resolution) {}

  of(e: A.Expr): Lineage {
    const known = this.memo.get(e);
    if (known) return known;
    // A loop's variable reads the loop's own result: what is being computed adds nothing.
    if (this.active.has(e)) return new Set();
    this.active.add(e);
    const result = this.compute(e);
    this.active.delete(e);
    this.memo.set(e, result);
    return result;
  }

  private compute(e: A.Expr): Lineage {
    switch (e.kind) {
      case "Paren":
        return this.of(e.inner);
      case "Call":
        return this.call(e);
      case "Pipe":
        return this.call(e.call);
      case "List":
        return union(e.items.map((i) => this.of(i)));
      case "Index":
        return this.of(e.target);
      case "Repeat":
      case "For":
        return this.of(e.body.result);
      case "Name": {
        const binding = this.resolution.refs.get(e);
        if (!binding) return "unknown";
        if (binding.kind === "let") return this.of(binding.node.value);
        const loop = binding.loop;
        if (loop.kind === "Repeat") return union([this.of(loop.from), this.of(loop.body.result)]);
        return loop.replicate ? "unknown" : this.of(loop.over);
      }
      default:
        return "unknown";
    }
  }

  private call(call: A.CallExpr): Lineage {
    const resolved = this.resolution.calls.get(call);
    if (!resolved) return "unknown";
    const { op } = resolved;
    if (ORIGINS.has(op.name)) return new Set([call]);
    if (op.name === "last") return this.arg(resolved.args.get("xs"));
    if (op.result.kind === "Net" && op.params[0]?.name === "net") return this.arg(resolved.args.get("net"));
    return "unknown";
  }

  private arg(source: ArgSource | undefined): Lineage {
    return source?.kind === "arg" ? this.of(source.value) : "unknown";
  }
}

function union(parts: readonly Lineage[]): Lineage {
  if (parts.some((p) => p === "unknown")) return "unknown";
  const out = new Set<A.CallExpr>();
  for (const p of parts) for (const c of p as ReadonlySet<A.CallExpr>) out.add(c);
  return out;
}

/**
 * Whether two `init` calls surely make different weights: some argument whose value the text
 * fixes (seed, scheme) differs, or one is a `reinit`. Two calls with the same values (two
 * `init(…, seed: 1)` lines) make the same weights, so they count as one lineage.
 */
export function surelyDifferent(a: A.CallExpr, b: A.CallExpr, resolution: Resolution, valueOf: (e: A.Expr) => Value | undefined): boolean {
  if (a === b) return false;
  const ra = resolution.calls.get(a);
  const rb = resolution.calls.get(b);
  if (!ra || !rb) return false;
  if (ra.op.name === "reinit" || rb.op.name === "reinit") return true;
  for (const param of ["seed", "scheme"]) {
    const va = staticOf(ra.args.get(param), valueOf);
    const vb = staticOf(rb.args.get(param), valueOf);
    if (va !== undefined && vb !== undefined && va !== vb) return true;
  }
  return false;
}

function staticOf(source: ArgSource | undefined, valueOf: (e: A.Expr) => Value | undefined): string | undefined {
  if (!source) return undefined;
  if (source.kind === "default") return source.value.kind === "Param" ? undefined : JSON.stringify(source.value);
  if (source.kind !== "arg") return undefined;
  const v = valueOf(source.value);
  return v ? JSON.stringify(v) : undefined;
}
