// Supermasks by edge-popup (Ramanujan et al., CVPR 2020; cf. Zhou et al., NeurIPS 2019):
// the weights stay frozen and a score per weight is trained instead. The forward pass uses
// w ⊙ m, m = 1 for the top (1 − rate) share of |s| among each layer's live weights, and the
// backward pass is straight-through: the gradient w.r.t. the ranked |s| is w ⊙ ∂L/∂(w ⊙ m),
// as if m were the identity (so w.r.t. s itself it is sign(s) ⊙ w ⊙ ∂L/∂(w ⊙ m), the
// gradient through edge-popup's `scores.abs()`).
//
// Choices:
// - Scores start kaiming-uniform as in edge-popup (`kaiming_uniform_(a=√5)`: U(−b, b),
//   b = 1/√fan_in), drawn from Random(seed, "supermask/scores/<layer>"); their first mask
//   is therefore a random one. Ranking is per layer and scale-free, so only lr and
//   weight_decay see the scale.
// - weight_decay is an L2 term on the scores (edge-popup's 5e-4); schedule is constant or a
//   cosine decay to 0 with no warmup; data order is Random(seed, "train/order/<epoch>"), the
//   same order `train` draws for that seed.
// - Biases and batch-norm γ/β are frozen; batch norm normalises with the batch's statistics
//   while training and its running statistics are updated as `train` updates them
//   (PyTorch's momentum 0.1), so the result evaluates with statistics of the masked net.
// - Masks for the training steps come from the engine's top-k; masks that are measured and
//   returned are drawn in plain JavaScript (ties by position), the same on every backend.
// - The result keeps every surviving weight bit for bit; a weight the supermask removes is
//   0 in `weight` as well as in `mask`, as every stored net's pruned weights are.

import type * as TF from "@tensorflow/tfjs-core";
import type { DatasetValue } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";
import { liveMask, type Layer, type NetValue } from "../core/net.js";
import { Random } from "../core/random.js";
import { highest } from "../core/select.js";
import type { Engine } from "../engine/backend.js";
import { fromEngine, toEngine } from "../engine/model.js";
import { fit, measure, type FitOptions } from "../engine/train.js";
import { datasetInput, netInput, num, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { trainingOptions } from "./training.js";

type Tensor = TF.Tensor;

/** train's options (no warmup: the scores start at once), `weightDecay` an L2 penalty on the scores, `seed` the data order's and the scores'. */
export interface SupermaskOptions extends Pick<FitOptions, "lr" | "batch" | "optimizer" | "momentum" | "weightDecay" | "cosine" | "length" | "seed" | "stage" | "progress"> {
  /** Share of each layer's live weights to mask out, 0..1. */
  readonly rate: number;
  /** Starting scores per layer in the stored layout (tests); default kaiming-uniform. */
  readonly scores?: readonly Float32Array[];
}

/** How many of a layer's `live` weights a supermask at `rate` keeps. */
export function keepCount(live: number, rate: number): number {
  return Math.round((1 - rate) * live);
}

/**
 * The `keep` live positions with the largest |score| (ties by position, lower first).
 * Plain JavaScript, so the same on every backend.
 */
export function topMask(scores: Float32Array, live: Uint8Array, keep: number): Uint8Array {
  const mask = new Uint8Array(scores.length);
  if (keep <= 0) return mask;
  let count = 0;
  for (let j = 0; j < scores.length; j++) if (live[j]) count++;
  const at = new Uint32Array(count);
  const sizes = new Float32Array(count);
  let c = 0;
  for (let j = 0; j < scores.length; j++) {
    if (!live[j]) continue;
    at[c] = j;
    sizes[c++] = Math.abs(scores[j]!);
  }
  // Scores read mid-training: a NaN (training diverging) is kept only after every number, not an error here.
  for (const r of highest(sizes, keep, "last")) mask[at[r]!] = 1;
  return mask;
}

/** Edge-popup's starting scores: U(−1/√fan_in, 1/√fan_in), stored layout, seeded per layer. */
export function initialScores(l: Layer, seed: number): Float32Array {
  const random = new Random(seed, `supermask/scores/${l.name}`);
  const bound = 1 / Math.sqrt(l.inputs * l.kernel * l.kernel);
  return Float32Array.from({ length: l.weight.length }, () => (2 * random.next() - 1) * bound);
}

/**
 * The masked weight w ⊙ top-k(|s|) as a function of the scores s, with the straight-through
 * gradient sign(s) ⊙ w ⊙ dy (w ⊙ dy w.r.t. |s|). `live` is 1 where the net's weight is alive
 * (engine layout); only live weights are ranked.
 */
export function maskedWeight(tf: typeof TF, weight: Tensor, live: Tensor, scores: Tensor, keep: number): Tensor {
  const f = tf.customGrad((...args: unknown[]) => {
    const s = args[0] as Tensor;
    let m: Tensor;
    if (keep <= 0) m = tf.zerosLike(weight);
    else {
      // Dead positions rank at −1, below every |s|, and keep ≤ live, so none is chosen.
      const rank = tf.reshape(tf.where(tf.cast(live, "bool"), tf.abs(s), tf.fill(s.shape, -1)), [-1]);
      const { indices } = tf.topk(rank, keep, false);
      m = tf.reshape(tf.scatterND(tf.expandDims(indices, 1), tf.ones([keep]), [s.size]), s.shape);
    }
    return {
      value: tf.mul(weight, m),
      gradFunc: (dy: Tensor) => [tf.mul(tf.mul(dy, weight), tf.where(tf.greaterEqual(s, 0), tf.onesLike(s), tf.fill(s.shape, -1)))],
    };
  });
  return (f as (s: Tensor) => Tensor)(scores);
}

/** Learns a supermask over `net`'s frozen weights; returns the net with the mask in force and its history extended. */
export function learnSupermask(engine: Engine, net: NetValue, data: DatasetValue, o: SupermaskOptions): NetValue {
  const { tf } = engine;
  if (!(o.rate >= 0 && o.rate <= 1)) throw new OpFailure(`supermask's rate is the share of live weights to mask out, from 0 to 1, not ${o.rate}`);
  const lives = net.layers.map((l) => liveMask(l));
  const keeps = lives.map((live) => keepCount(live.reduce((a, b) => a + b, 0), o.rate));
  // Made with the model (the engine's layouts); freed here after training.
  let liveT: Tensor[] = [];
  let scores: TF.Variable[] = [];
  // The JavaScript top-k masks of the scores at the last measurement, stored layout.
  let masks: Uint8Array[] = [];
  try {
    // train's loop and update rule over the scores: the weights are not variables here, and
    // only the scores' own schedule (no warmup) and L2 decay apply.
    return fit(engine, net, data, {
      ...o,
      warmup: { steps: 0 },
      hooks: {
        trainables(model) {
          liveT = net.layers.map((l, i) => tf.tensor(toEngine(lives[i]!, l), model.params[i]!.weight.shape));
          scores = net.layers.map((l, i) => {
            const start = o.scores?.[i] ?? initialScores(l, o.seed);
            const t = tf.tensor(toEngine(start, l), model.params[i]!.weight.shape);
            const v = tf.variable(t, true);
            t.dispose();
            return v;
          });
          return scores.map((variable) => ({ variable }));
        },
        forwardWeights: (model) => model.params.map((p, i) => maskedWeight(tf, p.weight, liveT[i]!, scores[i]!, keeps[i]!)),
        measure(model, x, y) {
          masks = net.layers.map((l, i) => topMask(fromEngine(scores[i]!.dataSync() as Float32Array, l), lives[i]!, keeps[i]!));
          const weights = masks.map((m, i) => tf.tidy(() => tf.mul(model.params[i]!.weight, tf.tensor(toEngine(m, net.layers[i]!), model.params[i]!.weight.shape))));
          try {
            return measure(tf, model, x, y, weights);
          } finally {
            tf.dispose(weights);
          }
        },
        // The last step always ends with a measurement, so `masks` are the final scores' masks:
        // the net they measured keeps every surviving weight bit for bit.
        result: (model) =>
          net.layers.map((l, i): Layer => {
            const m = masks[i]!;
            const p = model.params[i]!;
            const copy = (t: Tensor) => Float32Array.from(t.dataSync() as Float32Array);
            return {
              ...l,
              weight: Float32Array.from(l.weight, (w, j) => (m[j] ? w : 0)),
              mask: Uint8Array.from(l.mask, (keep, j) => keep & m[j]!),
              ...(l.norm ? { norm: { ...l.norm, mean: copy(p.mean!), variance: copy(p.variance!) } } : {}),
            };
          }),
      },
    });
  } finally {
    tf.dispose([...scores, ...liveT]);
  }
}

export function supermask(ctx: OpContext, engine: Engine): NetValue {
  const { lr, batch, optimizer, momentum, weightDecay, cosine, length, seed, stage, progress } = trainingOptions(ctx);
  return learnSupermask(engine, netInput(ctx, "net"), datasetInput(ctx, "data"), { rate: num(ctx, "rate"), lr, batch, optimizer, momentum, weightDecay, cosine, length, seed, stage, progress });
}

export const implementations: OpImplementations = {
  supermask: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: supermask(ctx, e) })) },
};
