// `lth show FILE NAME`: one binding's computed value, read (and hash-checked) from the store.

import { stagesOf, type CompiledValue, type StageId } from "../../compiler/stage.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { presentRecords, recordLines } from "../methods/records.js";
import { measurement, sparsity } from "../core/net.js";
import { cachedResults, NotComputed, problems, resolveTargets, selectStages, type CachedResult } from "../plan.js";
import { loadPipeline, openStore, stageWhere } from "./pipeline.js";

export function showCommand(file: string, name: string, options: { json?: boolean; store?: string }, io: CommandIO): number {
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
  if (v.kind === "list") return { type: "List", items: v.items.map((item) => toJson(item, read)) };
  if (v.kind === "static") return typeof v.value === "number" ? { type: "Number", value: v.value } : { type: "Value", value: v.value };
  const { stage, artifact, path, backend } = read(v.stage);
  const where = { stage: stage.id, artifact: path, backend };
  switch (artifact.kind) {
    case "Net": {
      const net = artifact.net;
      const layers = sparsity(net);
      // Only a measurement of these very parameters: a pruned net's inherited history is its parent's.
      const measured = measurement(net);
      return {
        type: "Net",
        accuracy: measured?.accuracy ?? null,
        loss: measured?.loss ?? null,
        measured: measured !== undefined,
        weights: { total: layers.reduce((a, l) => a + l.total, 0), remaining: layers.reduce((a, l) => a + l.remaining, 0) },
        layers,
        history: net.history.map((h) => ({ step: h.step, epoch: h.epoch, accuracy: h.accuracy, loss: h.loss })),
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
      return { type: "Dataset", name: d.name, train: d.train.n, test: d.test.n, classes: d.classes, inputShape: d.inputShape, ...where };
    }
  }
}

const pct = (x: number) => `${(100 * x).toFixed(2)}%`;

function text(name: string, j: Json, indent = ""): string[] {
  switch (j["type"]) {
    case "List":
      return [`${indent}${name}: a list of ${(j["items"] as Json[]).length}`, ...(j["items"] as Json[]).flatMap((item, i) => text(`[${i}]`, item, `${indent}  `))];
    case "Net": {
      const w = j["weights"] as { total: number; remaining: number };
      const acc = j["accuracy"] as number | null;
      const history = j["history"] as { step: number; epoch: number; accuracy: number; loss: number }[];
      const unmeasured = history.length ? ", test accuracy not measured: its weights or mask changed after the last measurement (evaluate(net, data) measures it)" : ", untrained";
      const lines = [
        `${indent}${name}: Net (${j["stage"]}, ${j["backend"] ?? "no engine"})${acc === null ? unmeasured : `, test accuracy ${pct(acc)}, loss ${(j["loss"] as number).toFixed(4)}`}`,
        `${indent}  weights: ${w.remaining} of ${w.total} remaining (${pct(w.remaining / w.total)})`,
      ];
      for (const line of recordLines(j)) lines.push(`${indent}  ${line}`);
      for (const l of j["layers"] as { name: string; total: number; remaining: number }[]) {
        lines.push(`${indent}    ${l.name.padEnd(6)} ${String(l.remaining).padStart(8)} of ${String(l.total).padStart(8)} (${pct(l.remaining / l.total)})`);
      }
      if (history.length) {
        if (acc === null) lines.push(`${indent}  history of the net it was made from, before its weights or mask changed:`);
        lines.push(`${indent}  history:  step   epoch  accuracy    loss`);
        for (const h of history) lines.push(`${indent}          ${String(h.step).padStart(6)} ${h.epoch.toFixed(2).padStart(7)} ${pct(h.accuracy).padStart(9)} ${h.loss.toFixed(4).padStart(7)}`);
      }
      lines.push(`${indent}  file: ${j["artifact"]}`);
      return lines;
    }
    case "Metrics":
      return [`${indent}${name}: Metrics, test accuracy ${pct(j["accuracy"] as number)}, loss ${(j["loss"] as number).toFixed(4)}`];
    case "Number":
      return [`${indent}${name}: ${j["value"]}`];
    case "Dataset":
      return [`${indent}${name}: Dataset ${j["name"]}, ${j["train"]} train / ${j["test"]} test, ${j["classes"]} classes, input ${(j["inputShape"] as number[]).join("×")}`];
    default:
      return [`${indent}${name}: ${JSON.stringify(j["value"])}`];
  }
}
