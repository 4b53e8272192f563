// Continuous sparsification (Savarese, Silva & Maire, NeurIPS 2020, "Winning the Lottery with
// Continuous Sparsification"): every weight w gets a mask parameter s, and the net computes
// with w ⊙ σ(β·s); the loss adds λ·Σ σ(β·s), an L1 penalty on the soft masks. Within a round β
// grows each epoch from 1 to beta_final (β = beta_final^(e/(E−1)) after epoch e of E), so the
// soft mask hardens; between rounds the masks are clamped, s ← min(β·s, s0), and β starts
// again at 1. At the end the hard mask is 1[s > 0]. The weights train throughout; the
// pipeline rewinds the ticket to its early weights and retrains it, as the paper does.
// Runs `train`'s loop (`fit`) with hooks: the masks are extra variables, the forward pass uses
// the soft-masked weights, and the penalty is added to the loss.

import type * as TF from "@tensorflow/tfjs-core";
import type { DatasetValue } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";
import { liveMask, withMeasurement, type Layer, type NetValue } from "../core/net.js";
import { stepsPerEpoch, toSteps } from "../core/duration.js";
import type { Engine } from "../engine/backend.js";
import { fromEngine, toEngine } from "../engine/model.js";
import { fit, measure, testMetrics } from "../engine/train.js";
import { datasetInput, netInput, num, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { trainingOptions } from "./training.js";

type Tensor = TF.Tensor;

export interface SparsificationOptions {
  readonly rounds: number;
  /** The masks' starting value and the clamp between rounds. */
  readonly s0: number;
  readonly lambda: number;
  readonly betaFinal: number;
}

export function continuousSparsification(engine: Engine, net: NetValue, data: DatasetValue, o: SparsificationOptions, training: ReturnType<typeof trainingOptions>): NetValue {
  const { tf } = engine;
  if (!(o.betaFinal >= 1)) throw new OpFailure(`beta_final is where β ends each round, from 1 up; found ${o.betaFinal}`);
  const lives = net.layers.map((l) => liveMask(l));
  // The mask parameters, stored layout, carried from round to round.
  let s: Float32Array[] = net.layers.map((l) => new Float32Array(l.weight.length).fill(o.s0));
  const perEpoch = stepsPerEpoch(data.train.n, Math.min(training.batch, data.train.n));
  const epochs = Math.max(1, Math.floor(toSteps(training.length, perEpoch) / perEpoch));
  let current = net;
  let beta = 1;
  for (let round = 0; round < o.rounds; round++) {
    beta = 1;
    let variables: TF.Variable[] = [];
    let live: Tensor[] = [];
    const soft = () => variables.map((v, i) => tf.mul(tf.sigmoid(tf.mul(v, beta)), live[i]!));
    try {
      current = fit(engine, current, data, {
        ...training,
        hooks: {
          trainables(model) {
            live = current.layers.map((l, i) => tf.tensor(toEngine(lives[i]!, l), model.params[i]!.weight.shape));
            variables = current.layers.map((l, i) => {
              const t = tf.tensor(toEngine(s[i]!, l), model.params[i]!.weight.shape);
              const v = tf.variable(t, true);
              t.dispose();
              return v;
            });
            return [...model.trainables(), ...variables.map((variable, i) => ({ variable, mask: live[i]! }))];
          },
          forwardWeights: (model) => soft().map((m, i) => tf.mul(model.params[i]!.weight, m)),
          penalty: () => tf.mul(tf.addN(soft().map((m) => tf.sum(m))), o.lambda) as TF.Scalar,
          measure(model, x, y) {
            const weights = tf.tidy(() => soft().map((m, i) => tf.mul(model.params[i]!.weight, m)));
            try {
              return measure(tf, model, x, y, weights);
            } finally {
              tf.dispose(weights);
            }
          },
          afterEpoch(epoch) {
            beta = epochs > 1 ? o.betaFinal ** (Math.min(epoch, epochs - 1) / (epochs - 1)) : o.betaFinal;
            return false;
          },
          result(model) {
            s = current.layers.map((l, i) => fromEngine(variables[i]!.dataSync() as Float32Array, l));
            return model.read();
          },
        },
      });
    } finally {
      tf.dispose([...variables, ...live]);
    }
    // The clamp between rounds: s ← min(β·s, s0), β back to 1.
    if (round + 1 < o.rounds) s = s.map((xs) => Float32Array.from(xs, (x) => Math.min(beta * x, o.s0)));
  }
  // The hard mask 1[s > 0] over the trained weights; measured as it is.
  const layers = current.layers.map((l, i): Layer => {
    const mask = Uint8Array.from(l.mask, (m, j) => (m && s[i]![j]! > 0 ? 1 : 0));
    return { ...l, mask, weight: Float32Array.from(l.weight, (w, j) => (mask[j] ? w : 0)) };
  });
  const ticket = { ...current, layers };
  return withMeasurement(ticket, testMetrics(engine, ticket, data));
}

export function continuousSparsificationOp(ctx: OpContext, engine: Engine): NetValue {
  return continuousSparsification(
    engine,
    netInput(ctx, "net"),
    datasetInput(ctx, "data"),
    { rounds: num(ctx, "rounds"), s0: num(ctx, "s0"), lambda: num(ctx, "lambda"), betaFinal: num(ctx, "beta_final") },
    trainingOptions(ctx),
  );
}

export const implementations: OpImplementations = {
  continuous_sparsification: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: continuousSparsificationOp(ctx, e) })) },
};
