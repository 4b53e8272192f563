// Supermasks by edge-popup: frozen weights, trained scores, a per-layer top-k mask in the
// forward pass and a straight-through gradient in the backward pass.

import { beforeAll, describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { NetValue } from "../../runtime/core/net.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { EngineNet } from "../../runtime/engine/model.js";
import { keepCount, maskedWeight, supermask, topMask } from "../../runtime/methods/supermask.js";
import { testMetrics } from "../../runtime/engine/train.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { init } from "../../runtime/methods/nets.js";
import { mnist } from "../../runtime/ops/datasets.js";
import type { TrainingProgress } from "../../runtime/ui/progress.js";
import { alive, bytes, ctx, data, masksOf, net, pruned, withWeights } from "./nets-fixture.js";

/** supermask's parameters with the language's defaults, shortened to 3 epochs. */
const params = (over: Record<string, ParamValue> = {}): Record<string, ParamValue> => ({
  length: { epochs: 3 },
  rate: 0.5,
  lr: 0.1,
  batch: 60,
  optimizer: "momentum",
  momentum: 0.9,
  weight_decay: 5e-4,
  schedule: "cosine",
  seed: 0,
  ...over,
});

/** Ten overlapping classes: an untrained net is near chance, a good mask is not. */
const hard = data({ n: 1000, features: 20, classes: 10, noise: 0.6, seed: 5 });
const random = net(hard, { hidden: [64, 64], scheme: "he", seed: 2 });
const small = data();
const tiny = net(small, { hidden: [5], seed: 1 });

describe("topMask", () => {
  it("keeps the largest |score| among live weights, ties by position", () => {
    const scores = Float32Array.from([0.5, -3, 2, -2, 9, 0.1]);
    const live = Uint8Array.from([1, 1, 1, 1, 0, 1]);
    expect(Array.from(topMask(scores, live, 3))).toEqual([0, 1, 1, 1, 0, 0]);
    expect(Array.from(topMask(scores, live, 2))).toEqual([0, 1, 1, 0, 0, 0]);
    expect(Array.from(topMask(scores, live, 0))).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(topMask(Float32Array.from([1, -1, 1, 1]), Uint8Array.from([1, 1, 1, 1]), 2))).toEqual([1, 1, 0, 0]);
  });

  it("counts round((1 − rate)·live)", () => {
    expect([keepCount(28, 0.25), keepCount(10, 0.25), keepCount(10, 1), keepCount(10, 0)]).toEqual([21, 8, 0, 10]);
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  describe(`supermask on the ${backend} backend`, () => {
    let engine: Engine;
    const run = (n: NetValue, over: Record<string, ParamValue> = {}, d = small) => supermask(ctx(params(over), { net: n, data: d }), engine);

    beforeAll(async () => {
      engine = await loadEngine(backend);
      await engine.tf.setBackend(backend);
      expect(engine.tf.getBackend()).toBe(backend);
    });

    it("keeps exactly round((1 − rate)·live) weights per layer, the last layer too, inside the input's mask", () => {
      // 8·5 = 40 and 5·3 = 15 weights; pruning 30% leaves 28 and 10 (round(4.5) = 5 removed).
      const start = pruned(tiny, { rate: 0.3 });
      expect(alive(start)).toEqual([28, 10]);
      const m = run(start, { rate: 0.25, length: { epochs: 1 } });
      expect(alive(m)).toEqual([21, 8]);
      m.layers.forEach((l, i) => l.mask.forEach((keep, j) => expect(keep <= start.layers[i]!.mask[j]!).toBe(true)));
      expect(alive(run(start, { rate: 0, length: { steps: 2 } }))).toEqual([28, 10]);
      expect(alive(run(start, { rate: 1, length: { steps: 2 } }))).toEqual([0, 0]);
    });

    it("never changes a weight: survivors are bit-identical, removed ones 0, biases untouched, the input net as it was", () => {
      const before = bytes(tiny);
      const m = run(tiny, { rate: 0.5 });
      expect(bytes(tiny).equals(before)).toBe(true);
      m.layers.forEach((l, i) => {
        const w = new Uint32Array(tiny.layers[i]!.weight.buffer.slice(0));
        const got = new Uint32Array(l.weight.buffer.slice(0));
        l.mask.forEach((keep, j) => expect(got[j]).toBe(keep ? w[j] : 0));
        expect(Buffer.from(l.bias!.buffer).equals(Buffer.from(tiny.layers[i]!.bias!.buffer))).toBe(true);
      });
      expect(m.init).toBe(tiny.init);
    });

    it("extends the history once per epoch and at the end, counts its steps, and reports progress like train", () => {
      const reports: TrainingProgress[] = [];
      // 160 training examples in batches of 60: 3 steps an epoch; 7 steps end a third of the way into epoch 3.
      const m = supermask({ ...ctx(params({ length: { steps: 7 } }), { net: tiny, data: small }), progress: (p) => reports.push(p) }, engine);
      expect(m.steps).toBe(tiny.steps + 7);
      expect(m.history.map((h) => h.step)).toEqual([3, 6, 7]);
      expect(m.history[2]!.epoch).toBeCloseTo(7 / 3, 10);
      // The last point measured the returned net.
      expect(m.history[2]!.accuracy).toBe(testMetrics(engine, m, small).accuracy);
      expect(reports.filter((r) => r.final).map((r) => r.step)).toEqual([3, 6, 7]);
      expect(reports.every((r) => r.stage === "t" && r.steps === 7)).toBe(true);
    });

    it("finds a mask in an untrained net far above a random mask of the same rate", () => {
      const control = testMetrics(engine, pruned(random, { rate: 0.5, criterion: "random", seed: 3 }), hard).accuracy;
      const m = run(random, { rate: 0.5, length: { epochs: 5 } }, hard);
      const acc = m.history[m.history.length - 1]!.accuracy;
      expect(control).toBeLessThan(0.35);
      expect(acc).toBeGreaterThan(0.6);
      expect(acc).toBeGreaterThan(control + 0.3);
    });

    it("gives byte-identical nets for the same parameters, and another mask for another seed", () => {
      const a = run(tiny, { optimizer: "adam", lr: 0.01 });
      expect(bytes(a).equals(bytes(run(tiny, { optimizer: "adam", lr: 0.01 })))).toBe(true);
      expect(masksOf(run(tiny, { optimizer: "adam", lr: 0.01, seed: 1 }))).not.toEqual(masksOf(a));
    });

    it("leaves no tensors behind", () => {
      run(tiny);
      const before = engine.tf.memory().numTensors;
      run(tiny, { optimizer: "adam", lr: 0.01 });
      run(tiny, { optimizer: "sgd", schedule: "constant" });
      expect(engine.tf.memory().numTensors).toBe(before);
    });

    it("refuses a rate outside 0..1", () => {
      expect(() => run(tiny, { rate: 1.5 })).toThrow(OpFailure);
    });

    it("passes the straight-through gradient: ∂L/∂s = w ⊙ ∂L/∂(w ⊙ m), through sign(s) for a negative score", () => {
      const { tf } = engine;
      // One dense layer, 3 inputs → 2 classes, no hidden layer; stored weights [out][in].
      const d = data({ n: 10, features: 3, classes: 2, seed: 9 });
      const one = withWeights(net(d, { hidden: [] }), [[0.5, -1, 2, 1.5, 0.25, -0.75]]);
      const layer = one.layers[0]!;
      const b = Array.from(layer.bias!);
      const x = [
        [1, 2, -1],
        [0.5, -1, 3],
      ];
      const y = [1, 0];
      // Engine layout [in][out]: w[i][o] = stored[o][i]. Scores (engine layout) keep 3 of 6: |s| = 6, 5, 4 win.
      const wE = [
        [0.5, 1.5],
        [-1, 0.25],
        [2, -0.75],
      ];
      const sE = [
        [6, 1],
        [-5, 2],
        [3, 4],
      ];
      const mE = [
        [1, 0],
        [1, 0],
        [0, 1],
      ];
      const model = new EngineNet(tf, one);
      const w = model.params[0]!.weight;
      const s = tf.tensor2d(sE);
      const live = tf.onesLike(s);
      const grad = tf.grad((scores) => {
        const logits = model.forward(tf.tensor2d(x), false, undefined, [maskedWeight(tf, w, live, scores, 3)]);
        const onehot = tf.oneHot(tf.tensor1d(y, "int32"), 2);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1)));
      })(s);
      // By hand: logits = x·(w⊙m) + b; ∂L/∂W_eff[i][o] = mean_n x[n][i]·(p[n][o] − y[n][o]).
      const eff = wE.map((row, i) => row.map((v, o) => v * mE[i]![o]!));
      const dEff = wE.map((row) => row.map(() => 0));
      x.forEach((xn, n) => {
        const z = [0, 1].map((o) => b[o]! + xn.reduce((a, xi, i) => a + xi * eff[i]![o]!, 0));
        const top = Math.max(...z);
        const e = z.map((v) => Math.exp(v - top));
        const p = e.map((v) => v / (e[0]! + e[1]!));
        for (let i = 0; i < 3; i++) for (let o = 0; o < 2; o++) dEff[i]![o]! += (xn[i]! * (p[o]! - (y[n] === o ? 1 : 0))) / x.length;
      });
      const expected = wE.flatMap((row, i) => row.map((v, o) => v * dEff[i]![o]! * Math.sign(sE[i]![o]!)));
      const got = Array.from(grad.dataSync());
      expected.forEach((e, j) => expect(got[j]).toBeCloseTo(e, 5));
      // Every score gets a gradient, masked-out ones included (the mask acts as the identity backwards).
      expect(got.every((g) => g !== 0)).toBe(true);
      tf.dispose([s, live, grad]);
      model.dispose();
    });
  });
}

describe("supermask on an untrained MLP on digits (wasm)", () => {
  it("reaches far above chance at rate 50%, and a conv net with batch norm keeps its γ, β and weights", async () => {
    const engine = await loadEngine("wasm");
    await engine.tf.setBackend("wasm");
    const digits = mnist(ctx({ train: 1200, test: 400, seed: 1 }));
    const mlp = init(ctx({ arch: { arch: "mlp", hidden: [300, 100] }, scheme: "he", seed: 1 }, { data: digits }));
    const control = testMetrics(engine, pruned(mlp, { rate: 0.5, criterion: "random" }), digits).accuracy;
    const m = supermask(ctx(params({ length: { epochs: 3 } }), { net: mlp, data: digits }), engine);
    const acc = m.history[m.history.length - 1]!.accuracy;
    expect(control).toBeLessThan(0.3);
    expect(acc).toBeGreaterThan(0.75);

    const few = mnist(ctx({ train: 120, test: 60, seed: 3 }));
    const conv = init(ctx({ arch: { arch: "vgg", depth: 11, width: 0.125, batchnorm: true }, scheme: "he", seed: 1 }, { data: few }));
    const before = engine.tf.memory().numTensors;
    const c = supermask(ctx(params({ length: { steps: 2 }, rate: 0.3 }), { net: conv, data: few }), engine);
    expect(engine.tf.memory().numTensors).toBe(before);
    c.layers.forEach((l, i) => {
      const src = conv.layers[i]!;
      expect(alive(c)[i]).toBe(keepCount(src.mask.length, 0.3));
      if (!l.norm) return;
      expect(Array.from(l.norm.gamma)).toEqual(Array.from(src.norm!.gamma));
      expect(Array.from(l.norm.beta)).toEqual(Array.from(src.norm!.beta));
      // Running statistics follow the masked net's batches, as in train.
      expect(Array.from(l.norm.mean)).not.toEqual(Array.from(src.norm!.mean));
    });
  });
});
