// Pruning during training. `gmp` (Zhu & Gupta, 2017): masked training whose mask removes the
// smallest weights on a cubic schedule. `dpf` (Lin et al., 2020): the gradient of the masked
// net is applied to the dense weights, so a pruned weight that keeps being pushed comes back
// when the mask is recomputed.

import type * as TF from "@tensorflow/tfjs-core";
import type { NetValue } from "../core/net.js";
import { RAMP_DEFAULTS } from "../../dsl/ops.js";
import type { DatasetValue } from "../core/dataset.js";
import { stepsPerEpoch, toSteps } from "../core/duration.js";
import { lowest } from "../core/select.js";
import { datasetInput, durationParam, netInput, num, str, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import type { Engine } from "../engine/backend.js";
import { fromEngine, type EngineNet } from "../engine/model.js";
import { fit, type FitOptions } from "../engine/train.js";
import { trainingOptions } from "./training.js";

/**
 * Zhu & Gupta's sparsity at `step`: s_f·(1 − (1 − p)³), where p is the share of the ramp
 * from `start` to `end` done (0 before the ramp, 1 after it).
 */
export function cubicSparsity(step: number, start: number, end: number, final: number): number {
  const p = Math.min(1, Math.max(0, (step - start) / Math.max(1, end - start)));
  return final * (1 - (1 - p) ** 3);
}

/**
 * Masks (stored layout) that keep, of the weights `allowed` lets live, the largest |w| so that
 * `sparsity` of each layer's weights (`layerwise`) or of all weights (`global`) is removed.
 * Ties go to the earlier position, so the result depends on the values alone.
 */
export function magnitudeMasks(weights: readonly Float32Array[], allowed: readonly Uint8Array[], sparsity: number, scope: "layerwise" | "global"): Uint8Array[] {
  const masks = allowed.map((a) => Uint8Array.from(a));
  const keepLargest = (layers: readonly number[]) => {
    const total = layers.reduce((n, i) => n + weights[i]!.length, 0);
    const keep = Math.round((1 - sparsity) * total);
    let count = 0;
    for (const i of layers) for (const a of allowed[i]!) if (a) count++;
    if (count <= keep) return;
    // The live weights in order of layer, then position; equal sizes: the earlier one goes first.
    const sizes = new Float32Array(count);
    const layerOf = new Uint32Array(count);
    const indexOf = new Uint32Array(count);
    let c = 0;
    for (const i of layers) {
      const a = allowed[i]!;
      const w = weights[i]!;
      for (let j = 0; j < a.length; j++) {
        if (!a[j]) continue;
        sizes[c] = Math.abs(w[j]!);
        layerOf[c] = i;
        indexOf[c++] = j;
      }
    }
    // Weights read mid-training: a NaN (training diverging) goes only after every number, not an error
    // here; the training loop's loss check reports the divergence.
    for (const r of lowest(sizes, count - keep, "last")) masks[layerOf[r]!]![indexOf[r]!] = 0;
  };
  if (scope === "global") keepLargest(weights.map((_, i) => i));
  else weights.forEach((_, i) => keepLargest([i]));
  return masks;
}

interface Schedule {
  readonly final: number;
  readonly start: number;
  readonly end: number;
  readonly every: number;
  readonly scope: "layerwise" | "global";
}

/** The training options and the pruning schedule (in steps) of a gmp or dpf stage. */
function setup(ctx: OpContext, net: NetValue, data: DatasetValue): { fit: FitOptions; schedule: Schedule } {
  const perEpoch = stepsPerEpoch(data.train.n, num(ctx, "batch"));
  const steps = (name: string) => toSteps(durationParam(ctx, name), perEpoch);
  const total = Math.max(1, steps("length"));
  const start = steps("start");
  // The op table's defaults that depend on the length in steps.
  const end = ctx.params["end"] !== undefined ? steps("end") : Math.round(RAMP_DEFAULTS.endShareOfLength * total);
  if (end > total) throw new OpFailure(`end (step ${end}) is past the end of training (step ${total})`);
  if (start >= end) throw new OpFailure(`start (step ${start}) must come before end (step ${end}); the ramp needs at least one step`);
  // dpf's `every` always has its default (16 steps); gmp's, when absent, gives about 20 pruning steps over the ramp.
  const every = ctx.params["every"] !== undefined ? steps("every") : Math.max(1, Math.round((end - start) / RAMP_DEFAULTS.gmpPruningSteps));
  if (every < 1) throw new OpFailure("every must be at least one step");
  checkSparser(net, num(ctx, "final"));
  return {
    fit: trainingOptions(ctx),
    schedule: { final: num(ctx, "final"), start, end, every, scope: str(ctx, "scope") as Schedule["scope"] },
  };
}

/** Final sparsity below what the input net already has cannot be reached without reviving weights. */
function checkSparser(net: NetValue, final: number): void {
  const total = net.layers.reduce((n, l) => n + l.mask.length, 0);
  const live = net.layers.reduce((n, l) => n + l.mask.reduce((a, m) => a + m, 0), 0);
  if (live < Math.round((1 - final) * total)) {
    throw new OpFailure(`the net already has ${(100 * (1 - live / total)).toFixed(1)}% of its weights pruned, more than final (${(100 * final).toFixed(1)}%)`);
  }
}

/** Whether the mask is recomputed after `step` steps: every `every` steps of the ramp, and at its end. */
function pruneStep(step: number, s: Schedule): boolean {
  return step > s.start && step <= s.end && ((step - s.start) % s.every === 0 || step === s.end);
}

function storedWeights(model: EngineNet, tensors?: readonly TF.Tensor[]): Float32Array[] {
  return model.params.map((p, i) => fromEngine((tensors?.[i] ?? p.weight).dataSync() as Float32Array, p.layer));
}

export function gmp(ctx: OpContext, engine: Engine): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const { fit: options, schedule } = setup(ctx, net, data);
  return fit(engine, net, data, {
    ...options,
    hooks: { afterStep(step, model) {
      if (!pruneStep(step, schedule)) return;
      const sparsity = cubicSparsity(step, schedule.start, schedule.end, schedule.final);
      // Weights pruned earlier are zero and stay out: only the current mask's weights compete.
      const current = model.params.map((p) => p.layer.mask);
      magnitudeMasks(storedWeights(model), current, sparsity, schedule.scope).forEach((m, i) => model.setMask(i, m));
    } },
  });
}

export function dpf(ctx: OpContext, engine: Engine): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const { fit: options, schedule } = setup(ctx, net, data);
  const { tf } = engine;
  // The part of the dense weights the mask hides (engine layout), per layer; made at the first step.
  let hidden: TF.Tensor[] | undefined;
  // Weights outside the input net's own mask never come back: dpf prunes within it.
  let allowed: TF.Tensor[] | undefined;
  const original = net.layers.map((l) => l.mask);
  try {
    const trained = fit(engine, net, data, {
      ...options,
      denseGradients: true,
      hooks: { afterStep(step, model) {
        allowed ??= model.params.map((p) => tf.keep(tf.clone(p.mask)));
        hidden ??= model.params.map((p) => tf.keep(tf.zerosLike(p.weight)));
        const h = hidden;
        const a = allowed;
        // The step moved every weight (unmasked gradients): what landed on hidden weights joins them.
        model.params.forEach((p, i) => {
          const [visible, rest] = tf.tidy(() => {
            const off = tf.mul(tf.sub(a[i]!, p.mask), p.weight);
            return [tf.mul(p.weight, p.mask), tf.add(h[i]!, off)];
          });
          p.weight.assign(visible);
          visible.dispose();
          h[i]!.dispose();
          h[i] = tf.keep(rest);
        });
        // Refreshed along the ramp only: after `end` the mask stays, so the last change is trained with.
        if (!pruneStep(step, schedule)) return;
        // Refresh: rank the dense weights (visible + hidden) and split them again.
        const dense = model.params.map((p, i) => tf.add(p.weight, h[i]!));
        const masks = magnitudeMasks(storedWeights(model, dense), original, cubicSparsity(step, schedule.start, schedule.end, schedule.final), schedule.scope);
        masks.forEach((m, i) => {
          model.setMask(i, m, true);
          const p = model.params[i]!;
          const [visible, rest] = tf.tidy(() => [tf.mul(dense[i]!, p.mask), tf.mul(tf.mul(dense[i]!, tf.sub(1, p.mask)), a[i]!)]);
          p.weight.assign(visible);
          visible.dispose();
          h[i]!.dispose();
          h[i] = tf.keep(rest);
        });
        tf.dispose(dense);
      } },
    });
    return trained;
  } finally {
    if (hidden) tf.dispose(hidden);
    if (allowed) tf.dispose(allowed);
  }
}

export const implementations: OpImplementations = {
  gmp: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: gmp(ctx, e) })) },
  dpf: { engine: true, run: onEngine((ctx, e) => ({ kind: "Net", net: dpf(ctx, e) })) },
};
