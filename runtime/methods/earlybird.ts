// Early-bird tickets (You et al., ICLR 2020): train with an L1 penalty on batch-norm scales,
// draw a channel mask from |γ| after every epoch, and stop once the newest mask is within
// `eps` (normalised Hamming distance) of each of the previous `window − 1`.

import { withChannels, withMeasurement, withRecord, type NetValue } from "../core/net.js";
import { percent, type MethodRecord } from "./record.js";
import { lowest } from "../core/select.js";
import { datasetInput, durationParam, netInput, num, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import type { Engine } from "../engine/backend.js";
import { fit, testMetrics } from "../engine/train.js";
import type { EngineNet } from "../engine/model.js";

/** What `earlybird` found: when the channel mask stopped changing, and how much it masks. */
export interface EarlyBird {
  /** Epochs trained when the ticket emerged (or `max` when it did not). */
  readonly epoch: number;
  readonly emerged: boolean;
  readonly channelSparsity: number;
  /** Normalised Hamming distance between consecutive masks, one per epoch after the first. */
  readonly distances: readonly number[];
}

declare module "../core/net.js" {
  interface MethodRecords {
    earlybird: EarlyBird;
  }
}

/** The record describes the channel mask, so it goes with the mask; the report draws its distances. */
export const earlybirdRecord: MethodRecord<"earlybird", { epoch: number; channelSparsity: number; emerged: boolean; distances: readonly number[] }> = {
  name: "earlybird",
  followsMask: true,
  json: (r) => ({ epoch: r.epoch, channelSparsity: r.channelSparsity, emerged: r.emerged, distances: r.distances }),
  lines: (r) => [`early bird: ${r.emerged ? "emerged after" : "did not emerge within"} ${r.epoch} epochs; ${percent(r.channelSparsity)} of channels masked`],
  figure(nets) {
    // (c) Early-bird emergence: how far each epoch's channel mask moved from the one before.
    const birds = nets.filter((n) => n.record.distances.length);
    if (!birds.length) return undefined;
    const values = birds.flatMap((n) => n.record.distances.map((d, i) => ({ name: n.name, epoch: i + 2, distance: d })));
    const emerged = birds.filter((n) => n.record.emerged).map((n) => ({ name: n.name, epoch: n.record.epoch }));
    return {
      title: "Early-bird channel masks: distance to the previous epoch's",
      layer: [
        {
          data: { values },
          mark: { type: "line", point: true },
          encoding: {
            x: { field: "epoch", type: "quantitative", title: "epoch", axis: { tickMinStep: 1 } },
            y: { field: "distance", type: "quantitative", title: "normalised Hamming distance" },
            color: { field: "name", type: "nominal", title: null },
          },
        },
        { data: { values: emerged }, mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { field: "epoch", type: "quantitative" }, color: { field: "name", type: "nominal" } } },
      ],
    };
  },
};

/** You et al.'s training: SGD with momentum 0.9 and weight decay 1e-4 (the L1 term on γ is the op's `l1`). */
const YOU_ET_AL = { momentum: 0.9, weightDecay: 1e-4 } as const;

/** One global threshold over |γ| of every batch-norm channel: the `rate` smallest go (ties by position). */
export function channelMask(scales: readonly Float32Array[], rate: number): Uint8Array {
  const all = new Float32Array(scales.reduce((n, g) => n + g.length, 0));
  let offset = 0;
  for (const g of scales) for (const v of g) all[offset++] = Math.abs(v);
  const mask = new Uint8Array(all.length).fill(1);
  // γ read mid-training: a NaN (training diverging) is masked only after every number, not an error here.
  for (const i of lowest(all, Math.round(rate * all.length), "last")) mask[i] = 0;
  return mask;
}

export function hamming(a: Uint8Array, b: Uint8Array): number {
  let differ = 0;
  for (let i = 0; i < a.length; i++) differ += a[i] === b[i] ? 0 : 1;
  return a.length === 0 ? 0 : differ / a.length;
}

export function earlybird(ctx: OpContext, engine: Engine): NetValue {
  const net = netInput(ctx, "net");
  if (!net.layers.some((l) => l.norm)) {
    throw new OpFailure(`earlybird ranks batch-norm scales, and this net has no batch norm; use vgg(batchnorm: true)`);
  }
  const rate = num(ctx, "rate");
  const eps = num(ctx, "eps");
  const window = num(ctx, "window");
  const max = durationParam(ctx, "max");
  const masks: Uint8Array[] = [];
  const distances: number[] = [];
  let emerged: number | undefined;

  const afterEpoch = (epoch: number, model: EngineNet): boolean => {
    const mask = channelMask(model.scales().map((s) => s.gamma), rate);
    if (masks.length) distances.push(hamming(masks[masks.length - 1]!, mask));
    masks.push(mask);
    if (masks.length > window) masks.shift();
    if (masks.length === window && masks.slice(0, -1).every((older) => hamming(older, mask) <= eps)) emerged = epoch;
    return emerged !== undefined;
  };
  const data = datasetInput(ctx, "data");
  const trained = fit(engine, net, data, {
    lr: num(ctx, "lr"),
    batch: num(ctx, "batch"),
    optimizer: "momentum",
    momentum: YOU_ET_AL.momentum,
    weightDecay: YOU_ET_AL.weightDecay,
    cosine: false,
    length: max,
    warmup: { steps: 0 },
    seed: 0,
    l1: num(ctx, "l1"),
    stage: ctx.stage,
    progress: (p) => ctx.progress(p),
    hooks: { afterEpoch },
  });

  // The ticket: the last mask drawn (or, for a budget under one epoch, one drawn now),
  // spread over the layers that have batch norm.
  const mask = masks[masks.length - 1] ?? channelMask(trained.layers.flatMap((l) => (l.norm ? [l.norm.gamma] : [])), rate);
  let offset = 0;
  const layers = trained.layers.map((l) => {
    if (!l.norm) return l;
    const channels = mask.slice(offset, offset + l.outputs);
    offset += l.outputs;
    return withChannels(l, channels);
  });
  // The last history point measured the net before its channels were masked: measure the ticket.
  const ticket = { ...trained, layers };
  const last = trained.history[trained.history.length - 1]!;
  const metrics = testMetrics(engine, ticket, data);
  const record: EarlyBird = {
    epoch: emerged ?? ("epochs" in max ? max.epochs : 0),
    emerged: emerged !== undefined,
    channelSparsity: 1 - mask.reduce((a, m) => a + m, 0) / mask.length,
    distances,
  };
  const measured = { ...ticket, history: [...trained.history.slice(0, -1), { ...last, accuracy: metrics.accuracy, loss: metrics.loss }] };
  return withMeasurement(withRecord(measured, "earlybird", record), metrics);
}

export const implementations: OpImplementations = {
  earlybird: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: earlybird(ctx, e) })) },
};
