// The convex testbed: planted sparse problems with known truth, the linear net, the squared
// and logistic losses on the engine, and iterative hard thresholding, forward greedy
// selection and the lasso, checked against hand computation and float64 references; then a
// pipeline through the command line with magnitude pruning, IMP and the three methods.

import { describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import type { NetValue } from "../../runtime/core/net.js";
import { planted } from "../../runtime/ops/planted.js";
import { distanceToTruth, forwardGreedy, iht, l1, supportRecovery } from "../../runtime/methods/convex.js";
import { init } from "../../runtime/methods/nets.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { lossOf, testMetrics } from "../../runtime/engine/train.js";
import { augment, mnist } from "../../runtime/ops/datasets.js";
import { concat } from "../../runtime/ops/concat.js";
import { ctx, opFailure } from "./nets-fixture.js";
import { Rig } from "./rig.js";

const problem = (over: Record<string, ParamValue> = {}): DatasetValue =>
  planted(ctx({ n: 100, features: 40, k: 4, noise: 0.1, correlation: 0, task: "regression", test: 200, seed: 1, ...over }));
const linear = (data: DatasetValue, seed = 1): NetValue => init(ctx({ arch: { arch: "linear" }, scheme: "glorot", seed }, { data }));
/** A net whose weights are `w` (masked where 0) and bias `b`. */
function withWeights(net: NetValue, w: number[], b = 0): NetValue {
  const l = net.layers[0]!;
  return { ...net, layers: [{ ...l, weight: Float32Array.from(w), mask: Uint8Array.from(w, (v) => (v !== 0 ? 1 : 0)), bias: Float32Array.of(b) }] };
}
const weights = (net: NetValue) => [...net.layers[0]!.weight];
const nonZeros = (net: NetValue) => weights(net).flatMap((v, j) => (v !== 0 ? [j] : []));

/** X (n × d) of a split as rows of float64. */
function rows(data: DatasetValue, split = data.train): number[][] {
  const d = data.inputShape[0]!;
  return Array.from({ length: split.n }, (_, i) => Array.from(split.x.subarray(i * d, (i + 1) * d)));
}

describe("planted", () => {
  it("plants exactly k weights of magnitude in [1, 2), and targets x·w* + noise", () => {
    const data = problem({ noise: 0 });
    const truth = data.truth!;
    expect([...truth.support]).toEqual([...truth.support].sort((a, b) => a - b));
    expect(truth.support).toHaveLength(4);
    [...truth.weights].forEach((w, j) => (truth.support.includes(j) ? expect(Math.abs(w) >= 1 && Math.abs(w) < 2).toBe(true) : expect(w).toBe(0)));
    // Noise 0: each target is exactly x·w* (to float32).
    rows(data).forEach((x, i) => expect(data.train.targets![i]).toBeCloseTo(x.reduce((s, v, j) => s + v * truth.weights[j]!, 0), 4));
    expect(data.task).toBe("regression");
    expect(data.classes).toBe(1);
    // With noise, the residuals have about its standard deviation.
    const noisy = problem({ n: 4000, noise: 0.5 });
    const residuals = rows(noisy).map((x, i) => noisy.train.targets![i]! - x.reduce((s, v, j) => s + v * noisy.truth!.weights[j]!, 0));
    expect(Math.sqrt(residuals.reduce((s, r) => s + r * r, 0) / residuals.length)).toBeCloseTo(0.5, 1);
  });

  it("correlates every pair of features as asked; a larger n keeps the smaller one's rows and the same test set", () => {
    const data = problem({ n: 6000, features: 4, k: 2, correlation: 0.6 });
    const x = rows(data);
    const column = (j: number) => x.map((r) => r[j]!);
    const corr = (a: number[], b: number[]) => {
      const m = (v: number[]) => v.reduce((s, t) => s + t, 0) / v.length;
      const [ma, mb] = [m(a), m(b)];
      const cov = a.reduce((s, t, i) => s + (t - ma) * (b[i]! - mb), 0);
      return cov / Math.sqrt(a.reduce((s, t) => s + (t - ma) ** 2, 0) * b.reduce((s, t) => s + (t - mb) ** 2, 0));
    };
    expect(corr(column(0), column(3))).toBeCloseTo(0.6, 1);
    expect(corr(column(1), column(2))).toBeCloseTo(0.6, 1);
    const small = problem({ n: 50 });
    const large = problem({ n: 100 });
    expect([...large.train.x.subarray(0, 50 * 40)]).toEqual([...small.train.x]);
    expect([...large.test.x]).toEqual([...small.test.x]);
    expect([...large.truth!.weights]).toEqual([...small.truth!.weights]);
  });

  it("labels two classes by the sign of x·w* + noise", () => {
    const data = problem({ task: "classification", noise: 0 });
    expect(data.classes).toBe(2);
    expect(data.train.targets).toBeUndefined();
    rows(data).forEach((x, i) => expect(data.train.y[i]).toBe(x.reduce((s, v, j) => s + v * data.truth!.weights[j]!, 0) > 0 ? 1 : 0));
  });
});

describe("the linear net on the engine", () => {
  it("has no hidden layer: one output for regression or two classes, one per class otherwise", () => {
    expect(linear(problem()).layers.map((l) => [l.inputs, l.outputs])).toEqual([[40, 1]]);
    expect(linear(problem({ task: "classification" })).layers.map((l) => [l.inputs, l.outputs])).toEqual([[40, 1]]);
    expect(linear(mnist(ctx({ train: 50, test: 10, seed: 1 }))).layers.map((l) => [l.inputs, l.outputs])).toEqual([[784, 10]]);
  });

  it("measures regression by mean squared error and R², two classes by the logistic loss and the sign, as float64 arithmetic does", async () => {
    const engine = await loadEngine("cpu");
    for (const task of ["regression", "classification"] as const) {
      const data = problem({ task });
      const w = Array.from({ length: 40 }, (_, j) => ((j * 7) % 5) / 10 - 0.2);
      const net = withWeights(linear(data), w, 0.3);
      const z = rows(data, data.test).map((x) => x.reduce((s, v, j) => s + v * w[j]!, 0.3));
      const m = testMetrics(engine, net, data);
      if (task === "regression") {
        const y = [...data.test.targets!];
        const mse = z.reduce((s, v, i) => s + (v - y[i]!) ** 2, 0) / z.length;
        const mean = y.reduce((s, v) => s + v, 0) / y.length;
        const variance = y.reduce((s, v) => s + (v - mean) ** 2, 0) / y.length;
        expect(m.loss).toBeCloseTo(mse, 3);
        expect(m.accuracy).toBeCloseTo(1 - mse / variance, 4);
      } else {
        const y = [...data.test.y];
        const loss = z.reduce((s, v, i) => s + Math.log1p(Math.exp(-(y[i] ? 1 : -1) * v)), 0) / z.length;
        expect(m.loss).toBeCloseTo(loss, 4);
        expect(m.accuracy).toBe(z.filter((v, i) => (v > 0 ? 1 : 0) === y[i]).length / z.length);
      }
    }
    // Softmax cross-entropy stays the loss of one output per class.
    const { tf } = engine;
    const logits = tf.tensor2d([[2, 0, 0]]);
    expect(lossOf(tf, logits, tf.tensor1d([0], "int32"), 3).dataSync()[0]).toBeCloseTo(-Math.log(Math.exp(2) / (Math.exp(2) + 2)), 5);
  });
});

describe("iht, forward_greedy and l1", () => {
  it("recover an easy planted support exactly, and refit it to least squares", () => {
    const data = problem();
    const support = [...data.truth!.support];
    const net0 = linear(data);
    const byIht = iht(ctx({ k: 4, steps: { steps: 200 }, lr: 0.2, debias: true }, { net: net0, data }));
    const greedy = forwardGreedy(ctx({ k: 4, corrective: true }, { net: net0, data }));
    for (const net of [byIht, greedy]) {
      expect(nonZeros(net)).toEqual(support);
      expect([...net.layers[0]!.mask].filter((m) => m).length).toBe(4);
      expect(supportRecovery(ctx({}, { net, data }))).toBe(1);
      // Refit on the true support: close to w* (noise 0.1, 100 examples).
      expect(distanceToTruth(ctx({}, { net, data }))).toBeLessThan(0.02);
    }
    // The refit is least squares on the support with a bias: the gradient there is 0.
    const w = weights(greedy);
    const b = greedy.layers[0]!.bias![0]!;
    const x = rows(data);
    const r = x.map((row, i) => row.reduce((s, v, j) => s + v * w[j]!, b) - data.train.targets![i]!);
    for (const j of support) expect(Math.abs(r.reduce((s, ri, i) => s + ri * x[i]![j]!, 0) / r.length)).toBeLessThan(1e-5);
    expect(Math.abs(r.reduce((s, ri) => s + ri, 0) / r.length)).toBeLessThan(1e-5);
  });

  it("forward greedy picks the coordinate of largest gradient first; without correction it moves only that one", () => {
    const data = problem({ noise: 0 });
    const one = forwardGreedy(ctx({ k: 1, corrective: false }, { net: linear(data), data }));
    // At w = 0 with the fitted bias, the gradient of feature j is (2/n)·Σ (b − y_i)·x_ij.
    const x = rows(data);
    const y = [...data.train.targets!];
    const mean = y.reduce((s, v) => s + v, 0) / y.length;
    const grads = Array.from({ length: 40 }, (_, j) => Math.abs(x.reduce((s, row, i) => s + (mean - y[i]!) * row[j]!, 0)));
    expect(nonZeros(one)).toEqual([grads.indexOf(Math.max(...grads))]);
    // Exact line search along it: w_j = xⱼᵀ(y − b) / xⱼᵀxⱼ.
    const j = nonZeros(one)[0]!;
    const expected = x.reduce((s, row, i) => s + row[j]! * (y[i]! - mean), 0) / x.reduce((s, row) => s + row[j]! ** 2, 0);
    expect(weights(one)[j]).toBeCloseTo(expected, 4);
  });

  it("the lasso meets its optimality conditions, and a large lambda keeps nothing", () => {
    const data = problem();
    const lambda = 0.1;
    const lasso = l1(ctx({ lambda, steps: { steps: 3000 } }, { net: linear(data), data }));
    const w = weights(lasso);
    const b = lasso.layers[0]!.bias![0]!;
    const x = rows(data);
    const r = x.map((row, i) => row.reduce((s, v, j) => s + v * w[j]!, b) - data.train.targets![i]!);
    // ∂/∂w_j of mean (x·w + b − y)² is (2/n) Σ r_i x_ij: −λ·sign(w_j) where w_j ≠ 0, within [−λ, λ] where it is 0.
    w.forEach((wj, j) => {
      const g = (2 * r.reduce((s, ri, i) => s + ri * x[i]![j]!, 0)) / r.length;
      if (wj !== 0) expect(g + lambda * Math.sign(wj)).toBeCloseTo(0, 3);
      else expect(Math.abs(g)).toBeLessThanOrEqual(lambda + 1e-3);
    });
    expect([...lasso.layers[0]!.mask]).toEqual(w.map((v) => (v !== 0 ? 1 : 0)));
    expect(supportRecovery(ctx({}, { net: lasso, data }))).toBe(1);
    expect(nonZeros(l1(ctx({ lambda: 100, steps: { steps: 200 } }, { net: linear(data), data })))).toEqual([]);
  });

  it("measure a net against the truth by hand", () => {
    const data = problem({ features: 6, k: 2, n: 20 });
    const star = [...data.truth!.weights];
    const [a, b] = [...data.truth!.support];
    const other = [0, 1, 2, 3, 4, 5].find((j) => j !== a && j !== b)!;
    // The truth's k = 2 largest: one true, one false.
    const w = [0, 0, 0, 0, 0, 0];
    w[a!] = 0.5;
    w[other] = 3;
    const net = withWeights(linear(data), w);
    expect(supportRecovery(ctx({}, { net, data }))).toBe(0.5);
    const diff = w.map((v, j) => v - star[j]!);
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, t) => s + t * t, 0));
    expect(distanceToTruth(ctx({}, { net, data }))).toBeCloseTo(norm(diff) / norm(star), 6);
    // Classification: only the direction counts.
    const c = problem({ features: 6, k: 2, n: 20, task: "classification" });
    const scaled = withWeights(linear(c), [...c.truth!.weights].map((v) => 7 * v));
    expect(distanceToTruth(ctx({}, { net: scaled, data: c }))).toBeCloseTo(0, 6);
  });

  it("refuse nets and data they cannot take, saying why", () => {
    const data = problem();
    const digits = mnist(ctx({ train: 50, test: 10, seed: 1 }));
    const mlp = init(ctx({ arch: { arch: "mlp", hidden: [8] }, scheme: "glorot", seed: 1 }, { data }));
    expect(opFailure(() => iht(ctx({ k: 2, steps: { steps: 2 }, lr: 0.1, debias: true }, { net: mlp, data }))).message).toContain("works on a linear net with one output");
    expect(opFailure(() => forwardGreedy(ctx({ k: 2, corrective: true }, { net: linear(digits), data: digits }))).message).toContain("linear net with one output");
    expect(opFailure(() => supportRecovery(ctx({}, { net: linear(data), data: { ...data, truth: undefined } }))).message).toContain("has none (make it with planted");
    // Ops that rework classes refuse values.
    expect(opFailure(() => concat(ctx({ pairs: 200, seed: 0 }, { data }))).message).toContain("has values (regression), not classes");
    expect(opFailure(() => augment(ctx({ factor: 2, shift: 0, noise: 0.1, seed: 0 }, { data }))).message).toContain("has values (regression), not classes");
  });
});

describe("the convex testbed through the command line", () => {
  it("trains, prunes, rewinds and runs IMP on a linear net, and compares every method's support", async () => {
    const rig = new Rig(`let p = planted(n: 80, features: 60, k: 5, seed: 3)
let net0 = init(linear(), p, seed: 1)
let trained = train(net0, p, 100 epochs, lr: 0.05, batch: 80)
let magnitude = prune(trained, 90%)
let imp = repeat 3 from trained as net {
  yield prune(net, 50%) |> rewind(to: net0) |> train(p, 100 epochs, lr: 0.05, batch: 80)
}
let by_iht = iht(net0, p, 5, 200 steps, lr: 0.2)
let greedy = forward_greedy(net0, p, 5)
let lasso = l1(net0, p, 0.05, 1000 steps)
let found = [support_recovery(magnitude, p), support_recovery(last(imp), p), support_recovery(by_iht, p), support_recovery(greedy, p), support_recovery(lasso, p)]
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const found = JSON.parse((await rig.lth(["show", rig.file, "found", "--json"])).stdout) as { items: { value: number }[] };
    const values = found.items.map((i) => i.value);
    values.forEach((v) => expect(v >= 0 && v <= 1).toBe(true));
    // IHT, greedy and the lasso find all 5 here (80 examples, 60 features).
    expect(values.slice(2)).toEqual([1, 1, 1]);
    const shown = (await rig.lth(["show", rig.file, "greedy"])).stdout;
    expect(shown).toContain("5 of 60 remaining");
    const last = JSON.parse((await rig.lth(["show", rig.file, "imp", "--json"])).stdout) as { items: { weights: { remaining: number } }[] };
    expect(last.items.map((i) => i.weights.remaining)).toEqual([30, 15, 7]);
  });
});
