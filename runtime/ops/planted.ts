// `planted`: a sparse linear problem with known truth, the convex side of the testbed, where a
// pruning criterion can be judged by whether it finds the true support (Shalev-Shwartz,
// Srebro & Zhang 2010; the compressed-sensing phase transition).
//
// Design: each row x ~ N(0, Σ) with Σ = (1 − ρ)·I + ρ·11ᵀ (every pair of features correlated
// ρ): x = √(1 − ρ)·z + √ρ·g·1 with z ~ N(0, I) and one g ~ N(0, 1) per row. Truth: k positions
// drawn without replacement, each weight ±(1 + u), u ~ U(0, 1), so |w*_j| ∈ [1, 2), bounded
// away from 0; every other weight 0. Targets: y = x·w* + noise·ε (regression), or the class
// 1[x·w* + noise·ε > 0] (classification, two classes). Train and test rows come from two
// streams of the seed, so a larger n keeps the smaller one's rows and the test set is the same.

import type { DatasetValue, Split } from "../core/dataset.js";
import { Random } from "../core/random.js";
import { num, str, type OpContext } from "./context.js";

/** Values one planted dataset may hold (n + test) × features: 1 GiB as float32. */
export const MAX_PLANTED_VALUES = 2 ** 28;

export function plantedTooLarge(params: Readonly<Record<string, unknown>>): string | undefined {
  const values = (Number(params["n"]) + Number(params["test"] ?? 1000)) * Number(params["features"]);
  if (!(values > MAX_PLANTED_VALUES)) return undefined;
  return `(n + test) × features = ${values.toLocaleString("en")} values, more than lth's limit of ${MAX_PLANTED_VALUES.toLocaleString("en")} for a planted problem`;
}

/** The true weight vector: k seeded positions with |w*_j| in [1, 2) and a seeded sign. */
export function plantedTruth(features: number, k: number, seed: number): { weights: Float32Array; support: Int32Array } {
  const random = new Random(seed, "planted/truth");
  const support = Int32Array.from(random.permutation(features).subarray(0, k)).sort();
  const weights = new Float32Array(features);
  for (const j of support) weights[j] = (random.next() < 0.5 ? -1 : 1) * (1 + random.next());
  return { weights, support };
}

export function planted(ctx: OpContext): DatasetValue {
  const n = num(ctx, "n");
  const features = num(ctx, "features");
  const k = num(ctx, "k");
  const noise = num(ctx, "noise");
  const rho = num(ctx, "correlation");
  const task = str(ctx, "task") as "regression" | "classification";
  const test = num(ctx, "test");
  const seed = num(ctx, "seed");
  const truth = plantedTruth(features, k, seed);
  const independent = Math.sqrt(1 - rho);
  const shared = Math.sqrt(rho);
  const split = (count: number, which: string): Split => {
    const rows = new Random(seed, `planted/${which}`);
    const x = new Float32Array(count * features);
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const g = rows.normal();
      let dot = 0;
      for (let j = 0; j < features; j++) {
        const v = Math.fround(independent * rows.normal() + shared * g);
        x[i * features + j] = v;
        dot += v * truth.weights[j]!;
      }
      values[i] = dot + noise * rows.normal();
    }
    return task === "regression"
      ? { n: count, x, y: new Int32Array(0), targets: values }
      : { n: count, x, y: Int32Array.from(values, (v) => (v > 0 ? 1 : 0)) };
  };
  const train = split(n, "train");
  return {
    name: `planted ${task} (n ${n}, d ${features}, k ${k}${rho ? `, correlation ${rho}` : ""})`,
    inputShape: [features],
    classes: task === "regression" ? 1 : 2,
    // Features are used as drawn: their scale is the truth's.
    scale: 1,
    mean: [0],
    std: [1],
    train,
    test: split(test, "test"),
    ...(task === "regression" ? { task: "regression" as const } : {}),
    truth,
  };
}
