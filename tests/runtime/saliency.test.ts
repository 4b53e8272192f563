// Pruning at initialisation by saliency: SNIP's |w·g|, GraSP's −w⊙Hg (double backprop, with
// the two second-order gradients lth registers for conv nets) and SynFlow's iterated
// data-free scores, checked against hand computation and a plain float64 copy of the
// forward and backward pass, on both portable backends.

import type * as TF from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { EngineNet } from "../../runtime/engine/model.js";
import {
  EXAMPLES_PER_CLASS,
  GRASP_TEMPERATURE,
  pruneBatch,
  pruneBySaliency,
  pruneGroups,
  registerSecondOrderGradients,
  saliencyScores,
  synflowMasks,
  synflowScores,
} from "../../runtime/methods/saliency.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { mnist } from "../../runtime/ops/datasets.js";
import { lowest } from "../../runtime/core/select.js";
import { init } from "../../runtime/methods/nets.js";
import { alive, bytes, ctx, data, net, pruned, prunedIndexes } from "./nets-fixture.js";

type Criterion = "magnitude" | "random" | "snip" | "grasp" | "synflow";

/** `prune` through the engine, with the language's defaults. */
function prune(engine: Engine, n: NetValue, p: { rate: number; criterion: Criterion; scope?: "layerwise" | "global"; output_rate?: number }, d?: DatasetValue): NetValue {
  const params = { rate: p.rate, scope: p.scope ?? "layerwise", criterion: p.criterion, output_rate: p.output_rate ?? p.rate, seed: 0 };
  return pruneBySaliency(ctx(params, d ? { net: n, data: d } : { net: n }), engine);
}

/** A dataset of the given examples (flat features, or images when `shape` says so), used as is (mean 0, std 1). */
function handData(xs: readonly (readonly number[])[], ys: readonly number[], classes: number, shape: number[] = [xs[0]!.length]): DatasetValue {
  const split = { n: xs.length, x: Float32Array.from(xs.flat()), y: Int32Array.from(ys) };
  return { name: "hand", inputShape: shape, classes, scale: 1, mean: [0], std: [1], train: split, test: split };
}

const denseLayer = (name: string, inputs: number, outputs: number, weight: readonly number[], activation: "relu" | "none", bias?: readonly number[]): Layer => ({
  name,
  kind: "dense",
  inputs,
  outputs,
  kernel: 1,
  activation,
  pool: false,
  weight: Float32Array.from(weight),
  mask: Uint8Array.from(weight, (w) => (w === 0 ? 0 : 1)),
  bias: bias ? Float32Array.from(bias) : new Float32Array(outputs),
});

function handNet(layers: Layer[], inputShape: number[], head: "flatten" | "average" = "flatten"): NetValue {
  return { arch: "hand", scheme: "glorot", inputShape, classes: layers[layers.length - 1]!.outputs, head, layers, init: "hand", steps: 0, history: [] };
}

/** Deterministic weights that are not small integers: sin of the position, scaled. */
const wave = (n: number, phase: number, scale = 0.5) => Array.from({ length: n }, (_, i) => scale * Math.sin(1.7 * i + phase) + 0.05);

// --- A float64 copy of EngineNet's forward and backward pass, the yardstick ---------------
// Dense layers and stride-1 'same' convs with bias and ReLU, 2×2 max pools (the first maximum
// in row-major order), channel-major flattening; no batch norm. Mean cross-entropy of
// softmax(logits / temperature).

function referenceGradients(n: NetValue, weights: readonly Float64Array[], xs: readonly number[][], ys: readonly number[], temperature: number): Float64Array[] {
  const grads = weights.map((w) => new Float64Array(w.length));
  for (let e = 0; e < xs.length; e++) {
    type Step = { input: Float64Array; shape: number[]; pre: Float64Array; argmax?: Int32Array; flattenedFrom?: number[] };
    const tape: Step[] = [];
    let h = Float64Array.from(xs[e]!);
    let shape = [...n.inputShape];
    n.layers.forEach((l, i) => {
      const w = weights[i]!;
      const b = l.bias!;
      if (l.kind === "conv") {
        const [H, W, C] = shape as [number, number, number];
        const k = l.kernel;
        const p = (k - 1) / 2;
        const O = l.outputs;
        const pre = new Float64Array(H * W * O);
        for (let y = 0; y < H; y++)
          for (let x = 0; x < W; x++)
            for (let o = 0; o < O; o++) {
              let s = b[o]!;
              for (let ky = 0; ky < k; ky++)
                for (let kx = 0; kx < k; kx++)
                  for (let c = 0; c < C; c++) {
                    const yy = y + ky - p;
                    const xx = x + kx - p;
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W) s += w[((o * C + c) * k + ky) * k + kx]! * h[(yy * W + xx) * C + c]!;
                  }
              pre[(y * W + x) * O + o] = s;
            }
        const act = pre.map((v) => Math.max(0, v));
        const step: Step = { input: h, shape, pre };
        if (l.pool) {
          const H2 = Math.floor(H / 2);
          const W2 = Math.floor(W / 2);
          const out = new Float64Array(H2 * W2 * O);
          const argmax = new Int32Array(H2 * W2 * O);
          for (let y = 0; y < H2; y++)
            for (let x = 0; x < W2; x++)
              for (let o = 0; o < O; o++) {
                let best = -Infinity;
                let at = -1;
                for (let dy = 0; dy < 2; dy++)
                  for (let dx = 0; dx < 2; dx++) {
                    const j = ((2 * y + dy) * W + 2 * x + dx) * O + o;
                    if (act[j]! > best) [best, at] = [act[j]!, j];
                  }
                out[(y * W2 + x) * O + o] = best;
                argmax[(y * W2 + x) * O + o] = at;
              }
          step.argmax = argmax;
          h = out;
          shape = [H2, W2, O];
        } else {
          h = act;
          shape = [H, W, O];
        }
        tape.push(step);
        return;
      }
      let flattenedFrom: number[] | undefined;
      if (shape.length === 3) {
        const [H, W, C] = shape as [number, number, number];
        flattenedFrom = shape;
        h = Float64Array.from({ length: H * W * C }, (_, j) => h[(j % (H * W)) * C + Math.floor(j / (H * W))]!);
        shape = [H * W * C];
      }
      const pre = new Float64Array(l.outputs);
      for (let o = 0; o < l.outputs; o++) {
        let s = b[o]!;
        for (let j = 0; j < l.inputs; j++) s += w[o * l.inputs + j]! * h[j]!;
        pre[o] = s;
      }
      tape.push({ input: h, shape, pre, ...(flattenedFrom ? { flattenedFrom } : {}) });
      h = l.activation === "relu" ? pre.map((v) => Math.max(0, v)) : pre;
      shape = [l.outputs];
    });
    // Backward: d(mean CE)/d logits = (softmax(z/T) − onehot) / (T·n).
    const z = Array.from(h, (v) => v / temperature);
    const top = Math.max(...z);
    const ez = z.map((v) => Math.exp(v - top));
    const total = ez.reduce((a, v) => a + v, 0);
    let d = Float64Array.from(ez, (v, o) => (v / total - (o === ys[e] ? 1 : 0)) / (temperature * xs.length));
    for (let i = n.layers.length - 1; i >= 0; i--) {
      const l = n.layers[i]!;
      const step = tape[i]!;
      const w = weights[i]!;
      if (l.kind === "dense") {
        const dPre = l.activation === "relu" ? d.map((v, o) => (step.pre[o]! > 0 ? v : 0)) : d;
        const dIn = new Float64Array(l.inputs);
        for (let o = 0; o < l.outputs; o++)
          for (let j = 0; j < l.inputs; j++) {
            grads[i]![o * l.inputs + j]! += dPre[o]! * step.input[j]!;
            dIn[j]! += w[o * l.inputs + j]! * dPre[o]!;
          }
        if (step.flattenedFrom) {
          const [H, W, C] = step.flattenedFrom as [number, number, number];
          d = new Float64Array(H * W * C);
          dIn.forEach((v, j) => (d[(j % (H * W)) * C + Math.floor(j / (H * W))] = v));
        } else d = dIn;
        continue;
      }
      const [H, W, C] = step.shape as [number, number, number];
      const O = l.outputs;
      let dAct = d;
      if (step.argmax) {
        dAct = new Float64Array(H * W * O);
        step.argmax.forEach((j, q) => (dAct[j]! += d[q]!));
      }
      const dPre = dAct.map((v, j) => (step.pre[j]! > 0 ? v : 0));
      const k = l.kernel;
      const p = (k - 1) / 2;
      const dIn = new Float64Array(H * W * C);
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++)
          for (let o = 0; o < O; o++) {
            const g = dPre[(y * W + x) * O + o]!;
            if (g === 0) continue;
            for (let ky = 0; ky < k; ky++)
              for (let kx = 0; kx < k; kx++)
                for (let c = 0; c < C; c++) {
                  const yy = y + ky - p;
                  const xx = x + kx - p;
                  if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                  const wi = ((o * C + c) * k + ky) * k + kx;
                  grads[i]![wi]! += g * step.input[(yy * W + xx) * C + c]!;
                  dIn[(yy * W + xx) * C + c]! += g * w[wi]!;
                }
          }
      d = dIn;
    }
  }
  return grads;
}

/**
 * GraSP's w ⊙ Hg in float64: g the masked gradient, Hg a central difference of the exact
 * gradient along g (no ReLU in these nets sits near its kink).
 */
function referenceGrasp(n: NetValue, d: DatasetValue): Float64Array[] {
  const batch = pruneBatch(d);
  const width = d.inputShape.reduce((a, b) => a * b, 1);
  const xs = Array.from({ length: batch.n }, (_, e) => Array.from(batch.x.subarray(e * width, (e + 1) * width), (v) => v * d.scale));
  const ys = Array.from(batch.y);
  const w = n.layers.map((l) => Float64Array.from(l.weight));
  const masked = (gs: Float64Array[]) => gs.map((g, i) => g.map((v, j) => (n.layers[i]!.mask[j] ? v : 0)));
  const g = masked(referenceGradients(n, w, xs, ys, GRASP_TEMPERATURE));
  const norm = (vs: Float64Array[]) => Math.sqrt(vs.reduce((a, v) => a + v.reduce((s, x) => s + x * x, 0), 0));
  const h = (1e-5 * norm(w)) / norm(g);
  const at = (sign: number) => masked(referenceGradients(n, w.map((wi, i) => wi.map((v, j) => v + sign * h * g[i]![j]!)), xs, ys, GRASP_TEMPERATURE));
  const plus = at(1);
  const minus = at(-1);
  return w.map((wi, i) => wi.map((v, j) => (v * (plus[i]![j]! - minus[i]![j]!)) / (2 * h)));
}

/** Largest difference relative to the largest reference value. */
function relativeError(got: readonly Float32Array[], want: readonly Float64Array[]): number {
  const scale = Math.max(...want.map((w) => Math.max(...Array.from(w, Math.abs))));
  let worst = 0;
  got.forEach((g, i) => g.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - want[i]![j]!)))));
  return worst / scale;
}

// --- Hand-built cases ------------------------------------------------------------------------

// A 2-2-2 net and one example x = (1, 3) of class 0: pre-activations (1.25, 1.75), logits
// (−0.5, 1.0625), so with p = softmax(logits)₁, dL/dlogits = (−p, p) and
//   dW2 = dlogits ⊗ h = p·[[−1.25, −1.75], [1.25, 1.75]],
//   dh = p·(W2[1][·] − W2[0][·]) = p·(−0.5, 1.25),  dW1 = dh ⊗ x = p·[[−0.5, −1.5], [1.25, 3.75]].
const snipNet = handNet(
  [denseLayer("fc1", 2, 2, [0.5, 0.25, -0.5, 0.75], "relu"), denseLayer("fc2", 2, 2, [1, -1, 0.5, 0.25], "none")],
  [2],
);
const snipData = handData([[1, 3]], [0], 2);
const p1 = 1 / (1 + Math.exp(-(1.0625 + 0.5)));
const snipExpected = [[0.25, 0.375, 0.625, 2.8125], [1.25, 1.75, 0.625, 0.4375]].map((s) => s.map((v) => v * p1));

// SynFlow on a 2-2-2 net of |w| with an all-ones input: h = row sums of |W1| = (3, 7), the
// paths out of hidden unit j weigh the column sums of |W2| = (3, 1.5), so a first-layer
// weight scores |w|·(3, 1.5)[its unit] and a second-layer one |w|·h[its input]; each layer's
// scores sum to R = 19.5.
const chain = handNet([denseLayer("fc1", 2, 2, [1, -2, 3, 4], "relu"), denseLayer("fc2", 2, 2, [-1, 0.5, 2, 1], "none")], [2]);
const chainExpected = [
  [3, 6, 4.5, 6],
  [3, 3.5, 6, 7],
];

// A small conv net with pooling for GraSP's second-order gradients: 6×6×1 images, a 3×3 conv to
// 2 channels, 2×2 pool, then dense 18 → 3.
const convNet = handNet(
  [
    { ...denseLayer("conv1", 1, 2, wave(18, 0.3, 0.6), "relu", [0.1, -0.05]), kind: "conv", kernel: 3, pool: true },
    denseLayer("fc", 18, 3, wave(54, 1.1, 0.4), "none", [0.02, -0.01, 0.03]),
  ],
  [6, 6, 1],
);
const convData = handData(
  Array.from({ length: 6 }, (_, e) => Array.from({ length: 36 }, (_, j) => Math.sin(0.9 * j + 2.1 * e) + 0.3 * Math.cos(0.4 * j * (e + 1)))),
  [0, 1, 2, 0, 1, 2],
  3,
  [6, 6, 1],
);

// A 4-5-3 MLP on three examples, one weight already pruned.
const mlp = handNet(
  [
    denseLayer("fc1", 4, 5, wave(20, 0.7).map((w, j) => (j === 6 ? 0 : w)), "relu", [0.1, 0.05, -0.02, 0.08, 0.03]),
    denseLayer("fc2", 5, 3, wave(15, 2.3, 0.8), "none", [0.01, 0.02, -0.03]),
  ],
  [4],
);
const mlpData = handData(
  [
    [1, -0.5, 0.25, 2],
    [0.3, 1.2, -1, 0.5],
    [-0.7, 0.4, 1.5, -0.2],
  ],
  [0, 1, 2],
  3,
);

describe("the scoring batch", () => {
  it(`takes the first ${EXAMPLES_PER_CLASS} examples of each class in the training split's order, all of a class with fewer`, () => {
    const ys = [...Array.from({ length: 15 }, (_, i) => i % 2), 2, 2, ...Array.from({ length: 15 }, (_, i) => i % 2)];
    const d = handData(
      ys.map((_, i) => [i]),
      ys,
      3,
    );
    const b = pruneBatch(d);
    const rows = Array.from(b.x);
    expect(b.n).toBe(22);
    expect(rows).toEqual([...Array.from({ length: 21 }, (_, i) => i), 22]);
    expect(Array.from(b.y).filter((y) => y === 2)).toHaveLength(2);
    expect(Array.from(b.y).filter((y) => y === 0)).toHaveLength(10);
  });
});

for (const backend of ["wasm", "cpu"] as const) {
  describe(`pruning by saliency on the ${backend} backend`, () => {
    let engine: Engine;
    let tf: typeof TF;
    let tensorsBefore = 0;
    beforeAll(async () => {
      engine = await loadEngine(backend);
      tf = engine.tf;
      await tf.setBackend(backend);
      tensorsBefore = tf.memory().numTensors;
    });

    it("SNIP scores |w·g| as computed by hand, and removes the lowest", () => {
      const scores = saliencyScores(engine, snipNet, "snip", snipData);
      scores.forEach((s, i) => s.forEach((v, j) => expect(v).toBeCloseTo(snipExpected[i]![j]!, 6)));
      // fc1 loses its lowest score (index 0; magnitude would take index 1), fc2 its two lowest.
      const p = prune(engine, snipNet, { rate: 0.25, output_rate: 0.5, criterion: "snip" }, snipData);
      expect(prunedIndexes(p.layers[0]!)).toEqual([0]);
      expect(prunedIndexes(p.layers[1]!)).toEqual([2, 3]);
      expect(prunedIndexes(prune(engine, snipNet, { rate: 0.25, output_rate: 0.5, criterion: "magnitude" }).layers[0]!)).toEqual([1]);
      expect(p.layers[0]!.weight[0]).toBe(0);
      expect(Array.from(p.layers[0]!.bias!)).toEqual([0, 0]);
    });

    it("SNIP and GraSP agree with a float64 copy of the forward and backward pass, pruned weights included", () => {
      const w = mlp.layers.map((l) => Float64Array.from(l.weight));
      const batch = pruneBatch(mlpData);
      const xs = Array.from({ length: batch.n }, (_, e) => Array.from(batch.x.subarray(e * 4, e * 4 + 4)));
      const snip = referenceGradients(mlp, w, xs, Array.from(batch.y), 1).map((g, i) => g.map((v, j) => Math.abs(v * w[i]![j]!)));
      expect(relativeError(saliencyScores(engine, mlp, "snip", mlpData), snip)).toBeLessThan(1e-5);
      const grasp = saliencyScores(engine, mlp, "grasp", mlpData);
      expect(relativeError(grasp, referenceGrasp(mlp, mlpData))).toBeLessThan(1e-3);
      expect(Math.abs(grasp[0]![6]!)).toBe(0);
    });

    it("GraSP removes the highest S = −w⊙Hg (the lowest w⊙Hg), as the reference code's `score <= threshold` keeps", () => {
      const reference = referenceGrasp(mlp, mlpData);
      const p = prune(engine, mlp, { rate: 0.5, output_rate: 0.4, criterion: "grasp" }, mlpData);
      mlp.layers.forEach((l, i) => {
        const live = Array.from(l.mask.keys()).filter((j) => l.mask[j]);
        const k = Math.round((i === 0 ? 0.5 : 0.4) * live.length);
        const S = (j: number) => -reference[i]![j]!;
        const byS = [...live].sort((a, b) => S(b) - S(a));
        // A clear margin between the last removed and the first kept, so float32 cannot reorder them.
        expect(S(byS[k - 1]!) - S(byS[k]!)).toBeGreaterThan(1e-3 * Math.abs(S(byS[0]!)));
        expect(prunedIndexes(p.layers[i]!)).toEqual([...(i === 0 ? [6] : []), ...byS.slice(0, k)].sort((a, b) => a - b));
      });
    });

    it("GraSP through a conv layer and a max pool matches float64 (the second-order gradients lth registers)", () => {
      expect(relativeError(saliencyScores(engine, convNet, "grasp", convData), referenceGrasp(convNet, convData))).toBeLessThan(1e-3);
    });

    it("the registered gradients of Conv2DBackpropFilter and MaxPoolGrad are exact derivatives of those linear maps", () => {
      registerSecondOrderGradients(tf);
      const t = (shape: number[], phase: number) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, (_, i) => Math.sin(1.3 * i + phase) + 0.01 * i), shape);
      for (const [xShape, wShape, stride, pad] of [
        [[2, 6, 6, 2], [3, 3, 2, 3], 1, "same"],
        [[1, 7, 7, 1], [3, 3, 1, 2], 2, "valid"],
      ] as const) {
        tf.tidy(() => {
          const x = t([...xShape], 0.2);
          const w = t([...wShape], 0.9);
          const dy = t(tf.conv2d(x as TF.Tensor4D, w as TF.Tensor4D, stride, pad).shape, 1.7);
          const G = t([...wShape], 2.5);
          // f(x, dy) = ⟨Conv2DBackpropFilter(x, dy), G⟩, linear in each: a difference is exact up to rounding.
          const f = (a: TF.Tensor, b: TF.Tensor) => tf.sum(tf.mul(tf.grad((v: TF.Tensor) => tf.sum(tf.mul(tf.conv2d(a as TF.Tensor4D, v as TF.Tensor4D, stride, pad), b)))(w), G));
          const [gx, gdy] = tf.grads(f)([x, dy]);
          const ex = t([...xShape], 3.1);
          const edy = t(dy.shape, 4.2);
          const along = (g: TF.Tensor, e: TF.Tensor) => tf.sum(tf.mul(g, e)).dataSync()[0]!;
          const diff = (a: TF.Tensor, b: TF.Tensor) => f(a, b).dataSync()[0]!;
          expect(along(gx!, ex)).toBeCloseTo(diff(tf.add(x, ex), dy) - diff(x, dy), 3);
          expect(along(gdy!, edy)).toBeCloseTo(diff(x, tf.add(dy, edy)) - diff(x, dy), 3);
        });
      }
      for (const [shape, pad] of [
        [[2, 6, 6, 3], "valid"],
        [[1, 5, 5, 2], "same"],
      ] as const) {
        tf.tidy(() => {
          const x = t([...shape], 0.4);
          const y = tf.maxPool(x as TF.Tensor4D, 2, 2, pad);
          const dy = t(y.shape, 1.1);
          const G = t([...shape], 2.2);
          // h(dy) = ⟨MaxPoolGrad(dy, x, y), G⟩ = Σ dy · G at each window's maximum.
          const h = (b: TF.Tensor) => tf.sum(tf.mul(tf.grad((v: TF.Tensor) => tf.sum(tf.mul(tf.maxPool(v as TF.Tensor4D, 2, 2, pad), b)))(x), G));
          const gdy = tf.grad(h)(dy);
          const [xs, gs] = [x.arraySync() as number[][][][], G.arraySync() as number[][][][]];
          const [n, oh, ow, c] = y.shape;
          const want: number[] = [];
          for (let b = 0; b < n; b++)
            for (let i = 0; i < oh!; i++)
              for (let j = 0; j < ow!; j++)
                for (let k = 0; k < c!; k++) {
                  let best = -Infinity;
                  let at = 0;
                  for (let u = 2 * i; u < Math.min(2 * i + 2, shape[1]); u++)
                    for (let v = 2 * j; v < Math.min(2 * j + 2, shape[2]); v++) if (xs[b]![u]![v]![k]! > best) [best, at] = [xs[b]![u]![v]![k]!, gs[b]![u]![v]![k]!];
                  want.push(at);
                }
          Array.from(gdy.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 5));
        });
      }
    });

    it("SynFlow scores |w|·(paths through w) on a 2-2-2 net as computed by hand, up to one shared factor", () => {
      const scores = synflowScores(engine, chain);
      const factor = scores[1]![3]! / chainExpected[1]![3]!;
      expect(factor).toBeGreaterThan(0);
      scores.forEach((s, i) => s.forEach((v, j) => expect(v / factor).toBeCloseTo(chainExpected[i]![j]!, 5)));
      // One round at 50% per layer removes each layer's two lowest, ties by position.
      const masks = synflowMasks(engine, chain, pruneGroups(chain, 0.5, 0.5, "layerwise"), 1);
      expect(masks.map((m) => Array.from(m))).toEqual([
        [0, 1, 0, 1],
        [0, 0, 1, 1],
      ]);
    });

    it("SynFlow iterates: each round rescored under the masks so far, down the exponential schedule", () => {
      const d = data({ features: 6, classes: 3 });
      const n = net(d, { hidden: [10, 8], seed: 4 });
      const groups = pruneGroups(n, 0.75, 0.5, "global");
      const rounds = 3;
      const masks = n.layers.map((l) => Uint8Array.from(l.mask));
      const sizes = groups.map((g) => g.layers.reduce((a, i) => a + n.layers[i]!.mask.length, 0));
      for (let r = 0; r < rounds; r++) {
        const scores = synflowScores(engine, n, masks);
        groups.forEach((g, gi) => {
          const start = sizes[gi]!;
          const keep = r === rounds - 1 ? start - Math.round(g.rate * start) : Math.round(start * (1 - g.rate) ** ((r + 1) / rounds));
          const at = g.layers.flatMap((i) => Array.from(masks[i]!.keys()).filter((j) => masks[i]![j]).map((j) => [i, j] as const));
          const ranked = Float32Array.from(at, ([i, j]) => scores[i]![j]!);
          for (const c of lowest(ranked, at.length - keep)) masks[at[c]![0]]![at[c]![1]] = 0;
        });
      }
      expect(synflowMasks(engine, n, groups, rounds).map((m) => Array.from(m))).toEqual(masks.map((m) => Array.from(m)));
    });

    it("SynFlow keeps every layer of a deep narrow net alive where global magnitude pruning empties one", () => {
      const d = data({ features: 8, classes: 3 });
      const base = net(d, { hidden: [24, 24, 24, 24], seed: 2 });
      // The third layer's weights are 20× smaller than the others'.
      const n = { ...base, layers: base.layers.map((l, i) => (i === 2 ? { ...l, weight: l.weight.map((w) => w / 20) } : l)) };
      const byMagnitude = pruned(n, { rate: 0.97, scope: "global", output_rate: 0.5 });
      expect(alive(byMagnitude)[2]).toBe(0);
      const bySynflow = prune(engine, n, { rate: 0.97, scope: "global", output_rate: 0.5, criterion: "synflow" });
      expect(alive(bySynflow).every((a) => a > 0)).toBe(true);
      expect(alive(bySynflow).slice(0, -1).reduce((a, b) => a + b)).toBe(alive(byMagnitude).slice(0, -1).reduce((a, b) => a + b));
    });

    it("SynFlow does not overflow where R itself would: 20 layers of 16 units with |w| ≈ 16 make R ≈ 10^48", () => {
      const d = data({ features: 16, classes: 4 });
      const base = net(d, { hidden: Array.from({ length: 19 }, () => 16), seed: 5 });
      const big = { ...base, layers: base.layers.map((l) => ({ ...l, weight: l.weight.map((w) => (w < 0 ? -16 : 16) + w) })) };
      // Unscaled, the all-ones pass of |θ| is ∞.
      const abs = { ...big, layers: big.layers.map((l) => ({ ...l, weight: l.weight.map(Math.abs) })) };
      const model = new EngineNet(tf, abs);
      const r = tf.tidy(() => tf.sum(model.forward(tf.ones([1, 16]), false)).dataSync()[0]!);
      model.dispose();
      expect(r).toBe(Infinity);
      const scores = synflowScores(engine, big);
      expect(scores.every((s) => s.every((v) => Number.isFinite(v) && v > 0))).toBe(true);
      // The same net with every weight divided by 2^8 scores the same, exactly: the ranking is scale-free.
      const small = { ...big, layers: big.layers.map((l) => ({ ...l, weight: l.weight.map((w) => w / 256) })) };
      expect(synflowScores(engine, small).map((s) => Array.from(s))).toEqual(scores.map((s) => Array.from(s)));
    });

    it("at 90% each criterion leaves 10% of LeNet-300-100 (to the weight, per group), the biases untouched", () => {
      const digits = mnist(ctx({ train: 200, test: 10, seed: 1 }));
      const lenet = init(ctx({ arch: { arch: "mlp", hidden: [300, 100] }, scheme: "glorot", seed: 3 }, { data: digits }));
      const sizes = lenet.layers.map((l) => l.mask.length);
      const total = sizes.reduce((a, b) => a + b);
      for (const [criterion, scope] of [
        ["snip", "layerwise"],
        ["grasp", "global"],
        ["synflow", "global"],
      ] as const) {
        const p = prune(engine, lenet, { rate: 0.9, scope, criterion }, digits);
        const kept = alive(p);
        expect(Math.abs(kept.reduce((a, b) => a + b) / total - 0.1)).toBeLessThan(0.005);
        expect(kept[2]).toBe(100);
        if (scope === "layerwise") expect(kept).toEqual([23520, 3000, 100]);
        else expect(kept[0]! + kept[1]!).toBe(26520);
        expect(p.layers.every((l, i) => l.bias!.every((b, j) => b === lenet.layers[i]!.bias![j]))).toBe(true);
        expect(p.layers.every((l) => l.weight.every((w, j) => l.mask[j] || w === 0))).toBe(true);
      }
    });

    it("gives the same bytes on a second call, prunes only live weights, and sends magnitude and random to prune", () => {
      const d = data({ features: 8, classes: 3 });
      const n = pruned(net(d, { hidden: [16, 8], seed: 9 }), { rate: 0.3 });
      for (const criterion of ["snip", "grasp", "synflow"] as const) {
        const a = prune(engine, n, { rate: 0.5, scope: "global", output_rate: 0.25, criterion }, d);
        expect(bytes(prune(engine, n, { rate: 0.5, scope: "global", output_rate: 0.25, criterion }, d)).equals(bytes(a))).toBe(true);
        a.layers.forEach((l, i) => l.mask.forEach((m, j) => m && expect(n.layers[i]!.mask[j]).toBe(1)));
        expect(alive(a)).not.toEqual(alive(n));
      }
      for (const criterion of ["magnitude", "random"] as const) {
        expect(bytes(prune(engine, n, { rate: 0.5, criterion })).equals(bytes(pruned(n, { rate: 0.5, criterion })))).toBe(true);
      }
    });

    it("runs on conv nets with batch norm (VGG), keeping the counts", () => {
      // 8×8 images keep three of VGG's pools; 12 examples of 3 classes.
      const images = handData(
        Array.from({ length: 12 }, (_, e) => Array.from({ length: 64 }, (_, j) => Math.sin(0.37 * j * (1 + (e % 3)) + e))),
        Array.from({ length: 12 }, (_, e) => e % 3),
        3,
        [8, 8, 1],
      );
      const vgg = init(ctx({ arch: { arch: "vgg", depth: 11, width: 0.0625, batchnorm: true }, scheme: "he", seed: 1 }, { data: images }));
      expect(vgg.layers.filter((l) => l.norm)).toHaveLength(8);
      for (const criterion of ["snip", "grasp", "synflow"] as const) {
        const p = prune(engine, vgg, { rate: 0.8, criterion }, images);
        const kept = alive(p);
        vgg.layers.forEach((l, i) => expect(kept[i]).toBe(l.mask.length - Math.round(0.8 * l.mask.length)));
      }
    });

    it("refuses SNIP and GraSP without data, naming the missing input", () => {
      for (const criterion of ["snip", "grasp"] as const) {
        expect(() => prune(engine, snipNet, { rate: 0.5, criterion })).toThrow(OpFailure);
        expect(() => prune(engine, snipNet, { rate: 0.5, criterion })).toThrow(/data/);
      }
    });

    it("leaves no tensors behind", () => {
      expect(tf.memory().numTensors).toBe(tensorsBefore);
    });
  });
}
