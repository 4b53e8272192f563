// The figures of the lottery-ticket papers as Vega-Lite specs, rendered to SVG on the
// server (no canvas, no network), so a report page needs no scripts at all.

import * as vega from "vega";
import * as vl from "vega-lite";
import type { MethodRecords } from "../core/net.js";
import type { RecordFigure } from "../methods/record.js";
import type { Stats } from "./aggregate.js";

export interface NetSummary {
  /** `dense`, `rounds[3]`: the binding, and the item for a list. */
  readonly name: string;
  /** The binding it belongs to: one line per list in the accuracy-against-sparsity plot. */
  readonly series: string;
  readonly remaining: number;
  readonly accuracy: number | null;
  readonly best: { readonly accuracy: number; readonly step: number } | null;
  readonly history: readonly { readonly step: number; readonly accuracy: number }[];
  /** The records of the methods that made the net, for the figures they ask for. */
  readonly records?: Readonly<Partial<MethodRecords>>;
  /** The architecture's width: an MLP's first hidden layer, a conv net's or VGG's channel multiplier. */
  readonly width?: number;
  /** Each layer's share of weights remaining, in the net's order. */
  readonly layers?: readonly { readonly name: string; readonly remaining: number }[];
  /** The early-stopping point of the training that made it, where its dataset had a validation split. */
  readonly earlyStop?: { readonly step: number; readonly testAccuracy: number };
  /** Multiply-adds of one forward pass of one example: the dense net's, and of the weights still in use. */
  readonly flops?: { readonly total: number; readonly remaining: number };
}

/** One position of a `replicate` block's aggregate: mean ± standard deviation over the replicates. */
export interface BandPoint {
  readonly label: string;
  /** Weights remaining (share) and test accuracy (share), each over the replicates. */
  readonly remaining: Stats | null;
  readonly accuracy: Stats | null;
  readonly earlyStopAccuracy: Stats | null;
}

/** A `replicate` block's aggregate: one point for replicates of a net, one per position for replicates of lists. */
export interface ReplicateSummary {
  readonly name: string;
  readonly count: number;
  readonly points: readonly BandPoint[];
}

const WIDTH = 520;
const HEIGHT = 300;
const config = { font: "Helvetica, Arial, sans-serif", view: { stroke: "#ddd" }, axis: { labelFontSize: 11, titleFontSize: 12 } };

async function svg(spec: vl.TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/**
 * (a) Test accuracy against the percentage of weights remaining, log-scaled. A `replicate`
 * block is drawn as Frankle & Carbin draw their trials: the mean, a shaded band of ± one
 * standard deviation, and a bar from the minimum to the maximum at each point; replicates of
 * one net are a point with a thick ± std bar over the thin min-max one.
 */
export function accuracyBySparsity(nets: readonly NetSummary[], replicates: readonly ReplicateSummary[] = []): Promise<string> {
  const lists = new Set(nets.filter((n) => n.name !== n.series).map((n) => n.series));
  // Whether a point belongs to a list is a field of the data, not the list's names in a
  // filter: a `oneOf` filter puts the names in a Vega expression, so names stay data only.
  const values = nets
    .filter((n) => n.accuracy !== null)
    .map((n) => ({ name: n.name, series: n.series, list: lists.has(n.series), remaining: 100 * n.remaining, accuracy: 100 * n.accuracy!, band: false }));
  const bands = replicates.flatMap((r) =>
    r.points
      .filter((p) => p.remaining && p.accuracy)
      .map((p) => ({
        name: p.label,
        series: `${r.name} (mean ± std of ${r.count})`,
        list: r.points.length > 1,
        band: true,
        remaining: 100 * p.remaining!.mean,
        accuracy: 100 * p.accuracy!.mean,
        low: 100 * (p.accuracy!.mean - p.accuracy!.std),
        high: 100 * (p.accuracy!.mean + p.accuracy!.std),
        min: 100 * p.accuracy!.min,
        max: 100 * p.accuracy!.max,
      })),
  );
  // A margin on both sides (a log scale's fifth): the dense net at 100% is not drawn on the axis, and one point gets an axis around it.
  const all = [...values, ...bands].map((v) => v.remaining);
  const domain = all.length ? [Math.min(...all) / 1.2, Math.max(...all) * 1.2] : undefined;
  const x = { field: "remaining", type: "quantitative", title: "weights remaining (%)", scale: { type: "log", reverse: true, ...(domain ? { domain, nice: false } : {}) } } as const;
  const y = { field: "accuracy", type: "quantitative", title: "test accuracy (%)", scale: { zero: false } } as const;
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: WIDTH,
    height: HEIGHT,
    config,
    title: "Test accuracy against weights remaining",
    data: { values: [...values, ...bands] },
    encoding: { x, y, color: { field: "series", type: "nominal", title: null, legend: { labelLimit: 280 } } },
    layer: [
      { mark: { type: "area", opacity: 0.2 }, encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } }, transform: [{ filter: { field: "band", equal: true } }, { filter: { field: "list", equal: true } }] },
      { mark: { type: "rule" }, encoding: { y: { field: "min", type: "quantitative" }, y2: { field: "max" } }, transform: [{ filter: { field: "band", equal: true } }] },
      // Replicates of one net: its ± std as a thick error bar over the thin min-max one.
      {
        mark: { type: "rule", strokeWidth: 6, opacity: 0.35 },
        encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } },
        transform: [{ filter: { field: "band", equal: true } }, { filter: { field: "list", equal: false } }],
      },
      { mark: { type: "line", point: true }, transform: [{ filter: { field: "list", equal: true } }] },
      { mark: { type: "point", filled: true, size: 80, shape: "diamond" }, transform: [{ filter: { field: "list", equal: false } }] },
    ],
  } as unknown as vl.TopLevelSpec);
}

/** (b) Test accuracy over training steps, one line per net. */
export function accuracyOverTraining(nets: readonly NetSummary[]): Promise<string> {
  const values = nets.flatMap((n) => n.history.map((h) => ({ name: n.name, step: h.step, accuracy: 100 * h.accuracy })));
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: WIDTH,
    height: HEIGHT,
    config,
    title: "Test accuracy over training",
    data: { values },
    mark: { type: "line", point: { size: 12 } },
    encoding: {
      x: { field: "step", type: "quantitative", title: "training step" },
      y: { field: "accuracy", type: "quantitative", title: "test accuracy (%)", scale: { zero: false } },
      color: { field: "name", type: "nominal", title: null, legend: { columns: nets.length > 14 ? 2 : 1 } },
    },
  });
}

/** A figure a method's record asks for (early-bird emergence: how far each epoch's channel mask moved). */
export function recordFigure(f: RecordFigure): Promise<string> {
  return svg({ $schema: "https://vega.github.io/schema/vega-lite/v5.json", width: WIDTH, height: HEIGHT, config, title: f.title, layer: f.layer } as unknown as vl.TopLevelSpec);
}

/** The series of `nets` that sweep width: those with at least `min` distinct widths. */
export function widthSweeps(nets: readonly NetSummary[], min: number): Set<string> {
  const widths = new Map<string, Set<number>>();
  for (const n of nets) if (n.width !== undefined && n.accuracy !== null) widths.set(n.series, (widths.get(n.series) ?? new Set()).add(n.width));
  return new Set([...widths].filter(([, w]) => w.size >= min).map(([s]) => s));
}

/**
 * (d) Model-wise double descent (Nakkiran et al., 2020): test error against the net's width,
 * one line per list that sweeps width; log-scaled when the widths span more than 8×.
 */
export function testErrorByWidth(nets: readonly NetSummary[]): Promise<string> {
  const sweeps = widthSweeps(nets, 2);
  const values = nets
    .filter((n) => sweeps.has(n.series) && n.width !== undefined && n.accuracy !== null)
    .map((n) => ({ name: n.name, series: n.series, width: n.width!, error: 100 * (1 - n.accuracy!) }));
  const widths = values.map((v) => v.width);
  const log = Math.max(...widths) > 8 * Math.min(...widths);
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: WIDTH,
    height: HEIGHT,
    config,
    title: "Test error against width",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "width", type: "quantitative", title: "width", scale: log ? { type: "log", base: 2 } : { zero: false } },
      y: { field: "error", type: "quantitative", title: "test error (%)", scale: { zero: false } },
      color: { field: "series", type: "nominal", title: null },
    },
  });
}

/** (e) A list of numbers a report names (a mask or filter distance per IMP round): value by position, one line per list. */
export function numbersByPosition(points: readonly { readonly series: string; readonly index: number; readonly value: number }[]): Promise<string> {
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: WIDTH,
    height: HEIGHT,
    config,
    title: "Values by position in their list",
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: "index",
        type: "quantitative",
        title: "position in the list",
        axis: { values: Array.from({ length: Math.max(...points.map((p) => p.index)) + 1 }, (_, i) => i), format: "d" },
        scale: { domain: [-0.5, Math.max(...points.map((p) => p.index)) + 0.5], nice: false },
      },
      y: { field: "value", type: "quantitative", title: "value" },
      color: { field: "series", type: "nominal", title: null, legend: { labelLimit: 280 } },
    },
  } as unknown as vl.TopLevelSpec);
}

/** (f) Each pruned net's share of weights remaining per layer, layers in the net's order. */
export function sparsityByLayer(nets: readonly NetSummary[]): Promise<string> {
  const order = [...new Set(nets.flatMap((n) => (n.layers ?? []).map((l) => l.name)))];
  const values = nets.flatMap((n) => (n.layers ?? []).map((l) => ({ name: n.name, layer: l.name, remaining: 100 * l.remaining })));
  return svg({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: WIDTH,
    height: HEIGHT,
    config,
    title: "Weights remaining per layer",
    data: { values },
    mark: { type: "line", point: true },
    encoding: {
      x: { field: "layer", type: "ordinal", title: "layer", sort: order, axis: { labelAngle: -45 } },
      y: { field: "remaining", type: "quantitative", title: "weights remaining (%)", scale: { domain: [0, 100] } },
      color: { field: "name", type: "nominal", title: null, legend: { columns: nets.length > 14 ? 2 : 1 } },
    },
  } as unknown as vl.TopLevelSpec);
}
