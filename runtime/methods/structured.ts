// Structured pruning: whole filters of conv layers removed, ranked by the L1 norm of their
// weights (Li et al. 2017, "Pruning Filters for Efficient ConvNets") or by |γ| of their batch
// norm (Liu et al. 2017, network slimming); and `compact`, which builds the physically smaller
// dense net without the removed channels, the architecture Liu et al.'s "rethinking" baselines
// (Scratch-E, Scratch-B) train from fresh weights. Plain typed-array code, no tensor engine.

import { OpFailure } from "../core/errors.js";
import { describeArch, isChain, withChannels, type Layer, type NetValue } from "../core/net.js";
import { lowest } from "../core/select.js";
import { netInput, type OpContext, type OpImplementations } from "../ops/context.js";
import { keepInputs, keepOutputs } from "./loft/slices.js";
import type { PruneScope } from "./pruning.js";

/**
 * The conv layers whose filters can go: every conv of a chain of layers (Conv-2/4/6, VGG);
 * in a ResNet only a block's first conv, whose output only the block's second conv reads (the
 * others' outputs are added to shortcuts, which must keep every channel).
 */
export function filterLayers(layers: readonly Layer[]): number[] {
  const chain = isChain(layers);
  return layers.flatMap((l, i) => (l.kind === "conv" && !l.residual && !l.shortcut && (chain || layers[i + 1]?.residual !== undefined) ? [i] : []));
}

/** Each filter's score: the L1 norm of its live weights, or |γ| of its batch norm. */
function filterScores(l: Layer, score: "l1" | "bn_scale"): Float64Array {
  if (score === "bn_scale") {
    if (!l.norm) throw new OpFailure(`prune by batch-norm scale (network slimming) needs batch norm after each pruned conv, and layer ${l.name} has none; use score: l1`);
    return Float64Array.from(l.norm.gamma, Math.abs);
  }
  const per = l.inputs * l.kernel * l.kernel;
  const out = new Float64Array(l.outputs);
  for (let f = 0; f < l.outputs; f++) {
    let s = 0;
    for (let j = f * per; j < (f + 1) * per; j++) if (l.mask[j]) s += Math.abs(l.weight[j]!);
    out[f] = s;
  }
  return out;
}

/**
 * Removes `rate` of the kept filters of each prunable conv layer (`layerwise`), or of all of
 * them under one ranking (`global`), lowest score first (ties to the lower index); a layer
 * always keeps one filter. The removed channels are masked (Layer.channels): their filters,
 * biases and batch norm are 0 and stay 0.
 */
export function pruneFilters(net: NetValue, rate: number, scope: PruneScope, score: "l1" | "bn_scale"): NetValue {
  const eligible = filterLayers(net.layers);
  if (eligible.length === 0) throw new OpFailure(`structure: filter removes conv filters, and ${describeArch(net)} has no conv layer whose filters can go`);
  const kept = (l: Layer) => Array.from({ length: l.outputs }, (_, c) => c).filter((c) => !l.channels || l.channels[c] === 1);
  const candidates = eligible.map((i) => {
    const l = net.layers[i]!;
    const scores = filterScores(l, score);
    return { i, channels: kept(l), scores };
  });
  const removed = new Map<number, Set<number>>(eligible.map((i) => [i, new Set()]));
  if (scope === "layerwise") {
    for (const c of candidates) {
      const k = Math.min(c.channels.length - 1, Math.round(rate * c.channels.length));
      for (const j of lowest(Float64Array.from(c.channels, (ch) => c.scores[ch]!), k)) removed.get(c.i)!.add(c.channels[j]!);
    }
  } else {
    const all = candidates.flatMap((c) => c.channels.map((ch) => ({ layer: c.i, channel: ch, score: c.scores[ch]! })));
    const order = lowest(Float64Array.from(all, (a) => a.score), all.length);
    const left = new Map(candidates.map((c) => [c.i, c.channels.length]));
    let k = Math.round(rate * all.length);
    for (const j of order) {
      if (k === 0) break;
      const a = all[j]!;
      // Each layer keeps at least one filter.
      if (left.get(a.layer)! <= 1) continue;
      removed.get(a.layer)!.add(a.channel);
      left.set(a.layer, left.get(a.layer)! - 1);
      k--;
    }
  }
  const layers = net.layers.map((l, i) => {
    const gone = removed.get(i);
    if (!gone || gone.size === 0) return l;
    const channels = Uint8Array.from({ length: l.outputs }, (_, c) => (gone.has(c) || (l.channels && !l.channels[c]) ? 0 : 1));
    return withChannels(l, channels);
  });
  return { ...net, layers };
}

/**
 * The physically smaller dense net: each masked channel of a prunable conv layer removed with
 * its filter, bias and batch norm, and the next layer's weights that read it (a conv's input
 * channel, or the flattened features of that channel for the first dense layer). Weight masks
 * and values are kept; what remains computes exactly what the masked net computed.
 */
export function compact(net: NetValue): NetValue {
  const eligible = new Set(filterLayers(net.layers));
  for (const [i, l] of net.layers.entries()) {
    if (l.channels && !eligible.has(i) && l.channels.some((c) => c === 0)) {
      throw new OpFailure(`compact removes masked channels whose output only the next layer reads; layer ${l.name} of ${describeArch(net)} feeds a shortcut, so its masked channels cannot be removed`);
    }
  }
  const layers: Layer[] = [...net.layers];
  for (let i = 0; i < layers.length; i++) {
    const l = layers[i]!;
    if (!eligible.has(i) || !l.channels || l.channels.every((c) => c === 1)) continue;
    const keep = Int32Array.from(Array.from({ length: l.outputs }, (_, c) => c).filter((c) => l.channels![c] === 1));
    // Every channel left is kept: the layer needs no channel mask.
    const { channels: _all, ...cut } = keepOutputs(l, keep);
    layers[i] = cut;
    const next = layers[i + 1]!;
    // The first dense layer reads the channels flattened channel-major (spatial features each) or averaged (one each).
    const spatial = next.kind === "conv" ? 1 : next.inputs / l.outputs;
    const inputs = Int32Array.from(Array.from(keep).flatMap((c) => Array.from({ length: spatial }, (_, s) => c * spatial + s)));
    layers[i + 1] = keepInputs(next, inputs);
  }
  return { ...net, layers };
}

export const implementations: OpImplementations = {
  compact: { engine: false, run: (ctx: OpContext) => ({ kind: "Net", net: compact(netInput(ctx, "net")) }) },
};
