// Pruning at initialisation by saliency: SNIP (Lee et al. 2019) and GraSP (Wang et al. 2020) score every weight
// from one batch of training data, SynFlow (Tanaka et al. 2020) from the net alone over 100 rounds. The removal
// itself is `prune`'s (runtime/methods/nets.ts `pruneByScores`): same scopes, same counts, ties
// by position, only live weights as candidates, biases never pruned.
//
// GraSP's Hessian-gradient product Hg is double backprop, as in the reference code. tfjs has
// no gradient for two kernels a conv net's backward pass runs, Conv2DBackpropFilter and
// MaxPoolGrad (on every backend), so this module registers them (built from conv2d,
// conv2dTranspose, slices and selects, which every backend has); and its logSoftmax gradient
// is silently flat to a second pass, so GraSP's loss brings its own (`curvedCrossEntropy`).
// Both are checked against a float64 computation in tests/runtime/saliency.test.ts. A central
// difference of gradients was tried instead and rejected: on LeNet-300-100 at init its error
// exceeded the signal at every step from 1e-5 to 1e-2 of ‖w‖ (ReLUs that change side make the
// gradient jump), keeping a quarter to a half of the right weights of the first layer.
//
// SynFlow's R = Σ logits of |θ| on an all-ones input grows like the product of the layers'
// row sums and overflows float32 on deep nets. Each round therefore scales every layer's
// |weights| by a power of two c_l that brings its largest (batch-norm-scaled) row sum to
// about 1, and its biases, β and running means by C_l = c_1···c_l: every activation is then
// the unscaled one times C_l, exactly (powers of two only move exponents), and every score
// the unscaled one times C_L, the same factor for all weights, so the ranking is the one an
// unbounded float would give.

import type * as TF from "@tensorflow/tfjs-core";
import type { Layer, NetValue } from "../core/net.js";
import type { DatasetValue, Split } from "../core/dataset.js";
import { datasetInput, netInput, num, str, type OpContext } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import { lowest } from "../core/select.js";
import { prune, pruneByScores, type PruneScope } from "./pruning.js";
import type { Engine } from "../engine/backend.js";
import { BATCH_NORM, checkData, EngineNet, features, fromEngine } from "../engine/model.js";
import { crossEntropy } from "../engine/train.js";

type Tensor = TF.Tensor;

/** GraSP's softmax temperature (the reference code's T = 200). */
export const GRASP_TEMPERATURE = 200;
/** SynFlow's rounds (the reference's `prune_epochs` 100). */
export const SYNFLOW_ROUNDS = 100;
/** Training examples per class in the batch SNIP and GraSP score on (the reference's 10 per class). */
export const EXAMPLES_PER_CLASS = 10;

export type SaliencyCriterion = "snip" | "grasp" | "synflow";

/** The first `perClass` examples of each class, in the split's order (all of a class that has fewer). */
export function pruneBatch(data: DatasetValue, perClass = EXAMPLES_PER_CLASS): Split {
  const split = data.train;
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const taken = new Map<number, number>();
  const rows: number[] = [];
  for (let i = 0; i < split.n; i++) {
    const c = split.y[i]!;
    const t = taken.get(c) ?? 0;
    if (t >= perClass) continue;
    taken.set(c, t + 1);
    rows.push(i);
  }
  const x = split.x instanceof Uint8Array ? new Uint8Array(rows.length * width) : new Float32Array(rows.length * width);
  rows.forEach((r, i) => x.set(split.x.subarray(r * width, (r + 1) * width), i * width));
  return { n: rows.length, x, y: Int32Array.from(rows, (r) => split.y[r]!) };
}

/**
 * Mean cross-entropy of softmax(logits) against integer labels, with its gradient
 * (softmax(logits) − onehot) / n built from the logits themselves. tfjs's logSoftmax (and exp,
 * softmax) gradients use the op's saved output, which a second backward pass silently treats
 * as a constant (the saved copy is taped before the op that makes it), dropping the loss's own
 * curvature from Hg; this one keeps it.
 */
function curvedCrossEntropy(tf: typeof TF, logits: Tensor, labels: Tensor, classes: number): TF.Scalar {
  const onehot = tf.oneHot(labels as TF.Tensor1D, classes);
  const n = logits.shape[0]!;
  const f = (z: Tensor, labels1h: Tensor, save: TF.GradSaveFunc) => {
    // Saved (kept) copies: anything else made here is gone by the time the gradient runs.
    save([z, labels1h]);
    return {
      value: tf.neg(tf.mean(tf.sum(tf.mul(labels1h, tf.logSoftmax(z)), 1))) as TF.Scalar,
      gradFunc: (dy: Tensor, [zs, ys]: Tensor[]) => [tf.mul(dy, tf.div(tf.sub(tf.softmax(zs!), ys!), n)), tf.zerosLike(ys!)],
    };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0])(logits, onehot) as TF.Scalar;
}

type Loss = (tf: typeof TF, logits: Tensor, labels: Tensor, classes: number) => TF.Scalar;

/** The gradients of `loss` (of logits / temperature) w.r.t. the layers' weights (engine layout), masked. */
function lossGradients(tf: typeof TF, model: EngineNet, x: Tensor, y: Tensor, loss: Loss, temperature: number, weights: readonly Tensor[]): Tensor[] {
  const f = (...ws: Tensor[]) => {
    const logits = model.forward(x, false, undefined, ws);
    return loss(tf, temperature === 1 ? logits : tf.div(logits, temperature), y, model.net.classes);
  };
  return tf.grads(f)([...weights]).map((g, i) => tf.mul(g, model.params[i]!.mask));
}

/**
 * The gradients tfjs lacks for a second backward pass through conv nets, registered once
 * (where tfjs has none; they take effect for every backend):
 *   Conv2DBackpropFilter(x, dy) = dW, linear in each: ∂⟨dW, G⟩/∂x = conv2dTranspose(dy, G),
 *     ∂⟨dW, G⟩/∂dy = conv2d(x, G);
 *   MaxPoolGrad(dy, x, y) routes each window's dy to its maximum (the first, row-major, as the
 *     kernels do): ∂⟨dx, G⟩/∂dy is G at each window's maximum; x and y move no routing, so 0.
 */
export function registerSecondOrderGradients(tf: typeof TF): void {
  if (!tf.getGradient("Conv2DBackpropFilter")) {
    tf.registerGradient({
      kernelName: "Conv2DBackpropFilter",
      inputsToSave: ["x", "dy"],
      gradFunc: (g, saved, attrs) => {
        const [x, dy] = saved as [TF.Tensor4D, TF.Tensor4D];
        const { strides, pad, dataFormat, dimRoundingMode } = attrs as unknown as {
          strides: [number, number] | number;
          pad: "valid" | "same" | number;
          dataFormat: string;
          dimRoundingMode?: "floor" | "round" | "ceil";
        };
        if (dataFormat !== "NHWC") throw new Error(`the gradient of Conv2DBackpropFilter supports NHWC only, not ${dataFormat}`);
        const G = g as TF.Tensor4D;
        return {
          x: () => tf.conv2dTranspose(dy, G, x.shape, strides, pad, dimRoundingMode),
          dy: () => tf.conv2d(x, G, strides, pad, "NHWC", 1, dimRoundingMode),
        };
      },
    });
  }
  if (!tf.getGradient("MaxPoolGrad")) {
    tf.registerGradient({
      kernelName: "MaxPoolGrad",
      inputsToSave: ["dy", "input", "output"],
      gradFunc: (g, saved, attrs) => {
        const [dy, input, output] = saved as [TF.Tensor4D, TF.Tensor4D, TF.Tensor4D];
        const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
          filterSize: [number, number] | number;
          strides: [number, number] | number;
          pad: "valid" | "same" | number;
          dimRoundingMode?: "floor" | "round" | "ceil";
        };
        return {
          dy: () => {
            const info = tf.backend_util.computePool2DInfo(input.shape, filterSize, strides, 1, pad, dimRoundingMode);
            const { top, bottom, left, right } = info.padInfo;
            const paddings: [number, number][] = [[0, 0], [top, bottom], [left, right], [0, 0]];
            // Padding is never the maximum: -∞ in x, and nothing to pick up in G.
            const xp = top + bottom + left + right > 0 ? tf.pad(input, paddings, -Infinity) : input;
            const gp = top + bottom + left + right > 0 ? tf.pad(g as TF.Tensor4D, paddings) : (g as TF.Tensor4D);
            const { batchSize: n, outHeight: oh, outWidth: ow, inChannels: c, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
            let picked: Tensor = tf.zerosLike(dy);
            let found: Tensor = tf.zerosLike(dy).cast("bool");
            for (let i = 0; i < fh; i++) {
              for (let j = 0; j < fw; j++) {
                const at = (t: Tensor) => tf.stridedSlice(t, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c], [1, sh, sw, 1]);
                const hit = tf.logicalAnd(tf.equal(at(xp), output), tf.logicalNot(found));
                picked = tf.where(hit, at(gp), picked);
                found = tf.logicalOr(found, hit);
              }
            }
            return picked;
          },
          input: () => tf.zerosLike(input),
          output: () => tf.zerosLike(output),
        };
      },
    });
  }
}

/**
 * Per layer (stored layout), the score `pruneByScores` removes the lowest of:
 *   snip:  |w ⊙ g|, g = ∂L/∂w of the mean cross-entropy on `pruneBatch(data)`;
 *   grasp: w ⊙ Hg = −S, where GraSP's S = −w ⊙ Hg and the highest S go; L with logits / 200,
 *          Hg = ∂(gᵀ·stopgrad(g))/∂w by double backprop (g over the weights, not biases).
 * Both at the net's current (masked) weights, batch norm on its running statistics (the
 * reference's eval mode), gradients of pruned weights taken as 0.
 */
export function saliencyScores(engine: Engine, net: NetValue, criterion: "snip" | "grasp", data: DatasetValue): Float32Array[] {
  const { tf } = engine;
  checkData(net, data);
  const batch = pruneBatch(data);
  if (batch.n === 0) throw new OpFailure(`prune by ${criterion} needs training examples, and the dataset '${data.name}' has none`);
  if (criterion === "grasp") registerSecondOrderGradients(tf);
  const model = new EngineNet(tf, net);
  const x = features(tf, data, batch);
  const y = tf.tensor1d(batch.y, "int32");
  try {
    const w = model.params.map((p) => p.weight as Tensor);
    const scores = tf.tidy(() => {
      if (criterion === "snip") return lossGradients(tf, model, x, y, crossEntropy, 1, w).map((g, i) => tf.abs(tf.mul(g, w[i]!)));
      const g = lossGradients(tf, model, x, y, curvedCrossEntropy, GRASP_TEMPERATURE, w);
      const gradients = (ws: Tensor[]) => lossGradients(tf, model, x, y, curvedCrossEntropy, GRASP_TEMPERATURE, ws);
      const gTg = (...ws: Tensor[]) => tf.addN(gradients(ws).map((t, i) => tf.sum(tf.mul(t, g[i]!)))) as TF.Scalar;
      return tf.grads(gTg)(w).map((hg, i) => tf.mul(w[i]!, hg));
    });
    return toStored(scores, net);
  } finally {
    model.dispose();
    tf.dispose([x, y]);
  }
}

/** Powers of two only, so scaling moves exponents and rounds nothing. */
const powerOfTwoBelow = (m: number) => (m > 0 && Number.isFinite(m) ? 2 ** -Math.round(Math.log2(m)) : 1);

/**
 * The net SynFlow scores: every parameter replaced by its absolute value (batch norm's running
 * statistics too, as the reference's `state_dict` abs does), weights under `masks`, each
 * layer rescaled by a power of two (see the file's head).
 */
function linearised(net: NetValue, masks: readonly Uint8Array[]): NetValue {
  let cumulative = 1;
  const absolute = (xs: Float32Array, by = 1) => {
    const out = new Float32Array(xs.length);
    for (let i = 0; i < xs.length; i++) out[i] = Math.abs(xs[i]!) * by;
    return out;
  };
  const layers = net.layers.map((l, i): Layer => {
    const mask = masks[i]!;
    const weight = new Float32Array(l.weight.length);
    const filter = weight.length / l.outputs;
    let largest = 0;
    for (let o = 0, j = 0; o < l.outputs; o++) {
      let sum = 0;
      for (const end = j + filter; j < end; j++) {
        const w = mask[j] ? Math.abs(l.weight[j]!) : 0;
        weight[j] = w;
        sum += w;
      }
      if (l.norm) sum *= Math.abs(l.norm.gamma[o]!) / Math.sqrt(Math.abs(l.norm.variance[o]!) + BATCH_NORM.epsilon);
      largest = Math.max(largest, sum);
    }
    const c = powerOfTwoBelow(largest);
    cumulative *= c;
    for (let j = 0; j < weight.length; j++) weight[j]! *= c;
    return {
      ...l,
      weight,
      mask,
      ...(l.bias ? { bias: absolute(l.bias, cumulative) } : {}),
      ...(l.norm
        ? { norm: { gamma: absolute(l.norm.gamma), beta: absolute(l.norm.beta, cumulative), mean: absolute(l.norm.mean, cumulative), variance: absolute(l.norm.variance) } }
        : {}),
    };
  });
  return { ...net, layers };
}

/**
 * One round of SynFlow's scores under `masks` (stored layout): |θ ⊙ ∂R/∂θ| with R the sum of
 * the logits of the all-|θ| net on an all-ones input (batch 1, batch norm in eval mode), up to
 * one positive factor shared by every weight. Masked weights score 0.
 */
export function synflowScores(engine: Engine, net: NetValue, masks: readonly Uint8Array[] = net.layers.map((l) => l.mask)): Float32Array[] {
  const { tf } = engine;
  const flat = linearised(net, masks);
  const model = new EngineNet(tf, flat);
  try {
    const width = net.inputShape.reduce((a, b) => a * b, 1);
    const weights = model.params.map((p) => p.weight);
    const scores = tf.tidy(() => {
      const x = tf.ones([1, width]);
      const { grads } = tf.variableGrads(() => tf.sum(model.forward(x, false)) as TF.Scalar, weights);
      return weights.map((w) => tf.mul(w, grads[w.name]!));
    });
    return toStored(scores, net);
  } finally {
    model.dispose();
  }
}

/** Layers ranked together and the share of their live weights to remove. */
export interface PruneGroup {
  readonly layers: readonly number[];
  readonly rate: number;
}

/** `prune`'s groups: each hidden layer alone or all together, and the output layer alone at its own rate. */
export function pruneGroups(net: NetValue, rate: number, outputRate: number, scope: PruneScope): PruneGroup[] {
  const last = net.layers.length - 1;
  const hidden = net.layers.slice(0, last).map((_, i) => i);
  return [...(scope === "global" ? [{ layers: hidden, rate }] : hidden.map((i) => ({ layers: [i], rate }))), { layers: [last], rate: outputRate }];
}

/**
 * SynFlow's masks: `rounds` rounds of scoring and re-masking; after round i (0-based) each
 * group keeps round(n·d^((i+1)/rounds)) of its n live weights, d = 1 − rate, and after the
 * last exactly n − round(rate·n), as `prune` leaves. The lowest scores go, ties by position.
 */
export function synflowMasks(engine: Engine, net: NetValue, groups: readonly PruneGroup[], rounds = SYNFLOW_ROUNDS): Uint8Array[] {
  const masks = net.layers.map((l) => Uint8Array.from(l.mask));
  const live = (layers: readonly number[]) => layers.reduce((n, i) => n + masks[i]!.reduce((a, m) => a + m, 0), 0);
  const plan = groups.map((g) => {
    const start = live(g.layers);
    const final = start - Math.round(g.rate * start);
    const density = 1 - g.rate;
    return { ...g, keep: (i: number) => (i === rounds - 1 ? final : Math.max(final, Math.round(start * density ** ((i + 1) / rounds)))) };
  });
  for (let round = 0; round < rounds; round++) {
    const due = plan.filter((g) => live(g.layers) > g.keep(round));
    if (due.length === 0) continue;
    const scores = synflowScores(engine, net, masks);
    for (const g of due) {
      const count = live(g.layers);
      const layerOf = new Uint32Array(count);
      const indexOf = new Uint32Array(count);
      const ranked = new Float32Array(count);
      let c = 0;
      for (const i of g.layers) {
        const mask = masks[i]!;
        for (let j = 0; j < mask.length; j++) {
          if (!mask[j]) continue;
          layerOf[c] = i;
          indexOf[c] = j;
          ranked[c++] = scores[i]![j]!;
        }
      }
      for (const r of lowest(ranked, count - g.keep(round))) masks[layerOf[r]!]![indexOf[r]!] = 0;
    }
  }
  return masks;
}

/**
 * `prune` with criterion snip, grasp or synflow (magnitude and random go to `prune`): the
 * same parameters, plus the dataset input `data` that snip and grasp score on.
 */
export function pruneBySaliency(ctx: OpContext, engine: Engine): NetValue {
  const criterion = str(ctx, "criterion");
  if (criterion !== "snip" && criterion !== "grasp" && criterion !== "synflow") return prune(ctx);
  const net = netInput(ctx, "net");
  const rate = num(ctx, "rate");
  const outputRate = num(ctx, "output_rate");
  const scope = str(ctx, "scope") as PruneScope;
  if (criterion === "synflow") {
    if (ctx.inputs["data"]) checkData(net, datasetInput(ctx, "data"));
    const masks = synflowMasks(engine, net, pruneGroups(net, rate, outputRate, scope));
    // Kept weights score 1, removed 0: exactly the removed ones are the lowest, as many as prune removes.
    return pruneByScores(net, masks.map((m) => Float32Array.from(m)), rate, outputRate, scope);
  }
  if (!ctx.inputs["data"]) throw new OpFailure(`prune by ${criterion} scores weights on a batch of training data: give it one, as in prune(net, ${+(rate * 100).toFixed(6)}%, criterion: ${criterion}, data: <dataset>)`);
  const data = datasetInput(ctx, "data");
  if (data.train.targets) throw new OpFailure(`prune by ${criterion} scores weights by the cross-entropy on training classes, and the dataset '${data.name}' has values (regression); prune by magnitude or synflow`);
  if (data.train.y2) {
    throw new OpFailure(`prune by ${criterion} scores weights by the loss on training labels, and the training examples of '${data.name}' are concatenated pairs with two labels each, which ${criterion} does not read; prune by magnitude or synflow (no labels)`);
  }
  const scores = saliencyScores(engine, net, criterion, data);
  for (const [i, s] of scores.entries()) {
    if (s.some((v, j) => net.layers[i]!.mask[j] === 1 && Number.isNaN(v))) {
      throw new OpFailure(`prune by ${criterion}: the scores of layer ${net.layers[i]!.name} are not numbers (NaN); are the net's weights finite?`);
    }
  }
  return pruneByScores(net, scores, rate, outputRate, scope);
}

/** Per-layer scores in the engine layout, read back in the stored layout and freed. */
function toStored(scores: readonly Tensor[], net: NetValue): Float32Array[] {
  return scores.map((s, i) => {
    const out = fromEngine(s.dataSync() as Float32Array, net.layers[i]!);
    s.dispose();
    return out;
  });
}
