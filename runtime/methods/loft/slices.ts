// What LoFT deals out and sends back: which conv layers are partitioned, and the slices of a
// layer's parameters (a filter's rows, the next layer's matching input channels) as flat
// arrays. Shared by the coordinator (runtime/methods/loft/loft.ts) and its workers.

import type { Layer } from "../../core/net.js";
import { Random } from "../../core/random.js";

/**
 * The partitioned layers: the first conv of each pair of convs (conv1, conv3, conv5 of
 * Frankle & Carbin's nets), whose filters the next conv reads, as LoFT partitions a residual
 * block's first conv and the matching input channels of its second. Every other layer is
 * replicated: each worker trains it, and the syncs average it.
 */
export function partitionedLayers(layers: readonly Pick<Layer, "kind">[]): number[] {
  const out: number[] = [];
  let conv = 0;
  layers.forEach((l, i) => {
    if (l.kind !== "conv") return;
    if (conv % 2 === 0 && layers[i + 1]?.kind === "conv") out.push(i);
    conv++;
  });
  return out;
}

/**
 * Sync `round`'s partition of layer `layer`'s `outputs` filters: shuffled (seeded), dealt
 * round-robin to `workers`, each worker's in ascending order (its sub-network keeps the full
 * net's channel order, so one worker's is the whole net, summed in the same order).
 */
export function deal(outputs: number, workers: number, seed: number, round: number, layer: number): Int32Array[] {
  const order = new Random(seed, `loft/partition/${round}/${layer}`).permutation(outputs);
  return Array.from({ length: workers }, (_, w) => Int32Array.from(order.filter((_, j) => j % workers === w)).sort());
}

/** How many filters of a layer of `outputs` worker `w` of `workers` is dealt at every sync. */
export function dealtTo(outputs: number, workers: number, w: number): number {
  return Math.floor(outputs / workers) + (w < outputs % workers ? 1 : 0);
}

/**
 * A worker's sub-network (LoFT's narrow net): each partitioned layer cut to its filters (their
 * rows, biases, batch norm, channel mask), the next layer to the matching input channels; every
 * other layer whole. `slices[i]` are the filters of partitioned layer i.
 */
export function subnetwork(layers: readonly Layer[], slices: Readonly<Record<number, Int32Array>>): Layer[] {
  return layers.map((l, i) => {
    const own = slices[i];
    const fed = slices[i - 1];
    const cut = own ? keepOutputs(l, own) : l;
    return fed ? keepInputs(cut, fed) : cut;
  });
}

/**
 * The layer with only the output channels `keep`, in that order: their filters' rows and masks,
 * biases, batch norm and channel mask (LoFT's worker slice; `compact`'s removal of masked channels).
 */
export function keepOutputs(l: Layer, keep: Int32Array): Layer {
  const per = l.inputs * l.kernel * l.kernel;
  return {
    ...l,
    outputs: keep.length,
    weight: takeOutputs(l.weight, per, keep),
    mask: takeOutputs(l.mask, per, keep),
    ...(l.bias ? { bias: takeOutputs(l.bias, 1, keep) } : {}),
    ...(l.norm
      ? { norm: { gamma: takeOutputs(l.norm.gamma, 1, keep), beta: takeOutputs(l.norm.beta, 1, keep), mean: takeOutputs(l.norm.mean, 1, keep), variance: takeOutputs(l.norm.variance, 1, keep) } }
      : {}),
    ...(l.channels ? { channels: takeOutputs(l.channels, 1, keep) } : {}),
  };
}

/** The layer reading only its inputs `keep` (a conv's input channels, a dense layer's features): their weights and masks. */
export function keepInputs(l: Layer, keep: Int32Array): Layer {
  return { ...l, inputs: keep.length, weight: takeInputs(l.weight, l, keep), mask: takeInputs(l.mask, l, keep) };
}

type Shape = Pick<Layer, "inputs" | "outputs" | "kernel">;

/** Filters `f` of a stored [out, in, k, k] weight (or any per-output array with `per` values per output), as one array. */
export function takeOutputs<A extends Float32Array | Uint8Array>(values: A, per: number, f: Int32Array): A {
  const out = new (values.constructor as new (n: number) => A)(f.length * per);
  f.forEach((o, j) => out.set(values.subarray(o * per, (o + 1) * per), j * per));
  return out;
}

export function putOutputs(values: Float32Array, per: number, f: Int32Array, slice: Float32Array): void {
  f.forEach((o, j) => values.set(slice.subarray(j * per, (j + 1) * per), o * per));
}

/** Input channels `c` of a stored [out, in, k, k] weight, as one [out, |c|, k, k] array. */
export function takeInputs<A extends Float32Array | Uint8Array>(weight: A, l: Shape, c: Int32Array): A {
  const area = l.kernel * l.kernel;
  const out = new (weight.constructor as new (n: number) => A)(l.outputs * c.length * area);
  for (let o = 0; o < l.outputs; o++) c.forEach((i, j) => out.set(weight.subarray((o * l.inputs + i) * area, (o * l.inputs + i + 1) * area), (o * c.length + j) * area));
  return out;
}

export function putInputs(weight: Float32Array, l: Shape, c: Int32Array, slice: Float32Array): void {
  const area = l.kernel * l.kernel;
  for (let o = 0; o < l.outputs; o++) c.forEach((i, j) => weight.set(slice.subarray((o * c.length + j) * area, (o * c.length + j + 1) * area), (o * l.inputs + i) * area));
}

/** A layer's trainable values as plain arrays: what a sync sends whole for a replicated layer. */
export interface LayerValues {
  weight: Float32Array;
  bias?: Float32Array;
  gamma?: Float32Array;
  beta?: Float32Array;
  mean?: Float32Array;
  variance?: Float32Array;
}

export function valuesOf(l: Layer): LayerValues {
  return {
    weight: l.weight,
    ...(l.bias ? { bias: l.bias } : {}),
    ...(l.norm ? { gamma: l.norm.gamma, beta: l.norm.beta, mean: l.norm.mean, variance: l.norm.variance } : {}),
  };
}

export function withValues(l: Layer, v: LayerValues): Layer {
  return {
    ...l,
    weight: v.weight,
    ...(v.bias ? { bias: v.bias } : {}),
    ...(l.norm ? { norm: { gamma: v.gamma!, beta: v.beta!, mean: v.mean!, variance: v.variance! } } : {}),
  };
}

/** Bytes of the arrays in `v`. */
export function bytesOf(v: Partial<LayerValues>): number {
  return Object.values(v).reduce((n, a) => n + (a ? a.byteLength : 0), 0);
}

/** The per-channel arrays of a layer (bias, batch norm), which follow its filters. */
export const PER_CHANNEL = ["bias", "gamma", "beta", "mean", "variance"] as const;
