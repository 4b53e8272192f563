// `train` and `evaluate`: the engine's training loop and measurement as ops, and the
// optimisation parameters every training op shares, read from a stage's context.

import type { MetricsValue } from "../core/dataset.js";
import type { Duration } from "../core/duration.js";
import type { NetValue } from "../core/net.js";
import type { Engine } from "../engine/backend.js";
import { fit, testMetrics, type FitOptions } from "../engine/train.js";
import { datasetInput, durationParam, netInput, num, str, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";

/**
 * The optimisation parameters every training op shares (`train`, `gmp`, `dpf`, `supermask`,
 * `instability`), read from a stage's context. `seed` is the op's own unless given (each of
 * instability's two copies has its own).
 */
/** A list-of-durations parameter (the step schedule's milestones). */
function durationList(ctx: OpContext, name: string): Duration[] {
  const v = ctx.params[name];
  if (!Array.isArray(v)) throw new Error(`internal: parameter '${name}' of ${ctx.stage} is not a list`);
  return v.map((d, i) => durationParam({ ...ctx, params: { [`${name}[${i}]`]: d } }, `${name}[${i}]`));
}

export function trainingOptions(ctx: OpContext, seed: number = num(ctx, "seed")): FitOptions {
  return {
    lr: num(ctx, "lr"),
    batch: num(ctx, "batch"),
    optimizer: str(ctx, "optimizer") as FitOptions["optimizer"],
    momentum: num(ctx, "momentum"),
    weightDecay: num(ctx, "weight_decay"),
    cosine: str(ctx, "schedule") === "cosine",
    // Parameters added later: absent from older stages, which read them at their defaults.
    ...(str(ctx, "schedule") === "step" ? { step: { milestones: durationList(ctx, "milestones"), gamma: ctx.params["gamma"] !== undefined ? num(ctx, "gamma") : 0.1 } } : {}),
    ...(ctx.params["nesterov"] === true ? { nesterov: true } : {}),
    ...(ctx.params["augment"] === "crop_flip" ? { augment: "crop_flip" as const } : {}),
    ...(ctx.params["eval_every"] !== undefined ? { evalEvery: durationParam(ctx, "eval_every") } : {}),
    length: durationParam(ctx, "length"),
    // An op without a warmup parameter (supermask: the scores start at once) has none.
    warmup: ctx.params["warmup"] !== undefined ? durationParam(ctx, "warmup") : { steps: 0 },
    seed,
    stage: ctx.stage,
    progress: (p) => ctx.progress(p),
  };
}

export function train(ctx: OpContext, engine: Engine): NetValue {
  return fit(engine, netInput(ctx, "net"), datasetInput(ctx, "data"), {
    ...trainingOptions(ctx),
    // Always given by the compiler (defaults applied); absent only in hand-built contexts.
    ...(ctx.params["start"] !== undefined ? { start: durationParam(ctx, "start") } : {}),
    ...(ctx.params["stop"] !== undefined ? { stop: durationParam(ctx, "stop") } : {}),
  });
}

export function evaluate(ctx: OpContext, engine: Engine): MetricsValue {
  return testMetrics(engine, netInput(ctx, "net"), datasetInput(ctx, "data"));
}

export const implementations: OpImplementations = {
  train: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: train(ctx, e) })) },
  evaluate: { engine: true, run: onEngine((ctx, e) => ({ kind: "Metrics", metrics: evaluate(ctx, e) })) },
};
