// Ops on weights and masks that need no tensor engine: initialisation, pruning, rewinding
// and the random controls. Plain typed-array code, so they give the same bytes everywhere.

import { layerShape, requireSameArchitecture, liveMask, masked, type Layer, type NetValue } from "../core/net.js";
import { MASK_RECORDS } from "./records.js";
import { planNet, type LayerPlan } from "../core/architectures.js";
import { lowest } from "../core/select.js";
import { Random } from "../core/random.js";
import { sha256 } from "../store/store.js";
import { datasetInput, netInput, num, str, type OpContext } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";

export type InitScheme = "glorot" | "he";

/** Which architectures `init` can build: a message naming what is missing otherwise. */
export { knownArch as unsupportedArch } from "../core/architectures.js";

/** Glorot-uniform or He-normal weights for a layer with these fans. */
function freshWeights(count: number, fanIn: number, fanOut: number, scheme: InitScheme, random: Random): Float32Array {
  const w = new Float32Array(count);
  if (scheme === "glorot") {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < w.length; i++) w[i] = (2 * random.next() - 1) * limit;
  } else {
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < w.length; i++) w[i] = random.normal() * std;
  }
  return w;
}

/**
 * A layer's weights drawn afresh, biases zero, batch norm at γ = 0.5, β = 0 (network
 * slimming's start, which Early-Bird's code keeps) and fresh running statistics.
 */
function fresh(l: LayerPlan | Layer, scheme: InitScheme, seed: number): Pick<Layer, "weight" | "bias" | "norm"> {
  const area = l.kernel * l.kernel;
  const weight = freshWeights(l.outputs * l.inputs * area, l.inputs * area, l.outputs * area, scheme, new Random(seed, `init/${l.name}`));
  const norm = "batchnorm" in l ? l.batchnorm : l.norm !== undefined;
  if (!norm) return { weight, bias: new Float32Array(l.outputs) };
  const n = l.outputs;
  return { weight, norm: { gamma: new Float32Array(n).fill(0.5), beta: new Float32Array(n), mean: new Float32Array(n), variance: new Float32Array(n).fill(1) } };
}

/** The identity of an initialisation: the hash of its weights. */
function lineage(layers: readonly Layer[]): string {
  return sha256(Buffer.concat(layers.map((l) => Buffer.from(l.weight.buffer, l.weight.byteOffset, l.weight.byteLength))));
}

export function init(ctx: OpContext): NetValue {
  const data = datasetInput(ctx, "data");
  const arch = ctx.params["arch"]!;
  const scheme = str(ctx, "scheme") as InitScheme;
  const seed = num(ctx, "seed");
  const plan = planNet(arch, data.inputShape, data.classes);
  if ("problem" in plan) throw new OpFailure(plan.problem);
  const layers: Layer[] = plan.layers.map((l) => ({
    ...layerShape(l),
    mask: new Uint8Array(l.outputs * l.inputs * l.kernel * l.kernel).fill(1),
    ...fresh(l, scheme, seed),
  }));
  return { arch, scheme, inputShape: data.inputShape, classes: data.classes, head: plan.head, layers, init: lineage(layers), steps: 0, history: [] };
}

function withMasks(net: NetValue, masks: readonly Uint8Array[], channels: readonly (Uint8Array | undefined)[] = net.layers.map((l) => l.channels)): NetValue {
  const layers = net.layers.map((l, i) => {
    const c = channels[i];
    const { channels: _dropped, ...rest } = l;
    return masked({ ...rest, mask: masks[i]!, ...(c ? { channels: c } : {}) });
  });
  return { ...net, layers };
}

export type PruneScope = "layerwise" | "global";

/**
 * Which live weights of a ranking group go: given the group's candidate count (live weights
 * of its layers, in layer then index order) and how many to remove, the candidates to
 * remove, as positions in that order.
 */
type Chooser = (count: number, k: number, label: string, candidates: (visit: (layer: number, index: number, c: number) => void) => void) => Iterable<number>;

/**
 * The mask removal shared by every criterion: the last layer loses `outputRate` of its live
 * weights on its own; the others each lose `rate` of theirs (`layerwise`) or `rate` of all
 * of theirs ranked together (`global`). Counts round to the nearest weight.
 */
function removeByGroups(net: NetValue, rate: number, outputRate: number, scope: PruneScope, choose: Chooser): NetValue {
  const masks = net.layers.map((l) => Uint8Array.from(l.mask));
  const last = net.layers.length - 1;
  const removeFrom = (layers: readonly number[], share: number, label: string): void => {
    const count = layers.reduce((n, i) => n + masks[i]!.reduce((a, m) => a + m, 0), 0);
    const k = Math.round(share * count);
    if (k === 0) return;
    const layerOf = new Uint32Array(count);
    const indexOf = new Uint32Array(count);
    let c = 0;
    for (const i of layers) {
      masks[i]!.forEach((m, j) => {
        if (!m) return;
        layerOf[c] = i;
        indexOf[c++] = j;
      });
    }
    const candidates = (visit: (layer: number, index: number, c: number) => void) => {
      for (let c = 0; c < count; c++) visit(layerOf[c]!, indexOf[c]!, c);
    };
    for (const c of choose(count, k, label, candidates)) masks[layerOf[c]!]![indexOf[c]!] = 0;
  };
  if (scope === "global") removeFrom(net.layers.slice(0, last).map((_, i) => i), rate, "global");
  else for (let i = 0; i < last; i++) removeFrom([i], rate, net.layers[i]!.name);
  removeFrom([last], outputRate, net.layers[last]!.name);
  return withMasks(net, masks);
}

/**
 * Prunes by a score per weight (stored layout, one array per layer): the lowest-scoring live
 * weights go first, ties by position (layer, then index). Pruned weights stay pruned and
 * only live weights count; `rate`, `outputRate` and `scope` as for `prune`.
 */
export function pruneByScores(net: NetValue, scores: readonly Float32Array[], rate: number, outputRate: number, scope: PruneScope): NetValue {
  return removeByGroups(net, rate, outputRate, scope, (count, k, _label, candidates) => {
    const ranked = new Float32Array(count);
    candidates((layer, index, c) => (ranked[c] = scores[layer]![index]!));
    return lowest(ranked, k);
  });
}

/**
 * Removes `rate` of the weights that remain (rounded to the nearest weight), smallest |w|
 * first or at random; ties go by position, so the result is the same everywhere. The last
 * layer always uses `output_rate` on its own; `global` ranks the other layers together.
 */
export function prune(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const rate = num(ctx, "rate");
  const outputRate = num(ctx, "output_rate");
  const scope = str(ctx, "scope") as PruneScope;
  if (str(ctx, "criterion") === "magnitude") {
    return pruneByScores(net, net.layers.map((l) => Float32Array.from(l.weight, Math.abs)), rate, outputRate, scope);
  }
  const seed = num(ctx, "seed");
  return removeByGroups(net, rate, outputRate, scope, (count, k, label) => new Random(seed, `prune/${label}`).permutation(count).subarray(0, k));
}

/** The weights (and training history) of `to`, under the mask of `net`. */
export function rewind(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const to = netInput(ctx, "to");
  requireSameArchitecture(net.layers, to.layers, "rewind");
  if (net.init !== to.init) {
    throw new OpFailure(
      `rewind needs two nets from the same initialisation: 'net' descends from ${net.init.slice(0, 12)}…, 'to' from ${to.init.slice(0, 12)}… (was 'to' reinitialised, or made by another init?)`,
    );
  }
  // Records that describe a mask (early-bird's, greedy's) come with the mask; the others with the weights.
  const { records: _theirs, ...weights } = to;
  const records = Object.fromEntries([
    ...Object.entries(to.records ?? {}).filter(([name]) => !MASK_RECORDS.has(name)),
    ...Object.entries(net.records ?? {}).filter(([name]) => MASK_RECORDS.has(name)),
  ]) as NetValue["records"];
  return withMasks({ ...weights, ...(Object.keys(records!).length ? { records } : {}) }, net.layers.map((l) => l.mask), net.layers.map((l) => l.channels));
}

/** Fresh weights (the net's own scheme, a new seed) under the same mask; biases zero. */
export function reinit(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const seed = num(ctx, "seed");
  const layers = net.layers.map((l) => ({ ...l, ...fresh(l, net.scheme, seed) }));
  const drawn = withMasks({ ...net, layers }, net.layers.map((l) => l.mask));
  return { ...drawn, init: lineage(drawn.layers), steps: 0, history: [] };
}

/**
 * Each layer's mask permuted at random, its live weights moving with it: same per-layer
 * sparsity and weight values. Rewind the result to the initial net for Frankle & Carbin's
 * random-sparsity control.
 */
export function shuffleMask(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const seed = num(ctx, "seed");
  const layers = net.layers.map((l) => {
    // Only within the filters of kept channels: a masked channel stays empty.
    const channelLive = l.channels ? liveMask(l, new Uint8Array(l.mask.length).fill(1)) : undefined;
    const slots = channelLive ? Uint32Array.from({ length: l.mask.length }, (_, j) => j).filter((j) => channelLive[j] === 1) : undefined;
    const at = (i: number) => (slots ? slots[i]! : i);
    const order = new Random(seed, `shuffle_mask/${l.name}`).permutation(slots ? slots.length : l.mask.length);
    const mask = new Uint8Array(l.mask.length);
    const weight = new Float32Array(l.weight.length);
    order.forEach((from, i) => {
      mask[at(i)] = l.mask[at(from)]!;
      weight[at(i)] = l.weight[at(from)]!;
    });
    return { ...l, mask, weight };
  });
  return { ...net, layers };
}
