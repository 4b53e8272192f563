// The lottery-ticket net ops that need no tensor engine: initialisation, rewinding, and the
// random controls (reinit, shuffle_mask). Plain typed-array code, so they give the same
// bytes everywhere. Pruning is in pruning.ts.

import type { ParamValue } from "../../compiler/stage.js";
import { layerShape, liveMask, requireSameArchitecture, withMasks, type Layer, type NetValue } from "../core/net.js";
import { MASK_RECORDS } from "./records.js";
import { knownArch, planNet, type LayerPlan } from "../core/architectures.js";
import { Random } from "../core/random.js";
import { sha256 } from "../store/store.js";
import { datasetInput, netInput, num, str, type OpContext, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";

export type InitScheme = "glorot" | "he";

/** Batch norm's starting scale γ: network slimming's 0.5, which Early-Bird's code keeps. */
export const INITIAL_GAMMA = 0.5;


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
 * slimming's start, which Early-Bird's code keeps) and fresh running statistics. A ResNet's
 * γ is drawn uniformly from [0, 1), OpenLTH's `batchnorm_init='uniform'` for its CIFAR ResNets.
 */
function fresh(l: LayerPlan | Layer, scheme: InitScheme, seed: number, arch: ParamValue): Pick<Layer, "weight" | "bias" | "norm"> {
  const area = l.kernel * l.kernel;
  const weight = freshWeights(l.outputs * l.inputs * area, l.inputs * area, l.outputs * area, scheme, new Random(seed, `init/${l.name}`));
  const norm = "batchnorm" in l ? l.batchnorm : l.norm !== undefined;
  if (!norm) return { weight, bias: new Float32Array(l.outputs) };
  const n = l.outputs;
  const uniform = (arch as { arch?: string } | null)?.arch === "resnet";
  const random = new Random(seed, `init/${l.name}/gamma`);
  const gamma = uniform ? Float32Array.from({ length: n }, () => random.next()) : new Float32Array(n).fill(INITIAL_GAMMA);
  return { weight, norm: { gamma, beta: new Float32Array(n), mean: new Float32Array(n), variance: new Float32Array(n).fill(1) } };
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
    ...fresh(l, scheme, seed, arch),
  }));
  return { arch, scheme, inputShape: data.inputShape, classes: data.classes, head: plan.head, layers, init: lineage(layers), steps: 0, history: [] };
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
  const layers = net.layers.map((l) => ({ ...l, ...fresh(l, net.scheme, seed, net.arch) }));
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

/**
 * A ticket moved to another dataset (Morcos et al. 2019, "One ticket to win them all"): the
 * same architecture planned for the new data's input shape and classes; every layer whose
 * shape is unchanged keeps its weights, mask and channel mask; every layer whose shape
 * changes (the output layer for another class count; the first layer, or the first dense
 * layer after the convs, for inputs of another size) is drawn afresh by the net's scheme
 * from `seed`, all its weights alive. A flat 784 and a 28×28×1 image are the same input to
 * an MLP, so its first layer is kept.
 */
export function transfer(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const seed = num(ctx, "seed");
  const plan = planNet(net.arch, data.inputShape, data.classes);
  if ("problem" in plan) throw new OpFailure(`transfer: ${plan.problem}`);
  if (plan.layers.length !== net.layers.length || plan.layers.some((l, i) => l.name !== net.layers[i]!.name || l.kind !== net.layers[i]!.kind)) {
    throw new OpFailure(`transfer keeps the net's architecture, but on the dataset '${data.name}' (${data.inputShape.join("×")}, ${data.classes} classes) it has other layers (${plan.layers.map((l) => l.name).join(", ")} instead of ${net.layers.map((l) => l.name).join(", ")})`);
  }
  const changed: string[] = [];
  const layers = net.layers.map((l, i) => {
    const p = plan.layers[i]!;
    if (p.inputs === l.inputs && p.outputs === l.outputs && p.kernel === l.kernel) return l;
    changed.push(l.name);
    return { ...layerShape({ ...l, inputs: p.inputs, outputs: p.outputs }), mask: new Uint8Array(p.outputs * p.inputs * p.kernel * p.kernel).fill(1), ...fresh({ ...l, inputs: p.inputs, outputs: p.outputs, channels: undefined } as Layer, net.scheme, seed, net.arch) };
  });
  // Unchanged layers keep the ticket's lineage, so it still rewinds to its initialisation; a redrawn layer starts a new one.
  const { records: _records, measured: _measured, earlyStop: _earlyStop, ...rest } = net;
  return { ...rest, inputShape: data.inputShape, classes: data.classes, layers, history: [], ...(changed.length ? { init: lineage(layers) } : {}) };
}

export const implementations: OpImplementations = {
  transfer: { engine: false, run: (ctx) => ({ kind: "Net", net: transfer(ctx) }) },
  init: {
    engine: false,
    // Which architectures `init` can build: a message naming what is missing otherwise.
    validate: (stage) => knownArch(stage.params["arch"]),
    run: (ctx) => ({ kind: "Net", net: init(ctx) }),
  },
  rewind: { engine: false, run: (ctx) => ({ kind: "Net", net: rewind(ctx) }) },
  reinit: { engine: false, run: (ctx) => ({ kind: "Net", net: reinit(ctx) }) },
  shuffle_mask: { engine: false, run: (ctx) => ({ kind: "Net", net: shuffleMask(ctx) }) },
};
