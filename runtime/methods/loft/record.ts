// What a `loft` pretraining records about its run: how it was dealt out and what it sent.

import type { MethodRecord } from "../record.js";
import { countText, type Cost } from "../../core/cost.js";

/** What a net holds and computes in one training step (`netCost`), in total and per layer. */
export interface LoftCost extends Cost {
  readonly layers: readonly ({ readonly name: string } & Cost)[];
}

/** How a `loft` pretraining ran (Wang et al. 2023): its workers, and the bytes of parameters it and data-parallel training send. */
export interface LoftRecord {
  readonly workers: number;
  readonly localSteps: number;
  /** Syncs: each one deals out fresh filter partitions. */
  readonly rounds: number;
  /** The conv layers whose filters were dealt out. */
  readonly partitioned: readonly string[];
  /** Parameter bytes actually sent between the coordinator and the workers, both ways. */
  readonly bytesExchanged: number;
  /** What synchronous data-parallel training would send for the same steps: each step, each worker's gradient up and the averaged one down. */
  readonly dataParallelBytes: number;
  /** The whole net: parameters, activation bytes of one batch, multiply-adds of one training step. */
  readonly full: LoftCost;
  /** The same for each worker's sub-network. */
  readonly perWorker: readonly LoftCost[];
  /** Share of each partitioned layer's filters the filter distance compares (by L2 norm). */
  readonly keep: number;
  /** The filter distance between each sync's partitioned layers and the sync's before. */
  readonly distances: readonly number[];
  /** The stop condition, when given: pretraining ends once `window` successive distances are below `until`. */
  readonly until?: number;
  readonly window?: number;
  /** The planned length, in epochs (with a stop condition). */
  readonly epochs?: number;
  /** Where the stop condition ended pretraining, when it did: the sync, the step (worker steps), and the epoch (batches consumed). */
  readonly stopped?: { readonly sync: number; readonly step: number; readonly epoch: number };
}

declare module "../../core/net.js" {
  interface MethodRecords {
    loft: LoftRecord;
  }
}

const megabytes = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
const size = (b: number) => (b >= 1e9 ? `${(b / 1e9).toFixed(2)} GB` : b >= 1e6 ? `${(b / 1e6).toFixed(1)} MB` : `${(b / 1e3).toFixed(1)} kB`);
const share = (part: number, whole: number) => `${((100 * part) / whole).toFixed(0)}%`;

/** The record describes how the weights were trained, so `rewind` keeps the one of the weights' net. */
export const loftRecord: MethodRecord<"loft", { [K in keyof LoftRecord]: LoftRecord[K] }> = {
  name: "loft",
  followsMask: false,
  json: (r) => ({ ...r }),
  lines: (r) => [
    `loft: ${r.workers} workers, ${r.rounds} syncs of ${r.localSteps} steps, ${r.partitioned.join(", ")} partitioned; sent ${megabytes(r.bytesExchanged)}, data-parallel would send ${megabytes(r.dataParallelBytes)}`,
    ...(r.until !== undefined
      ? [
          r.stopped
            ? `  filter distance stayed under ${r.until} for ${r.window} syncs: stopped at sync ${r.stopped.sync}, epoch ${+r.stopped.epoch.toFixed(2)} of ${r.epochs} (${+(r.epochs! - r.stopped.epoch).toFixed(2)} epochs saved)`
            : `  filter distance never stayed under ${r.until} for ${r.window} syncs: trained all ${r.epochs} epochs`,
        ]
      : []),
    ...(r.distances?.length ? [`  filter distance between syncs: ${r.distances[0]!.toFixed(3)} first, ${r.distances[r.distances.length - 1]!.toFixed(3)} last`] : []),
    // Records made before version 3 have no costs.
    ...(r.full && r.perWorker
      ? [
          `  full net: ${countText(r.full.weights)} weights, ${size(r.full.activationBytes)} of activations a batch, ${countText(r.full.flopsPerStep)} multiply-adds a step`,
          ...r.perWorker.map(
            (w, i) =>
              `  worker ${i + 1}: ${countText(w.weights)} weights (${share(w.weights, r.full.weights)}), ${size(w.activationBytes)} of activations (${share(w.activationBytes, r.full.activationBytes)}), ${countText(w.flopsPerStep)} multiply-adds (${share(w.flopsPerStep, r.full.flopsPerStep)})`,
          ),
        ]
      : []),
  ],
  figure(nets) {
    // The filter distance between successive syncs: where the winning filters settle, and where a stop condition ended pretraining.
    const lofts = nets.filter((n) => n.record.distances?.length);
    if (!lofts.length) return undefined;
    const values = lofts.flatMap((n) => n.record.distances.map((d, i) => ({ name: n.name, sync: i + 2, distance: d })));
    const stops = lofts.flatMap((n) => (n.record.stopped ? [{ name: n.name, sync: n.record.stopped.sync }] : []));
    const thresholds = lofts.flatMap((n) => (n.record.until !== undefined ? [{ name: n.name, until: n.record.until }] : []));
    return {
      title: "LoFT: filter distance to the previous sync's partitioned layers",
      layer: [
        {
          data: { values },
          mark: { type: "line", point: values.length <= 60 },
          encoding: {
            x: { field: "sync", type: "quantitative", title: "sync", axis: { tickMinStep: 1 } },
            y: { field: "distance", type: "quantitative", title: "filter distance" },
            color: { field: "name", type: "nominal", title: null },
          },
        },
        ...(stops.length ? [{ data: { values: stops }, mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { field: "sync", type: "quantitative" }, color: { field: "name", type: "nominal" } } }] : []),
        ...(thresholds.length ? [{ data: { values: thresholds }, mark: { type: "rule", strokeDash: [1, 2] }, encoding: { y: { field: "until", type: "quantitative" }, color: { field: "name", type: "nominal" } } }] : []),
      ],
    };
  },
};
