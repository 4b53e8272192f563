// Instability analysis: two copies trained on different data orders, the test error along
// the line between them, and the barrier above the endpoints' mean.

import { beforeAll, describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { alphas, barrier, instability, interpolate, interpolationErrors } from "../../runtime/methods/instability.js";
import { fit } from "../../runtime/engine/train.js";
import { trainingOptions } from "../../runtime/methods/training.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { mnist } from "../../runtime/ops/datasets.js";
import { init } from "../../runtime/methods/nets.js";
import type { TrainingProgress } from "../../runtime/ui/progress.js";
import { ctx, data, net, pruned, trainParams, withWeights } from "./nets-fixture.js";

const { seed: _, ...trainDefaults } = trainParams();
const params = (over: Record<string, ParamValue> = {}): Record<string, ParamValue> => ({ ...trainDefaults, seed_a: 1, seed_b: 2, ...over });

/** Four points, two features, two classes; the same points train and test. */
const points: DatasetValue = (() => {
  const x = Float32Array.from([1, -3, -3, 1, 1, 1, -1, -1]);
  const y = Int32Array.from([1, 1, 1, 0]);
  return { name: "points", inputShape: [2], classes: 2, scale: 1, mean: [0], std: [1], train: { n: 4, x, y }, test: { n: 4, x, y } };
})();

/**
 * Two linear nets whose logit difference (class 1 − class 0) is x₁ (a) and x₂ (b), so at α it
 * is α·x₁ + (1 − α)·x₂. The first point is right for a only, wrong while α ≤ 0.75; the second
 * right for b only, wrong once α ≥ 0.25; the last two are always right.
 */
const shell = net(points, { hidden: [] });
const zeroBias = (n: NetValue): NetValue => ({ ...n, layers: n.layers.map((l) => ({ ...l, bias: new Float32Array(l.outputs) })) });
const a = zeroBias(withWeights(shell, [[0, 0, 1, 0]]));
const b = zeroBias(withWeights(shell, [[0, 0, 0, 1]]));

/** The barrier as its definition reads, from the errors along the line, with no clamp: max_α E(α) − (E(0) + E(1))/2. */
const byDefinition = (errors: readonly number[]) => Math.max(...errors) - (errors[0]! + errors[errors.length - 1]!) / 2;

describe("the α grid and interpolation", () => {
  it("is 26 points 0, 0.04, …, 1 by default", () => {
    const grid = alphas(26);
    expect(grid).toHaveLength(26);
    expect(grid[1]).toBeCloseTo(0.04, 15);
    expect([grid[0], grid[25]]).toEqual([0, 1]);
  });

  it("mixes weights, biases, γ, β and running statistics; the endpoints are the nets themselves", () => {
    const few = mnist(ctx({ train: 60, test: 20, seed: 3 }));
    const arch = { arch: "vgg", depth: 11, width: 0.125, batchnorm: true };
    const one = init(ctx({ arch, scheme: "he", seed: 1 }, { data: few }));
    const two = init(ctx({ arch, scheme: "he", seed: 2 }, { data: few }));
    const shift = (n: NetValue, by: number): NetValue => ({
      ...n,
      layers: n.layers.map((l) => (l.norm ? { ...l, norm: { gamma: l.norm.gamma.map((v) => v + by), beta: l.norm.beta.map((v) => v - by), mean: l.norm.mean.map((v) => v + by), variance: l.norm.variance.map((v) => v * (1 + by)) } } : l)),
    });
    const p = shift(one, 1);
    const q = shift(two, 3);
    const mid = interpolate(p, q, 0.25);
    mid.layers.forEach((l, i) => {
      const [lp, lq] = [p.layers[i]!, q.layers[i]!];
      expect(l.weight[5]).toBeCloseTo(0.25 * lp.weight[5]! + 0.75 * lq.weight[5]!, 6);
      if (l.bias) expect(l.bias[0]).toBeCloseTo(0.25 * lp.bias![0]! + 0.75 * lq.bias![0]!, 6);
      if (!l.norm) return;
      for (const k of ["gamma", "beta", "mean", "variance"] as const) expect(l.norm[k][0]).toBeCloseTo(0.25 * lp.norm![k][0]! + 0.75 * lq.norm![k][0]!, 5);
    });
    expect(interpolate(p, q, 1).layers.map((l) => Array.from(l.weight))).toEqual(p.layers.map((l) => Array.from(l.weight)));
    expect(interpolate(p, q, 0).layers.map((l) => l.norm && Array.from(l.norm.mean))).toEqual(q.layers.map((l) => l.norm && Array.from(l.norm.mean)));
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  describe(`instability on the ${backend} backend`, () => {
    let engine: Engine;
    const d = data();
    const start = net(d, { hidden: [16, 8], seed: 4 });
    const run = (over: Record<string, ParamValue> = {}, n: NetValue = start) => instability(ctx(params(over), { net: n, data: d }), engine);
    /** Four overlapping classes: small nets whose two copies end with a barrier between them. */
    const rough = data({ n: 300, features: 8, classes: 4, noise: 1.5, seed: 5 });
    const roughStart = net(rough, { hidden: [16, 8], seed: 4 });
    /** The two copies `instability` trains, trained here by `fit` with the op's options and seeds 1 and 2. */
    const copies = (n: NetValue): NetValue[] => {
      return [1, 2].map((seed) => fit(engine, n, rough, { ...trainingOptions(ctx(params(), { net: n, data: rough }), seed), stage: `copy${seed}` }));
    };
    /** `instability` on the overlapping classes, and the barrier its definition gives between the copies. */
    const againstDefinition = (n: NetValue) => {
      const [ca, cb] = copies(n);
      expect(Array.from(ca!.layers[0]!.weight)).not.toEqual(Array.from(cb!.layers[0]!.weight));
      return { measured: instability(ctx(params(), { net: n, data: rough }), engine), defined: byDefinition(interpolationErrors(engine, ca!, cb!, rough, alphas(26))), copies: [ca!, cb!] };
    };

    beforeAll(async () => {
      engine = await loadEngine(backend);
      await engine.tf.setBackend(backend);
      expect(engine.tf.getBackend()).toBe(backend);
    });

    it("matches E(α) computed by hand for two linear nets, and the barrier above their mean", () => {
      const errors = interpolationErrors(engine, a, b, points, alphas(26));
      // α ≤ 0.24: only the first point is wrong; 0.28 ≤ α ≤ 0.72: the first two; α ≥ 0.76: only the second.
      const expected = alphas(26).map((al) => (al > 0.25 && al < 0.75 ? 0.5 : 0.25));
      expect(errors).toEqual(expected);
      expect(barrier(engine, a, b, points)).toBe(0.25);
      expect(barrier(engine, b, a, points)).toBe(0.25);
      expect(interpolationErrors(engine, b, a, points, alphas(26))).toEqual([...errors].reverse());
      // A coarse grid that steps over the bump sees no barrier.
      expect(barrier(engine, a, b, points, 2)).toBe(0);
      expect(barrier(engine, a, a, points)).toBe(0);
    });

    it("is exactly 0 for two copies trained on the same data order", () => {
      const v = run({ seed_a: 5, seed_b: 5 });
      expect(v).toBe(0);
      expect(Object.is(v, 0)).toBe(true);
    });

    it("is the error barrier of the two copies, positive for overlapping classes, the same on every run, and trains both copies with their own progress", () => {
      // Ten overlapping classes: the two copies end in different places, and the line between them is worse.
      const hard = data({ n: 1000, features: 20, classes: 10, noise: 1.5, seed: 5 });
      const wide = net(hard, { hidden: [64, 64], scheme: "he", seed: 2 });
      const reports: TrainingProgress[] = [];
      const v = instability({ ...ctx(params(), { net: wide, data: hard }), progress: (p) => reports.push(p) }, engine);
      expect(v).toBeGreaterThan(0);
      expect(v).toBeLessThanOrEqual(1);
      expect(instability(ctx(params(), { net: wide, data: hard }), engine)).toBe(v);
      expect(new Set(reports.map((r) => r.stage))).toEqual(new Set(["t/a", "t/b"]));
      expect(reports.filter((r) => r.final)).toHaveLength(6);
      // It is the barrier between two copies trained by fit with the two data-order seeds.
      const common = { lr: 0.1, batch: 32, optimizer: "sgd", momentum: 0.9, weightDecay: 0, cosine: false, length: { epochs: 3 }, warmup: { steps: 0 }, stage: "x", progress: () => {} } as const;
      const [ta, tb] = [1, 2].map((seed) => fit(engine, wide, hard, { ...common, seed }));
      expect(Array.from(ta!.layers[0]!.weight)).not.toEqual(Array.from(tb!.layers[0]!.weight));
      expect(barrier(engine, ta!, tb!, hard)).toBe(v);
      // …and that barrier is the definition's, computed here from the errors along the line.
      expect(byDefinition(interpolationErrors(engine, ta!, tb!, hard, alphas(26)))).toBe(v);
    });

    it("is the definition's barrier between the two copies that fit trains with the op's options", () => {
      const { measured, defined } = againstDefinition(roughStart);
      expect(defined).toBeGreaterThan(0);
      expect(measured).toBe(defined);
    });

    it("works on a pruned net, keeping the shared mask", () => {
      const ticket = pruned(roughStart, { rate: 0.2 });
      expect(ticket.layers[0]!.mask.includes(0)).toBe(true);
      const { measured, defined, copies } = againstDefinition(ticket);
      // Both copies train under the ticket's mask: the weights it prunes stay 0.
      for (const copy of copies) {
        copy.layers.forEach((l, i) => {
          expect(Array.from(l.mask)).toEqual(Array.from(ticket.layers[i]!.mask));
          expect(l.weight.every((w, j) => l.mask[j] === 1 || w === 0)).toBe(true);
        });
      }
      expect(defined).toBeGreaterThan(0);
      expect(measured).toBe(defined);
    });

    it("refuses two nets with different masks", () => {
      expect(() => barrier(engine, pruned(start, { rate: 0.5 }), start, d)).toThrow(OpFailure);
    });

    it("leaves no tensors behind", () => {
      run();
      const before = engine.tf.memory().numTensors;
      run({ optimizer: "adam", lr: 0.01 });
      barrier(engine, a, b, points);
      expect(engine.tf.memory().numTensors).toBe(before);
    });
  });
}
