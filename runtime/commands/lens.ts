// What an editor shows beside each binding of a pipeline (`lth lsp`'s code lenses): from the
// store beside the file, whether its result is cached and what it is (`cached · 95.80% ·
// 21.1% of weights`), or why it will run (`will run: params changed (rate 20% → 25%)`).
// Plans like `lth plan`: loads no tensor engine and runs nothing.

import { dirname } from "node:path";
import { compile } from "../../compiler/compile.js";
import { stagesOf, type CompiledValue, type StageId } from "../../compiler/stage.js";
import { checkProgram, ModuleLoader } from "../../dsl/check/index.js";
import { describeReason, plan, resultsOf, selectStages, type PlannedStage } from "../plan.js";
import { netFigures } from "../report/aggregate.js";
import { openStore } from "./pipeline.js";
import type { Artifact } from "../artifacts.js";

/** One binding's line: its name and what to say of it. */
export interface BindingLens {
  readonly name: string;
  readonly title: string;
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function summary(a: Artifact): string {
  switch (a.kind) {
    case "Net": {
      const f = netFigures(a.net);
      const share = f.weights.remaining / Math.max(1, f.weights.total);
      return `${f.accuracy === null ? "not measured" : pct(f.accuracy)} · ${(100 * share).toFixed(1)}% of weights`;
    }
    case "Metrics":
      return `${pct(a.metrics.accuracy)} · loss ${a.metrics.loss.toFixed(4)}`;
    case "Number":
      return Number(a.value.toPrecision(4)).toString();
    case "Dataset":
      return `${a.dataset.train.n.toLocaleString("en")} train / ${a.dataset.test.n.toLocaleString("en")} test`;
  }
}

/** Each top-level binding's lens, or nothing when the file does not check (its diagnostics say why). */
export function bindingLenses(file: string, loader: ModuleLoader = new ModuleLoader()): BindingLens[] {
  const checked = checkProgram(file, loader);
  if ("problem" in checked || !checked.ok) return [];
  const graph = compile(checked.program);
  const store = openStore(graph, undefined, dirname(file));
  // One plan of every stage serves every binding's lens and read.
  const planned = new Map<StageId, PlannedStage>(plan(graph, store, selectStages(graph)).map((p) => [p.stage.id, p]));
  const lenses: BindingLens[] = [];
  for (const [name, value] of graph.bindings) {
    const title = lensOf(value, planned, resultsOf(planned, store, `lth run ${file} ${name}`));
    if (title) lenses.push({ name, title });
  }
  return lenses;
}

function lensOf(value: CompiledValue, planned: ReadonlyMap<StageId, PlannedStage>, read: ReturnType<typeof resultsOf>): string | undefined {
  const ids = stagesOf(value);
  if (ids.length === 0) return undefined;
  const pending = ids.map((id) => planned.get(id)!).filter((p) => p.decision.status === "run");
  if (pending.length) {
    const p = pending[0]!;
    const d = p.decision as Extract<PlannedStage["decision"], { status: "run" }>;
    const more = pending.length > 1 ? ` (and ${pending.length - 1} more of its ${ids.length} stages)` : "";
    return `will run: ${describeReason(d.reason, p.stage.op)}${more}`;
  }
  if (value.kind === "list") return `cached · ${value.items.length} items`;
  const result = read(ids[0]!);
  return "artifact" in result ? `cached · ${summary(result.artifact)}` : `not available: ${result.why}`;
}
