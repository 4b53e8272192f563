// Instability analysis (Frankle, Dziugaite, Roy & Carbin, ICML 2020): train two copies of a
// net that differ only in the data order, then measure the test error along the line
// between them; the error barrier max_α E(α) − (E(0) + E(1))/2 is the net's instability.
//
// Choices:
// - w(α) = α·w_a + (1 − α)·w_b for weights, biases, batch-norm γ/β and running statistics,
//   computed in double precision as w_b + α·(w_a − w_b) and rounded to float32 (so two
//   identical nets interpolate to themselves exactly, and the barrier is exactly 0); α = 0
//   and α = 1 are w_b and w_a themselves. The mask is the one both nets share.
// - α runs over 26 evenly spaced points, 0, 0.04, …, 1 (Frankle et al. use about 30).
// - E is the test error, 1 − accuracy, with batch norm's running statistics (eval mode).

import type * as TF from "@tensorflow/tfjs-core";
import { architectureMismatch, type Layer, type NetValue } from "../core/net.js";
import type { DatasetValue } from "../core/dataset.js";
import { datasetInput, netInput, num, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import type { Engine } from "../engine/backend.js";
import { checkData, EngineNet, features } from "../engine/model.js";
import { fit, measure, targetsOf, type FitOptions } from "../engine/train.js";
import { trainingOptions } from "./training.js";

type Tensor = TF.Tensor;

/** Points of the α grid the barrier is measured on: 0, 0.04, …, 1 (Frankle et al. use about 30). */
export const BARRIER_POINTS = 26;

/** The grid of α: `points` evenly spaced values from 0 to 1. */
export function alphas(points: number): number[] {
  if (!(Number.isInteger(points) && points >= 2)) throw new Error(`internal: an interpolation grid needs at least 2 points, not ${points}`);
  return Array.from({ length: points }, (_, i) => i / (points - 1));
}

function mix(a: Float32Array, b: Float32Array, alpha: number): Float32Array {
  if (alpha === 1) return Float32Array.from(a);
  if (alpha === 0) return Float32Array.from(b);
  return Float32Array.from(b, (bv, j) => bv + alpha * (a[j]! - bv));
}

/** α·a + (1 − α)·b, parameter by parameter; the two nets must have the same layers and masks. */
export function interpolate(a: NetValue, b: NetValue, alpha: number): NetValue {
  const layers = a.layers.map((la, i): Layer => {
    const lb = b.layers[i]!;
    return {
      ...la,
      weight: mix(la.weight, lb.weight, alpha),
      ...(la.bias && lb.bias ? { bias: mix(la.bias, lb.bias, alpha) } : {}),
      ...(la.norm && lb.norm
        ? {
            norm: {
              gamma: mix(la.norm.gamma, lb.norm.gamma, alpha),
              beta: mix(la.norm.beta, lb.norm.beta, alpha),
              mean: mix(la.norm.mean, lb.norm.mean, alpha),
              variance: mix(la.norm.variance, lb.norm.variance, alpha),
            },
          }
        : {}),
    };
  });
  return { ...a, layers };
}

/** Why two nets cannot be interpolated: another architecture, other tensors, or other masks. */
function sameShape(a: NetValue, b: NetValue): string | undefined {
  const mismatch = architectureMismatch(a.layers, b.layers);
  if (mismatch) return `they are not the same architecture; ${mismatch}`;
  for (const [i, la] of a.layers.entries()) {
    const lb = b.layers[i]!;
    const what = `layer ${la.name}`;
    if (!!la.bias !== !!lb.bias || !!la.norm !== !!lb.norm) return `${what} differs in bias or batch norm`;
    if (!Buffer.from(la.mask).equals(Buffer.from(lb.mask))) return `${what} has different masks`;
    const ca = la.channels ? Buffer.from(la.channels) : undefined;
    const cb = lb.channels ? Buffer.from(lb.channels) : undefined;
    if (!!ca !== !!cb || (ca && cb && !ca.equals(cb))) return `${what} has different channel masks`;
  }
  return undefined;
}

/** Test error (1 − accuracy) of a net, with the features already on the engine. */
function testError(tf: typeof TF, net: NetValue, x: Tensor, y: Tensor): number {
  const model = new EngineNet(tf, net);
  try {
    return 1 - measure(tf, model, x, y).accuracy;
  } finally {
    model.dispose();
  }
}

/** Test error at each α of the grid (E(α) of w(α) = α·a + (1 − α)·b). */
export function interpolationErrors(engine: Engine, a: NetValue, b: NetValue, data: DatasetValue, grid: readonly number[]): number[] {
  const { tf } = engine;
  checkData(a, data);
  checkData(b, data);
  const problem = sameShape(a, b);
  if (problem) throw new OpFailure(`the two nets cannot be interpolated: ${problem}`);
  const x = features(tf, data, data.test);
  const y = targetsOf(tf, data.test);
  try {
    return grid.map((alpha) => testError(tf, interpolate(a, b, alpha), x, y));
  } finally {
    tf.dispose([x, y]);
  }
}

/** The error barrier max_α E(α) − (E(0) + E(1))/2 over `points` evenly spaced α (≥ 0; endpoints are on the grid). */
export function barrier(engine: Engine, a: NetValue, b: NetValue, data: DatasetValue, points = BARRIER_POINTS): number {
  const errors = interpolationErrors(engine, a, b, data, alphas(points));
  const value = Math.max(...errors) - (errors[0]! + errors[errors.length - 1]!) / 2;
  return Math.max(0, value) + 0;
}

export function instability(ctx: OpContext, engine: Engine): number {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const options = (seed: number, copy: string): FitOptions => ({ ...trainingOptions(ctx, seed), stage: `${ctx.stage}/${copy}` });
  const a = fit(engine, net, data, options(num(ctx, "seed_a"), "a"));
  const b = fit(engine, net, data, options(num(ctx, "seed_b"), "b"));
  return barrier(engine, a, b, data);
}

export const implementations: OpImplementations = {
  instability: { engine: true, run: onEngine((ctx, e) => ({ kind: "Number", value: instability(ctx, e) })) },
};
