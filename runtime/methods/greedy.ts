// Greedy forward selection of neurons (Ye et al., ICML 2020; Wolfe et al. 2021): layer by
// layer from the input, start from no units and add, one at a time, the candidate whose
// addition gives the lowest mini-batch loss, until the selected net is nearly as accurate as
// the full one on a fixed subset of the training split.
//
// How a layer is restricted: its output h (after ReLU and pooling) is multiplied per unit by
// r, r_u = N/|S| for u in the selected set S and 0 otherwise, N = the layer's live units, so
// the selected units' sum stands for the full layer's (Ye et al.'s f_S = the average over the
// selected neurons, with the layer's scale N). The returned net folds r into the weights the
// NEXT layer takes from this one (its input rows: an input channel of a conv kernel, a row of
// a dense matrix, or a channel's H·W rows after the channel-major flatten): multiplied by
// N/|S| for kept units, zeroed and masked for the others. The unselected units themselves are
// removed through the channel mask (`channels`, their filters, bias, γ and β zeroed, as
// `masked` does), so the returned net computes what was evaluated.
//
// Candidates are drawn without replacement (a unit is added at most once); a net whose layer
// already has masked channels offers only its live units. The evaluation uses the running
// statistics of batch norm (inference mode) and never trains: fine-tune the result.

import type * as TF from "@tensorflow/tfjs-core";
import { describeArch, isChain, masked, withChannels, withMeasurement, withRecord, type Layer, type NetValue } from "../core/net.js";
import { datasetInput, netInput, num, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import type { MethodRecord } from "./record.js";
import { Random } from "../core/random.js";
import type { Engine } from "../engine/backend.js";
import { checkData, EngineNet, features } from "../engine/model.js";
import { testMetrics } from "../engine/train.js";

type Tensor = TF.Tensor;

/** Floats one stacked activation tensor may hold (32 MB): candidates and evaluation go in chunks under it. */
const CHUNK_FLOATS = 2 ** 23;
/** A layer's outputs on the evaluation subset are kept between checks when they fit in this (128 MB). */
const CACHE_FLOATS = 2 ** 25;

/** What `greedy` (forward selection, Ye et al. 2020) kept: per hidden layer, in order from the input. */
export interface GreedySelection {
  /** The accuracy the selection had to keep: at least (1 − tolerance) of the full net's. */
  readonly tolerance: number;
  /** The full net's accuracy on the evaluation subset of the training split. */
  readonly full: number;
  /** Examples in that subset. */
  readonly eval: number;
  /** Units (neurons, or a conv layer's filters) kept of the layer's total, and the selected net's accuracy on the subset after this layer. */
  readonly layers: readonly { readonly name: string; readonly kept: number; readonly total: number; readonly accuracy: number }[];
}

declare module "../core/net.js" {
  interface MethodRecords {
    greedy: GreedySelection;
  }
}

/** The selection describes the channel masks, so it goes with the mask. */
export const greedyRecord: MethodRecord<"greedy", { tolerance: number; full: number; eval: number; layers: { name: string; kept: number; total: number; accuracy: number }[] }> = {
  name: "greedy",
  followsMask: true,
  json: (r) => ({ tolerance: r.tolerance, full: r.full, eval: r.eval, layers: r.layers.map((l) => ({ name: l.name, kept: l.kept, total: l.total, accuracy: l.accuracy })) }),
  lines: (r) => [`greedy: ${r.layers.map((l) => `${l.name} kept ${l.kept} of ${l.total}`).join(", ")}`],
};

/** Each layer's output shape per example (after pooling), and the largest activation (floats per example) at or after it. */
function shapes(net: NetValue): { out: number[][]; largest: number[] } {
  let [h, w] = net.inputShape.length === 3 ? [net.inputShape[0]!, net.inputShape[1]!] : [1, 1];
  const out: number[][] = [];
  const sizes: number[] = [];
  for (const l of net.layers) {
    if (l.kind === "conv") {
      sizes.push(h * w * l.outputs);
      if (l.pool && h >= 2 && w >= 2) [h, w] = [Math.floor(h / 2), Math.floor(w / 2)];
      out.push([h, w, l.outputs]);
    } else {
      sizes.push(l.outputs);
      out.push([l.outputs]);
    }
  }
  const largest = out.map((s, i) => Math.max(s.reduce((a, b) => a * b, 1), ...sizes.slice(i + 1)));
  return { out, largest };
}

export function greedy(ctx: OpContext, engine: Engine): NetValue {
  const { tf } = engine;
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  checkData(net, data);
  if (data.train.targets) throw new OpFailure(`greedy judges each choice by accuracy on training classes, and the dataset '${data.name}' has values (regression); on a planted problem use forward_greedy`);
  if (data.train.y2) {
    throw new OpFailure(`greedy judges each choice by accuracy on training labels, and the training examples of '${data.name}' are concatenated pairs with two labels each, which greedy does not read; it takes datasets with one label an example`);
  }
  if (!isChain(net.layers)) {
    throw new OpFailure(
      `greedy grows each layer from the input on, and a layer's units feed only the next layer; this net's residual blocks (${describeArch(net)}) add a block's input to its output, so a unit left out would still reach the layers after it. Use prune (magnitude, snip, grasp or synflow) on a ResNet, or greedy on an mlp, conv2/4/6 or vgg`,
    );
  }
  const tolerance = num(ctx, "tolerance");
  const candidates = Math.max(1, Math.floor(num(ctx, "candidates")));
  const n = data.train.n;
  if (n === 0) throw new OpFailure(`greedy selects on the training split, and the dataset '${data.name}' has no training examples`);
  const batch = Math.max(1, Math.min(Math.floor(num(ctx, "batch")), n));
  const seed = num(ctx, "seed");
  const evalCount = Math.max(1, Math.min(Math.floor(num(ctx, "eval")), n));
  const { out: outShapes, largest } = shapes(net);
  const hidden = net.layers.length - 1;

  const xTrain = features(tf, data, data.train);
  const yTrain = tf.tensor1d(data.train.y, "int32");
  const evalIndex = tf.tensor1d(Int32Array.from(new Random(seed, "greedy/eval").permutation(n).subarray(0, evalCount)), "int32");
  const xEval = tf.gather(xTrain, evalIndex);
  const yEval = tf.gather(yTrain, evalIndex);
  const yEvalData = yEval.dataSync() as Int32Array;
  evalIndex.dispose();

  // Mini-batches run through the training split in a fresh seeded order each pass, across all layers.
  let order: Uint32Array = new Uint32Array(0);
  let pass = -1;
  let taken = n;
  const nextBatch = (): Int32Array => {
    if (taken + batch > n) {
      order = new Random(seed, `greedy/order/${++pass}`).permutation(n);
      taken = 0;
    }
    const idx = Int32Array.from(order.subarray(taken, taken + batch));
    taken += batch;
    return idx;
  };

  /** Correct predictions among `logits` against the evaluation labels from `from`. */
  const hits = (logits: Tensor, from: number): number => {
    const predicted = tf.tidy(() => tf.argMax(logits, 1));
    const p = predicted.dataSync();
    predicted.dispose();
    let c = 0;
    for (let i = 0; i < p.length; i++) c += p[i] === yEvalData[from + i] ? 1 : 0;
    return c;
  };

  let work: NetValue = net;
  const records: GreedySelection["layers"][number][] = [];
  let full = 0;
  let target = 0;
  try {
    // The full net's accuracy on the evaluation subset: the target every layer's selection keeps within tolerance of.
    {
      const model = new EngineNet(tf, net);
      const rows = Math.max(1, Math.floor(CHUNK_FLOATS / Math.max(...largest, net.inputShape.reduce((a, b) => a * b, 1))));
      for (let from = 0; from < evalCount; from += rows) {
        const size = Math.min(rows, evalCount - from);
        const logits = tf.tidy(() => model.forward(tf.slice(xEval, [from, 0], [size, -1]), false));
        full += hits(logits, from);
        logits.dispose();
      }
      model.dispose();
    }
    target = (1 - tolerance) * full;

    for (let i = 0; i < hidden; i++) {
      const layer = work.layers[i]!;
      const units = layer.outputs;
      const live: number[] = [];
      for (let u = 0; u < units; u++) if (!layer.channels || layer.channels[u] === 1) live.push(u);
      const selected = selectLayer(i, live);
      records.push({ name: layer.name, kept: selected.correct.kept, total: units, accuracy: selected.correct.accuracy });
      work = restrict(work, i, selected.set, live.length);
    }
  } finally {
    tf.dispose([xTrain, yTrain, xEval, yEval]);
  }

  /** Greedy selection in layer i over its live units; returns the chosen units, in the order chosen. */
  function selectLayer(i: number, live: readonly number[]): { set: number[]; correct: { kept: number; accuracy: number } } {
    const N = live.length;
    if (N === 0) return { set: [], correct: { kept: 0, accuracy: 0 } };
    const units = work.layers[i]!.outputs;
    const shape = outShapes[i]!;
    const perExample = largest[i]!;
    const prefix = new EngineNet(tf, { ...work, layers: work.layers.slice(0, i + 1) });
    const suffix = new EngineNet(tf, { ...work, inputShape: shape, layers: work.layers.slice(i + 1) });
    const flatten = shape.length === 3 && work.layers[i + 1]!.kind === "dense";
    const hSize = shape.reduce((a, b) => a * b, 1);

    /** Logits of the suffix for h (rank 2 or 4, the unit axis last), restricted and scaled by r (one row per copy of h). */
    const restricted = (h: Tensor, r: Tensor): Tensor => {
      const k = r.shape[0]!;
      const b = h.shape[0]!;
      const rest = h.shape.slice(1);
      const scaled = tf.mul(tf.expandDims(h, 0), tf.reshape(r, [k, 1, ...rest.slice(0, -1).map(() => 1), units]));
      let x = tf.reshape(scaled, [k * b, ...rest]);
      if (flatten) x = work.head === "average" ? tf.mean(x, [1, 2]) : tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [k * b, -1]);
      else x = tf.reshape(x, [k * b, -1]);
      return suffix.forward(x, false);
    };
    const ratios = (sets: readonly (readonly number[])[]): Tensor => {
      const r = new Float32Array(sets.length * units);
      sets.forEach((s, k) => {
        for (const u of s) r[k * units + u] = N / s.length;
      });
      return tf.tensor2d(r, [sets.length, units]);
    };

    // The layer's outputs on the evaluation subset, computed once when they fit.
    const evalRows = Math.max(1, Math.floor(CHUNK_FLOATS / perExample));
    const cache: Tensor[] | undefined = evalCount * hSize <= CACHE_FLOATS ? [] : undefined;
    for (let from = 0; cache && from < evalCount; from += evalRows) {
      const size = Math.min(evalRows, evalCount - from);
      cache.push(tf.tidy(() => prefix.forward(tf.slice(xEval, [from, 0], [size, -1]), false)));
    }
    const evalCorrect = (set: readonly number[]): number => {
      const r = ratios([set]);
      let c = 0;
      for (let from = 0, chunk = 0; from < evalCount; from += evalRows, chunk++) {
        const size = Math.min(evalRows, evalCount - from);
        const logits = tf.tidy(() => restricted(cache ? cache[chunk]! : prefix.forward(tf.slice(xEval, [from, 0], [size, -1]), false), r));
        c += hits(logits, from);
        logits.dispose();
      }
      r.dispose();
      return c;
    };

    const random = new Random(seed, `greedy/candidates/${work.layers[i]!.name}`);
    const set: number[] = [];
    const remaining = [...live];
    let correct = 0;
    try {
      while (set.length < N) {
        const idx = nextBatch();
        const b = idx.length;
        const pool = remaining.length <= candidates ? [...remaining] : Array.from(random.permutation(remaining.length).subarray(0, candidates), (p) => remaining[p]!);
        const [h, y] = tf.tidy(() => {
          const indices = tf.tensor1d(idx, "int32");
          return [prefix.forward(tf.gather(xTrain, indices), false), tf.gather(yTrain, indices)];
        });
        const losses: number[] = [];
        const perChunk = Math.max(1, Math.floor(CHUNK_FLOATS / (b * perExample)));
        for (let from = 0; from < pool.length; from += perChunk) {
          const chunk = pool.slice(from, from + perChunk);
          const r = ratios(chunk.map((j) => [...set, j]));
          const loss = tf.tidy(() => {
            const logits = restricted(h!, r);
            const onehot = tf.oneHot(tf.tile(y!, [chunk.length]) as TF.Tensor1D, work.classes);
            const perRow = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
            return tf.mean(tf.reshape(perRow, [chunk.length, b]), 1);
          });
          losses.push(...(loss.dataSync() as Float32Array));
          tf.dispose([loss, r]);
        }
        tf.dispose([h!, y!]);
        // The lowest loss wins; ties go to the candidate drawn first.
        let best = 0;
        for (let k = 1; k < losses.length; k++) if (losses[k]! < losses[best]!) best = k;
        const unit = pool[best]!;
        set.push(unit);
        remaining.splice(remaining.indexOf(unit), 1);
        correct = evalCorrect(set);
        ctx.progress({
          stage: ctx.stage,
          epoch: i + 1,
          epochs: hidden,
          step: set.length,
          steps: N,
          loss: losses[best]!,
          accuracy: correct / evalCount,
        });
        if (correct >= target) break;
      }
    } finally {
      if (cache) tf.dispose(cache);
      prefix.dispose();
      suffix.dispose();
    }
    return { set, correct: { kept: set.length, accuracy: correct / evalCount } };
  }

  // Like earlybird: the last history point measured the net before its units were removed.
  const last = work.history[work.history.length - 1];
  const metrics = data.test.n > 0 ? testMetrics(engine, work, data) : undefined;
  const remeasured = { ...work, history: last && metrics ? [...work.history.slice(0, -1), { ...last, accuracy: metrics.accuracy, loss: metrics.loss }] : work.history };
  const selected = withRecord(remeasured, "greedy", { tolerance, full: full / evalCount, eval: evalCount, layers: records });
  return metrics ? withMeasurement(selected, metrics) : selected;
}

/**
 * Keeps only `set` of layer i's units (channel mask) and folds the N/|S| scale into the
 * next layer's weights from them; the next layer's weights from removed units are masked.
 */
function restrict(net: NetValue, i: number, set: readonly number[], live: number): NetValue {
  const layer = net.layers[i]!;
  const next = net.layers[i + 1]!;
  const channels = new Uint8Array(layer.outputs);
  for (const u of set) channels[u] = 1;
  const kept: Layer = withChannels(layer, channels);
  const scale = set.length ? live / set.length : 0;
  // A next-layer weight's input: its index over [out, in, k, k]; after a flatten, H·W inputs per unit.
  const area = next.kernel * next.kernel;
  const group = next.inputs / layer.outputs;
  const weight = new Float32Array(next.weight.length);
  const mask = new Uint8Array(next.mask.length);
  for (let j = 0; j < weight.length; j++) {
    const unit = Math.floor((Math.floor(j / area) % next.inputs) / group);
    if (!channels[unit]) continue;
    weight[j] = next.weight[j]! * scale;
    mask[j] = next.mask[j]!;
  }
  const layers = net.layers.map((l, k) => (k === i ? kept : k === i + 1 ? masked({ ...next, weight, mask }) : l));
  return { ...net, layers };
}

export const implementations: OpImplementations = {
  greedy: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: greedy(ctx, e) })) },
};
