// `lth report`: one self-contained HTML page per pipeline: for each `report` block, the
// lottery-ticket figures as inline SVG and a table of every net. No scripts, fonts or
// anything else from the network.

import { stagesOf, type StageGraph, type StageId } from "../../compiler/stage.js";
import { sparsity, type NetValue } from "../artifacts.js";
import { cachedResults } from "../plan.js";
import type { Store } from "../store/store.js";
import { accuracyBySparsity, accuracyOverTraining, earlyBirdEmergence, testErrorByWidth, widthSweeps, type NetSummary } from "./charts.js";

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
  const last = net.history[net.history.length - 1];
  const width = archWidth(net.arch);
  const best = net.history.reduce<NetSummary["best"]>((b, h) => (!b || h.accuracy > b.accuracy ? { accuracy: h.accuracy, step: h.step } : b), null);
  return {
    name,
    series,
    remaining,
    accuracy: last?.accuracy ?? null,
    best,
    history: net.history.map((h) => ({ step: h.step, accuracy: h.accuracy })),
    ...(net.earlybird ? { earlybird: net.earlybird } : {}),
    ...(width !== undefined ? { width } : {}),
  };
}

/** A number or metrics a report names (an `instability`, a `mask_distance`, an `evaluate`), as text. */
export interface ReportValue {
  readonly name: string;
  readonly value: string;
}

/** The numbers and metrics a report names, read (and hash-checked) from the store; lists give one per item. */
export function collectValues(graph: StageGraph, store: Store, names: readonly string[], file: string): ReportValue[] {
  const values = names.map((n) => [n, graph.bindings.get(n)!] as const);
  const read = cachedResults(graph, store, values.flatMap(([, v]) => stagesOf(v)), `lth run ${file}`);
  const show = (id: StageId): string | undefined => {
    const { artifact } = read(id);
    if (artifact.kind === "Number") return Number.isInteger(artifact.value) ? String(artifact.value) : artifact.value.toPrecision(4);
    if (artifact.kind === "Metrics") return `accuracy ${pct(artifact.metrics.accuracy)}, loss ${artifact.metrics.loss.toPrecision(4)}`;
    return undefined;
  };
  const out: ReportValue[] = [];
  for (const [name, value] of values) {
    const items = value.kind === "stage" ? [[name, value] as const] : value.kind === "list" ? value.items.map((item, i) => [`${name}[${i}]`, item] as const) : [];
    for (const [label, item] of items) {
      const text = item.kind === "stage" ? show(item.stage) : undefined;
      if (text !== undefined) out.push({ name: label, value: text });
    }
  }
  return out;
}

/** The nets a report names, read (and hash-checked) from the store; lists give one per item. */
export function collectNets(graph: StageGraph, store: Store, names: readonly string[], file: string): NetSummary[] {
  const values = names.map((n) => [n, graph.bindings.get(n)!] as const);
  const ids = values.flatMap(([, v]) => stagesOf(v));
  const read = cachedResults(graph, store, ids, `lth run ${file}`);
  const net = (id: StageId): NetValue | undefined => {
    const { artifact } = read(id);
    return artifact.kind === "Net" ? artifact.net : undefined;
  };
  const out: NetSummary[] = [];
  for (const [name, value] of values) {
    if (value.kind === "stage") {
      const n = net(value.stage);
      if (n) out.push(summarise(name, name, n));
    } else if (value.kind === "list") {
      value.items.forEach((item, i) => {
        const n = item.kind === "stage" ? net(item.stage) : undefined;
        if (n) out.push(summarise(`${name}[${i}]`, name, n));
      });
    }
  }
  return out;
}

const pct = (x: number | null | undefined, digits = 2) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(digits)}%`);

function table(nets: readonly NetSummary[], widths: boolean): string {
  const rows = nets.map(
    (n) =>
      `<tr><td>${escapeHtml(n.name)}</td>${widths ? `<td>${n.width ?? "–"}</td>` : ""}<td>${pct(n.remaining, 1)}</td><td>${pct(n.accuracy)}</td><td>${pct(n.best?.accuracy)}</td><td>${n.best?.step ?? "–"}</td></tr>`,
  );
  return `<table><thead><tr><th>net</th>${widths ? "<th>width</th>" : ""}<th>weights remaining</th><th>final accuracy</th><th>best accuracy</th><th>step of best</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export interface ReportSection {
  readonly title: string;
  readonly nets: readonly NetSummary[];
  readonly values?: readonly ReportValue[];
}

function valueTable(values: readonly ReportValue[]): string {
  const rows = values.map((v) => `<tr><td>${escapeHtml(v.name)}</td><td>${escapeHtml(v.value)}</td></tr>`);
  return `<table><thead><tr><th>value</th><th></th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export async function renderReport(file: string, sections: readonly ReportSection[]): Promise<string> {
  const parts: string[] = [];
  for (const s of sections) {
    const values = s.values?.length ? valueTable(s.values) : "";
    if (s.nets.length === 0) {
      // Only numbers (an instability, a mask distance): a table, and no empty figures.
      parts.push(`<section><h2>${escapeHtml(s.title)}</h2>${values}</section>`);
      continue;
    }
    const figures = [await accuracyBySparsity(s.nets), await accuracyOverTraining(s.nets)];
    if (s.nets.some((n) => n.earlybird?.distances.length)) figures.push(await earlyBirdEmergence(s.nets));
    // Nets of lists that sweep width (three widths or more in one list): test error against width.
    const sweeps = widthSweeps(s.nets, 3).size > 0;
    if (sweeps) figures.push(await testErrorByWidth(s.nets));
    // Inline in HTML, an <svg> needs no namespace declarations: the page then names no URL at all.
    // Only the root tag's are dropped, so text inside the figure is never rewritten.
    const inline = figures.map((f) => `<figure>${f.replace(/^<svg\b[^>]*>/, (tag) => tag.replace(/ xmlns(:xlink)?="[^"]*"/g, ""))}</figure>`);
    parts.push(`<section><h2>${escapeHtml(s.title)}</h2>${inline.join("")}${table(s.nets, sweeps)}${values}</section>`);
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
</style></head>
<body><h1>${escapeHtml(file)}</h1>
${parts.join("\n")}
</body></html>
`;
}
