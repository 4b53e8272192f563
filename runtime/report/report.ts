// `lth report`: one self-contained HTML page per pipeline: for each `report` block, the
// lottery-ticket figures as inline SVG and a table of every net. No scripts, fonts or
// anything else from the network.

import { stagesOf, type CompiledValue, type StageGraph } from "../../compiler/stage.js";
import { earlyStopOf, measurement, sparsity, type NetValue } from "../core/net.js";
import { countText, netFlops } from "../core/cost.js";
import { aggregate, isListAggregate, netFigures, type Aggregate, type Item, type ListAggregate, type Stats } from "./aggregate.js";
import { plan, readResults, selectStages, type CachedResult, type Unavailable } from "../plan.js";
import { nonDefaultParams } from "../../compiler/graph-format.js";
import { fileDigest } from "../store/store.js";
import { existsSync } from "node:fs";
import type { Store } from "../store/store.js";
import { presentRecords, recordFigures } from "../methods/records.js";
import { accuracyBySparsity, accuracyOverTraining, numbersByPosition, recordFigure, sparsityByLayer, testErrorByWidth, widthSweeps, type BandPoint, type NetSummary, type ReplicateSummary } from "./charts.js";

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An architecture's width: an MLP's first hidden width, a conv net's or VGG's channel multiplier. */
export function archWidth(arch: NetValue["arch"]): number | undefined {
  if (typeof arch !== "object" || arch === null || Array.isArray(arch)) return undefined;
  const a = arch as { arch?: unknown; hidden?: unknown; width?: unknown };
  if (a.arch === "mlp") return Array.isArray(a.hidden) && typeof a.hidden[0] === "number" ? a.hidden[0] : undefined;
  return typeof a.width === "number" ? a.width : undefined;
}

function summarise(name: string, series: string, net: NetValue): NetSummary {
  const layers = sparsity(net);
  const total = layers.reduce((a, l) => a + l.total, 0);
  const remaining = layers.reduce((a, l) => a + l.remaining, 0) / Math.max(1, total);
  const width = archWidth(net.arch);
  // A net whose parameters changed after its last measurement (pruned, rewound) has no accuracy
  // of its own: its inherited history is its parent's, so it is neither plotted nor ranked.
  const measured = measurement(net);
  const history = measured ? net.history : [];
  const best = history.reduce<NetSummary["best"]>((b, h) => (!b || h.accuracy > b.accuracy ? { accuracy: h.accuracy, step: h.step } : b), null);
  return {
    layers: layers.map((l) => ({ name: l.name, remaining: l.remaining / Math.max(1, l.total) })),
    name,
    series,
    remaining,
    accuracy: measured?.accuracy ?? null,
    best,
    history: history.map((h) => ({ step: h.step, accuracy: h.accuracy })),
    ...(net.records ? { records: net.records } : {}),
    ...(width !== undefined ? { width } : {}),
    flops: netFlops(net),
    ...(earlyStopOf(net) ? { earlyStop: { step: earlyStopOf(net)!.step, testAccuracy: earlyStopOf(net)!.testAccuracy } } : {}),
  };
}

/** What the methods recorded about each net (LoFT's traffic, memory and FLOPs; early-bird's emergence…), as `show` prints it. */
function recordsTable(nets: readonly NetSummary[]): string {
  const rows = nets.flatMap((n) => {
    const lines = presentRecords(n).flatMap((r) => r.lines);
    return lines.length ? [`<tr><td>${escapeHtml(n.name)}</td><td><pre>${escapeHtml(lines.join("\n"))}</pre></td></tr>`] : [];
  });
  return rows.length ? `<table class="records"><thead><tr><th>net</th><th>what its methods recorded</th></tr></thead><tbody>${rows.join("")}</tbody></table>` : "";
}

/** A number, metrics or dataset a report names (an `instability`, an `evaluate`), as text. */
export interface ReportValue {
  readonly name: string;
  readonly value: string;
  /** A number that is an item of a list (`distances[3]`): its list and position, for a figure of the list. */
  readonly point?: { readonly series: string; readonly index: number; readonly value: number };
}

/** A value a report names that is not there to draw: not computed, failed (and why), or damaged. */
export interface ReportMissing {
  readonly name: string;
  readonly status: Unavailable["status"];
  readonly why: string;
}

/** What a report block names, each element of each list (lists of lists too) read from the store. */
/** Where a result shown comes from: every stage behind it, its backend, the parameters it sets and the files it read. */
export interface ProvenanceRow {
  readonly id: string;
  readonly op: string;
  /** The backend that computed it; null for an op that uses none; undefined when it is not computed. */
  readonly backend: string | null | undefined;
  readonly params: readonly string[];
  readonly files: readonly { readonly path: string; readonly digest: string | null }[];
}

export interface ReportContents {
  readonly provenance: readonly ProvenanceRow[];
  readonly nets: readonly NetSummary[];
  /** Each `replicate` block named, aggregated (its nets are not drawn one by one). */
  readonly replicates: readonly ReplicateSummary[];
  /** The nets of those blocks, one by one: for the exported table, not the figures. */
  readonly replicateNets: readonly NetSummary[];
  readonly values: readonly ReportValue[];
  readonly missing: readonly ReportMissing[];
}

/** One element a report names: its label (`rounds[2]`, `sweep[1][0]`), the line it belongs to, its value. */
interface Entry {
  readonly label: string;
  readonly series: string;
  readonly value: CompiledValue;
}

/** A binding's elements: itself, or each item of a list, recursively; a list's items form one line of a figure. */
function entries(label: string, value: CompiledValue, series = label): Entry[] {
  if (value.kind !== "list") return [{ label, series, value }];
  return value.items.flatMap((item, i) => entries(`${label}[${i}]`, item, label));
}

function describe(artifact: CachedResult["artifact"]): string | undefined {
  switch (artifact.kind) {
    case "Number":
      return Number.isInteger(artifact.value) ? String(artifact.value) : artifact.value.toPrecision(4);
    case "Metrics":
      return `accuracy ${pct(artifact.metrics.accuracy)}, loss ${artifact.metrics.loss.toPrecision(4)}`;
    case "Dataset": {
      const d = artifact.dataset;
      return `dataset ${d.name}: ${d.train.n} training and ${d.test.n} test examples, ${d.classes} classes`;
    }
    case "Net":
      return undefined;
  }
}

/**
 * Every value the names denote, read (and hash-checked) from the store: nets to draw, other
 * values to list, and what is not there with why (one failed net does not hide the rest).
 */
export function collect(graph: StageGraph, store: Store, names: readonly string[], file: string): ReportContents {
  const all = names.flatMap((n) => entries(n, graph.bindings.get(n)!));
  const read = readResults(graph, store, all.flatMap((e) => stagesOf(e.value)), `lth run ${file}`);
  const nets: NetSummary[] = [];
  const values: ReportValue[] = [];
  const missing: ReportMissing[] = [];
  const replicates: ReplicateSummary[] = [];
  const replicateNets: NetSummary[] = [];
  // A replicate block's items as `show --json` prints them, for `aggregate`; undefined when one is not there.
  const item = (value: CompiledValue): Item | undefined => {
    if (value.kind === "list") {
      const items = value.items.map(item);
      return items.every((i): i is Item => i !== undefined) ? { type: "List", items } : undefined;
    }
    if (value.kind === "static") return typeof value.value === "number" ? { type: "Number", value: value.value } : undefined;
    const result = read(value.stage);
    if ("why" in result) return undefined;
    if (result.artifact.kind === "Number") return { type: "Number", value: result.artifact.value };
    if (result.artifact.kind === "Metrics") return { type: "Metrics", accuracy: result.artifact.metrics.accuracy };
    if (result.artifact.kind !== "Net") return undefined;
    return { type: "Net", ...netFigures(result.artifact.net) };
  };
  const inReplicates = new Set<string>();
  for (const name of names) {
    const value = graph.bindings.get(name)!;
    if (value.kind !== "list" || !value.replicates) continue;
    inReplicates.add(name);
    const items = value.items.map(item);
    if (!items.every((i): i is Item => i !== undefined)) continue;
    replicates.push({ name, count: items.length, points: bandPoints(name, aggregate(items)) });
  }
  for (const { label, series, value } of all) {
    if (value.kind === "static") {
      values.push({ name: label, value: typeof value.value === "string" ? value.value : JSON.stringify(value.value) });
      continue;
    }
    if (value.kind !== "stage") continue;
    const result = read(value.stage);
    if ("why" in result) missing.push({ name: label, status: result.status, why: result.why });
    // A replicate block's nets are drawn and listed as its aggregate.
    else if (result.artifact.kind === "Net") {
      (inReplicates.has(series.split("[")[0]!) ? replicateNets : nets).push(summarise(label, series, result.artifact.net));
    } else {
      // A number in a list (a mask or filter distance per round) is also a point of that list's figure.
      const index = /\[(\d+)\]$/.exec(label);
      const point = result.artifact.kind === "Number" && series !== label && index ? { series, index: Number(index[1]), value: result.artifact.value } : undefined;
      values.push({ name: label, value: describe(result.artifact)!, ...(point ? { point } : {}) });
    }
  }
  return { provenance: provenanceOf(graph, store, all.flatMap((e) => stagesOf(e.value))), nets, replicates, replicateNets, values, missing };
}

/** Every stage the shown results need (their ancestors too), in dependency order, with where each came from. */
function provenanceOf(graph: StageGraph, store: Store, ids: readonly string[]): ProvenanceRow[] {
  const stages = selectStages(graph, ids as Parameters<typeof selectStages>[1]);
  return plan(graph, store, stages).map(({ stage, decision }) => ({
    id: stage.id,
    op: stage.op,
    backend: decision.status === "cached" ? decision.record.backend : undefined,
    params: nonDefaultParams(stage),
    files: Object.values(stage.files).map((path) => ({ path, digest: existsSync(path) ? fileDigest(path) : null })),
  }));
}

function provenanceSection(rows: readonly ProvenanceRow[], version: string | undefined): string {
  const body = rows.map(
    (r) =>
      `<tr><td>${escapeHtml(r.id)}</td><td>${escapeHtml(r.op)}</td><td>${r.backend === undefined ? "not computed" : escapeHtml(r.backend ?? "none (no tensors)")}</td><td>${escapeHtml(r.params.join(", ") || "defaults")}</td><td>${r.files.map((f) => `${escapeHtml(f.path)}<br><code>${f.digest ? escapeHtml(f.digest.slice(0, 16)) : "missing"}</code>`).join("<br>")}</td></tr>`,
  );
  return `<details class="provenance"><summary>Provenance: lth ${escapeHtml(version ?? "?")}, ${rows.length} stage${rows.length === 1 ? "" : "s"}</summary><table><thead><tr><th>stage</th><th>op</th><th>backend</th><th>parameters set (the rest at the op's defaults)</th><th>files read (SHA-256)</th></tr></thead><tbody>${body.join("")}</tbody></table></details>`;
}

/** A point whose figure is a number's value (an instability, a mask distance), not an accuracy: tabled as a plain number. */
type ValuePoint = BandPoint & { readonly value: true };

function isValuePoint(p: BandPoint): p is ValuePoint {
  return "value" in p;
}

/** The aggregate of a replicate block as points: one for replicates of a net or number, one per position of lists. */
function bandPoints(name: string, a: Aggregate | ListAggregate): BandPoint[] {
  const point = (label: string, remaining: Stats | null, accuracy: Stats | null, value: Stats | null, earlyStopAccuracy: Stats | null): BandPoint => {
    if (accuracy !== null || value === null) return { label, remaining, accuracy, earlyStopAccuracy };
    const numbers: ValuePoint = { label, remaining, accuracy: value, earlyStopAccuracy, value: true };
    return numbers;
  };
  if (!isListAggregate(a)) return [point(name, a.remaining ?? null, a.accuracy ?? null, a.value ?? null, a.earlyStopAccuracy ?? null)];
  return a.accuracy.map((accuracy, k) => point(`${name}[·][${k}]`, a.remaining[k] ?? null, accuracy, a.value?.[k] ?? null, a.earlyStopAccuracy?.[k] ?? null));
}

const meanStd = (s: Stats | null, share = true) =>
  s === null ? "–" : share ? `${(100 * s.mean).toFixed(2)}% ± ${(100 * s.std).toFixed(2)} [${(100 * s.min).toFixed(2)}, ${(100 * s.max).toFixed(2)}]` : `${s.mean.toPrecision(4)} ± ${s.std.toPrecision(2)}`;

function replicateTable(replicates: readonly ReplicateSummary[]): string {
  const rows = replicates.flatMap((r) =>
    r.points.map(
      (p) =>
        `<tr><td>${escapeHtml(p.label)}</td><td>${r.count}</td><td>${p.remaining ? `${(100 * p.remaining.mean).toFixed(1)}%` : "–"}</td><td>${meanStd(p.accuracy, !isValuePoint(p))}</td><td>${meanStd(p.earlyStopAccuracy)}</td></tr>`,
    ),
  );
  return `<table class="replicates"><thead><tr><th>replicates</th><th>n</th><th>weights remaining</th><th>accuracy: mean ± std [min, max]</th><th>at early stop</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

const pct = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(digits)}%`);

function table(nets: readonly NetSummary[], widths: boolean): string {
  const rows = nets.map(
    (n) =>
      `<tr><td>${escapeHtml(n.name)}</td>${widths ? `<td>${n.width ?? "–"}</td>` : ""}<td>${pct(n.remaining, 1)}</td><td>${n.accuracy === null ? "not measured" : pct(n.accuracy)}</td><td>${pct(n.best?.accuracy)}</td><td>${n.best?.step ?? "–"}</td><td>${n.earlyStop ? `${pct(n.earlyStop.testAccuracy)} (step ${n.earlyStop.step})` : "–"}</td><td>${n.flops ? flopsCell(n.flops) : "–"}</td></tr>`,
  );
  return `<table><thead><tr><th>net</th>${widths ? "<th>width</th>" : ""}<th>weights remaining</th><th>final accuracy</th><th>best accuracy</th><th>step of best</th><th>at early stop</th><th>multiply-adds a forward pass (speed-up)</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** Multiply-adds still in use and the speed-up over the dense net's: `1.2 M (4.00×)`. */
function flopsCell(f: { readonly total: number; readonly remaining: number }): string {
  return `${countText(f.remaining)} (${f.remaining > 0 ? `${(f.total / f.remaining).toFixed(2)}×` : "–"})`;
}

export interface ReportSection {
  readonly title: string;
  readonly provenance?: readonly ProvenanceRow[];
  readonly nets: readonly NetSummary[];
  readonly replicates?: readonly ReplicateSummary[];
  readonly values?: readonly ReportValue[];
  readonly missing?: readonly ReportMissing[];
}

function valueTable(values: readonly ReportValue[]): string {
  const rows = values.map((v) => `<tr><td>${escapeHtml(v.name)}</td><td>${escapeHtml(v.value)}</td></tr>`);
  return `<table><thead><tr><th>value</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function missingTable(missing: readonly ReportMissing[]): string {
  const rows = missing.map((m) => `<tr class="${m.status === "not computed" ? "missing" : "failed"}"><td>${escapeHtml(m.name)}</td><td>${escapeHtml(m.status)}</td><td>${escapeHtml(m.why)}</td></tr>`);
  return `<table class="missing"><thead><tr><th>not shown</th><th></th><th>why</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

/** An SVG figure inline in the page: without the root tag's namespace declarations, so the page names no URL. */
function inlineFigure(svg: string): string {
  return `<figure>${svg.replace(/^<svg\b[^>]*>/, (tag) => tag.replace(/ xmlns(:xlink)?="[^"]*"/g, ""))}</figure>`;
}

export async function renderReport(file: string, sections: readonly ReportSection[], options: { version?: string } = {}): Promise<string> {
  const parts: string[] = [];
  for (const s of sections) {
    const replicates = s.replicates ?? [];
    const values = (replicates.length ? replicateTable(replicates) : "") + (s.values?.length ? valueTable(s.values) : "") + (s.missing?.length ? missingTable(s.missing) : "");
    // Lists of numbers (mask or filter distances per round): one line each, by position.
    const points = (s.values ?? []).flatMap((v) => (v.point ? [v.point] : []));
    const numberFigures = points.length ? [await numbersByPosition(points)] : [];
    if (s.nets.length === 0 && !replicates.some((r) => r.points.some((p) => p.remaining))) {
      // Only numbers (an instability, a mask distance): a table, a figure for lists of them, no empty figures.
      parts.push(`<section><h2>${escapeHtml(s.title)}</h2>${numberFigures.map(inlineFigure).join("")}${values}${s.provenance ? provenanceSection(s.provenance, options.version) : ""}</section>`);
      continue;
    }
    const pruned = s.nets.filter((n) => n.layers && n.remaining < 1);
    const figures = [
      await accuracyBySparsity(s.nets, replicates),
      ...(s.nets.length ? [await accuracyOverTraining(s.nets)] : []),
      // Where each pruned net keeps its weights: the share remaining in every layer.
      ...(pruned.length ? [await sparsityByLayer(pruned)] : []),
      ...numberFigures,
    ];
    // The figures the methods' records ask for (early-bird emergence, …).
    for (const f of recordFigures(s.nets)) figures.push(await recordFigure(f));
    // Nets of lists that sweep width (three widths or more in one list): test error against width.
    const sweeps = widthSweeps(s.nets, 3).size > 0;
    if (sweeps) figures.push(await testErrorByWidth(s.nets));
    // Inline in HTML, an <svg> needs no namespace declarations: the page then names no URL at all.
    // Only the root tag's are dropped, so text inside the figure is never rewritten.
    const inline = figures.map(inlineFigure);
    parts.push(`<section><h2>${escapeHtml(s.title)}</h2>${inline.join("")}${s.nets.length ? table(s.nets, sweeps) : ""}${recordsTable(s.nets)}${values}${s.provenance ? provenanceSection(s.provenance, options.version) : ""}</section>`);
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(`lth report: ${file}`)}</title>
<style>
body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:1150px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
figure{display:inline-block;margin:0 1em 1em 0;vertical-align:top}
table{border-collapse:collapse;font-size:.9em;margin-top:.5em}
th,td{border-bottom:1px solid #ddd;padding:.3em .8em;text-align:right}
th:first-child,td:first-child{text-align:left}
table.missing td{text-align:left}table.records td{text-align:left;vertical-align:top}table.records pre{margin:0;font-size:.95em}tr.failed td{color:#a00}
</style></head>
<body><h1>${escapeHtml(file)}</h1>
${parts.join("\n")}
</body></html>
`;
}
