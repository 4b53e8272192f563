// `lth show FILE NAME`: one binding's computed value, read (and hash-checked) from the store.

import { stagesOf, type CompiledValue, type StageId } from "../../compiler/stage.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { presentRecords, recordLines } from "../methods/records.js";
import { sparsity } from "../core/net.js";
import { aggregate, isListAggregate, netFigures, type Aggregate, type ListAggregate, type Stats } from "../report/aggregate.js";
import { collect } from "../report/report.js";
import { tableRows, toCsv } from "../report/table.js";
import { cachedResults, NotComputed, problems, resolveTargets, selectStages, type CachedResult } from "../plan.js";
import { loadPipeline, openStore, stageWhere } from "./pipeline.js";

export function showCommand(file: string, name: string, options: { json?: boolean; csv?: boolean; store?: string }, io: CommandIO): number {
  const loaded = loadPipeline(file, io, options.json ? "array" : undefined);
  if (!loaded) return EXIT.usage;
  const { graph } = loaded;
  const value: CompiledValue | undefined = graph.bindings.get(name) ?? stageValue(name);
  function stageValue(n: string): CompiledValue | undefined {
    const t = resolveTargets(graph, [n]);
    return "ids" in t && t.ids.length === 1 ? { kind: "stage", stage: t.ids[0]! } : undefined;
  }
  if (!value) {
    io.err(`lth show: ${file} has no binding named '${name}'; bindings: ${[...graph.bindings.keys()].join(", ")}`);
    return EXIT.usage;
  }
  const store = openStore(graph, options.store, io.cwd);
  const stages = selectStages(graph, stagesOf(value));
  const bad = problems(stages);
  for (const p of bad) io.err(`${stageWhere(p.stage, io.cwd)}: error: ${p.message}`);
  if (bad.length) return EXIT.usage;
  if (options.csv) {
    if (options.json) {
      io.err("lth show: --csv and --json are two formats; give one");
      return EXIT.usage;
    }
    // The report's table for this one binding (its nets; a replicate block's aggregate).
    const named = graph.bindings.has(name) ? { graph } : undefined;
    if (!named) {
      io.err(`lth show --csv: '${name}' is a stage, not a binding; --csv tabulates a binding's nets (bindings: ${[...graph.bindings.keys()].join(", ")})`);
      return EXIT.usage;
    }
    const contents = collect(graph, store, [name], file);
    for (const m of contents.missing) io.err(`lth show: ${m.name}: ${m.why}`);
    if (contents.missing.length) return EXIT.failed;
    io.out(toCsv(tableRows(name, contents.nets, contents.replicates, contents.replicateNets)).replace(/\n$/, ""));
    return EXIT.ok;
  }
  const read = cachedResults(graph, store, stagesOf(value), `lth run ${file} ${name}`);
  try {
    const json = toJson(value, read);
    io.out(options.json ? JSON.stringify(json, null, 1) : text(name, json).join("\n"));
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof NotComputed)) throw e;
    io.err(`lth show: ${e.message}`);
    return EXIT.failed;
  }
}

type Json = { [key: string]: unknown };

function toJson(v: CompiledValue, read: (id: StageId) => CachedResult): Json {
  if (v.kind === "list") {
    const items = v.items.map((item) => toJson(item, read));
    // Replicate k ran with its variable bound to k + 1.
    return v.replicates ? { type: "Replicates", count: items.length, items, aggregate: aggregate(items) } : { type: "List", items };
  }
  if (v.kind === "static") return typeof v.value === "number" ? { type: "Number", value: v.value } : { type: "Value", value: v.value };
  const { stage, artifact, path, backend } = read(v.stage);
  const where = { stage: stage.id, artifact: path, backend };
  switch (artifact.kind) {
    case "Net": {
      const net = artifact.net;
      // Accuracy only from a measurement of these very parameters (a pruned net's inherited
      // history is its parent's), and the early-stopping point of the training that made them.
      const { earlyStop, ...figures } = netFigures(net);
      return {
        type: "Net",
        ...figures,
        layers: sparsity(net),
        history: net.history.map((h) => ({
          step: h.step,
          epoch: h.epoch,
          accuracy: h.accuracy,
          loss: h.loss,
          ...(h.validationLoss !== undefined ? { validationLoss: h.validationLoss, validationAccuracy: h.validationAccuracy } : {}),
        })),
        // The early-stopping point (lowest validation loss): step, epoch, validation loss and
        // accuracy, and test accuracy and loss there.
        ...(earlyStop ? { earlyStop } : {}),
        steps: net.steps,
        // Each method's record under its name, as the method presents it.
        ...Object.fromEntries(presentRecords(net).map((r) => [r.name, r.json])),
        ...where,
      };
    }
    case "Metrics":
      return { type: "Metrics", accuracy: artifact.metrics.accuracy, loss: artifact.metrics.loss, ...where };
    case "Number":
      return { type: "Number", value: artifact.value, ...where };
    case "Dataset": {
      const d = artifact.dataset;
      return { type: "Dataset", name: d.name, train: d.train.n, test: d.test.n, ...(d.validation ? { validation: d.validation.n } : {}), classes: d.classes, inputShape: d.inputShape, ...where };
    }
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

/** Multiply-adds of a forward pass, and the speed-up a kernel that skipped removed weights would give. */
function flopsLine(f: { total: number; remaining: number }, indent: string): string {
  return `${indent}  multiply-adds a forward pass: ${Math.round(f.remaining).toLocaleString("en")} of ${Math.round(f.total).toLocaleString("en")} (${pct(f.remaining / f.total)}; ${f.remaining > 0 ? `${(f.total / f.remaining).toFixed(2)}× fewer` : "none left"})`;
}

function text(name: string, j: Json, indent = ""): string[] {
  switch (j["type"]) {
    case "List":
      return [`${indent}${name}: a list of ${(j["items"] as Json[]).length}`, ...(j["items"] as Json[]).flatMap((item, i) => text(`[${i}]`, item, `${indent}  `))];
    case "Replicates": {
      const items = j["items"] as Json[];
      return [
        `${indent}${name}: ${items.length} replicates (seed 1${items.length > 1 ? `…${items.length}` : ""}); mean ± standard deviation [min, max]`,
        ...aggregateLines(j["aggregate"] as Aggregate | ListAggregate, `${indent}  `),
        ...items.flatMap((item, i) => text(`[${i}] (seed ${i + 1})`, item, `${indent}  `)),
      ];
    }
    case "Net": {
      const w = j["weights"] as { total: number; remaining: number };
      const acc = j["accuracy"] as number | null;
      const history = j["history"] as { step: number; epoch: number; accuracy: number; loss: number; validationLoss?: number; validationAccuracy?: number }[];
      const unmeasured = history.length ? ", test accuracy not measured: its weights or mask changed after the last measurement (evaluate(net, data) measures it)" : ", untrained";
      const lines = [
        `${indent}${name}: Net (${j["stage"]}, ${j["backend"] ?? "computed without a tensor engine"})${acc === null ? unmeasured : `, test accuracy ${pct(acc)}, loss ${(j["loss"] as number).toFixed(4)}`}`,
        `${indent}  weights: ${w.remaining} of ${w.total} remaining (${pct(w.remaining / w.total)})`,
        ...(j["flops"] ? [flopsLine(j["flops"] as { total: number; remaining: number }, indent)] : []),
      ];
      for (const line of recordLines(j)) lines.push(`${indent}  ${line}`);
      const early = j["earlyStop"] as { step: number; epoch: number; validationLoss: number; validationAccuracy: number; testAccuracy: number; testLoss: number } | undefined;
      if (early) {
        lines.push(
          `${indent}  early stop (lowest validation loss): step ${early.step} (epoch ${early.epoch.toFixed(2)}), validation loss ${early.validationLoss.toFixed(4)}, validation accuracy ${pct(early.validationAccuracy)}, test accuracy ${pct(early.testAccuracy)}, test loss ${early.testLoss.toFixed(4)}`,
        );
      }
      const layers = j["layers"] as { name: string; total: number; remaining: number }[];
      const nameWidth = Math.max(6, ...layers.map((l) => l.name.length));
      for (const l of layers) {
        lines.push(`${indent}    ${l.name.padEnd(nameWidth)} ${String(l.remaining).padStart(8)} of ${String(l.total).padStart(8)} (${pct(l.remaining / l.total)})`);
      }
      if (history.length) {
        if (acc === null) lines.push(`${indent}  history of the net it was made from, before its weights or mask changed:`);
        const validated = history.some((h) => h.validationLoss !== undefined);
        lines.push(`${indent}  history:  step   epoch  accuracy    loss${validated ? "  val. acc  val. loss" : ""}`);
        for (const h of history) {
          const v = h.validationLoss !== undefined ? ` ${pct(h.validationAccuracy!).padStart(9)} ${h.validationLoss.toFixed(4).padStart(10)}` : "";
          lines.push(`${indent}          ${String(h.step).padStart(6)} ${h.epoch.toFixed(2).padStart(7)} ${pct(h.accuracy).padStart(9)} ${h.loss.toFixed(4).padStart(7)}${v}`);
        }
      }
      lines.push(`${indent}  file: ${j["artifact"]}`);
      return lines;
    }
    case "Metrics":
      return [`${indent}${name}: Metrics, test accuracy ${pct(j["accuracy"] as number)}, loss ${(j["loss"] as number).toFixed(4)}`];
    case "Number":
      return [`${indent}${name}: ${j["value"]}`];
    case "Dataset":
      return [`${indent}${name}: Dataset ${j["name"]}, ${j["train"]} train / ${j["test"]} test${j["validation"] !== undefined ? ` / ${j["validation"]} validation` : ""}, ${j["classes"]} classes, input ${(j["inputShape"] as number[]).join("×")}`];
    default:
      return [`${indent}${name}: ${JSON.stringify(j["value"])}`];
  }
}

/** `accuracy 81.20% ± 0.45 [80.70%, 81.60%]`: percentages for shares, plain numbers otherwise. */
function statLine(label: string, st: Stats, share: boolean): string {
  if (!share) return `${label} ${st.mean.toPrecision(4)} ± ${st.std.toPrecision(2)} [${st.min.toPrecision(4)}, ${st.max.toPrecision(4)}]`;
  return `${label} ${pct(st.mean)} ± ${(100 * st.std).toFixed(2)} [${pct(st.min)}, ${pct(st.max)}]`;
}

function aggregateLines(a: Aggregate | ListAggregate, indent: string): string[] {
  if (isListAggregate(a)) {
    return a.accuracy.map((acc, k) => {
      const value = a.value?.[k];
      const parts = value
        ? [statLine("value", value, false)]
        : [
            a.remaining[k] ? statLine("weights", a.remaining[k]!, true) : undefined,
            acc ? statLine("accuracy", acc, true) : "accuracy not measured",
            a.earlyStopAccuracy?.[k] ? statLine("at early stop", a.earlyStopAccuracy[k]!, true) : undefined,
          ];
      return `${indent}[${k}] ${parts.filter(Boolean).join(", ")}`;
    });
  }
  const one = a;
  return [
    one.accuracy ? statLine("test accuracy", one.accuracy, true) : undefined,
    one.earlyStopAccuracy ? statLine("test accuracy at early stop", one.earlyStopAccuracy, true) : undefined,
    one.remaining ? statLine("weights remaining", one.remaining, true) : undefined,
    one.value ? statLine("value", one.value, false) : undefined,
  ]
    .filter((l): l is string => l !== undefined)
    .map((l) => `${indent}${l}`);
}
