// The values stages pass each other, and their bytes in the store. Nets and datasets are
// safetensors files that PyTorch loads as they are (`safetensors.torch.load_file`): a dense
// layer's weight is [out, in] like `nn.Linear`'s, its mask a BOOL `weight_mask` beside it.

import { createHash } from "node:crypto";
import type { ParamValue, ResultKind } from "../compiler/stage.js";
import { canonicalJson } from "./key.js";
import type { ArtifactExt } from "./store/store.js";
import { decodeSafetensors, encodeSafetensors, type Tensor } from "./store/safetensors.js";

/** Batch normalisation after a conv layer, per output channel. */
export interface BatchNorm {
  /** γ: the scale, L1-penalised and ranked by `earlybird`. */
  readonly gamma: Float32Array;
  /** β: the shift. */
  readonly beta: Float32Array;
  readonly mean: Float32Array;
  readonly variance: Float32Array;
}

/**
 * A conv layer (3×3, stride 1, same padding, then batch norm if any, ReLU and a 2×2 max
 * pool if `pool`) or a fully connected one. Weights are PyTorch's layout:
 * [outputs, inputs, kernel, kernel] for conv, [outputs, inputs] for dense.
 */
export interface Layer {
  readonly name: string;
  readonly kind: "conv" | "dense";
  /** Input channels (conv) or features (dense). */
  readonly inputs: number;
  readonly outputs: number;
  /** The side of a conv kernel; 1 for a dense layer. */
  readonly kernel: number;
  readonly activation: "relu" | "none";
  readonly pool: boolean;
  readonly weight: Float32Array;
  /** 1 where the weight is alive; a pruned weight is exactly 0 in `weight` too. */
  readonly mask: Uint8Array;
  /** Absent for a conv layer with batch norm: β plays its part. */
  readonly bias?: Float32Array;
  readonly norm?: BatchNorm;
  /** 1 per output channel that is kept; a masked channel's filter, γ and β are 0 and stay 0. */
  readonly channels?: Uint8Array;
}

/** The fields that describe a layer, not its values. */
export type LayerShape = Pick<Layer, "name" | "kind" | "inputs" | "outputs" | "kernel" | "activation" | "pool">;

export function layerShape(l: LayerShape): LayerShape {
  return { name: l.name, kind: l.kind, inputs: l.inputs, outputs: l.outputs, kernel: l.kernel, activation: l.activation, pool: l.pool };
}

/** What `earlybird` found: when the channel mask stopped changing, and how much it masks. */
export interface EarlyBird {
  /** Epochs trained when the ticket emerged (or `max` when it did not). */
  readonly epoch: number;
  readonly emerged: boolean;
  readonly channelSparsity: number;
  /** Normalised Hamming distance between consecutive masks, one per epoch after the first. */
  readonly distances: readonly number[];
}

/** What `greedy` (forward selection, Ye et al. 2020) kept: per hidden layer, in order from the input. */
export interface GreedySelection {
  /** The accuracy the selection had to keep: at least (1 − tolerance) of the full net's. */
  readonly tolerance: number;
  /** The full net's accuracy on the evaluation subset of the training split. */
  readonly full: number;
  /** Examples in that subset. */
  readonly eval: number;
  /** Units (neurons, or a conv layer's filters) kept of the layer's total, and the selected net's accuracy on the subset after this layer. */
  readonly layers: readonly { readonly name: string; readonly kept: number; readonly total: number; readonly accuracy: number }[];
}

/** How a `loft` pretraining ran (Wang et al. 2023): its workers, and the bytes of parameters it and data-parallel training send. */
export interface LoftRecord {
  readonly workers: number;
  readonly localSteps: number;
  /** Syncs: each one deals out fresh filter partitions. */
  readonly rounds: number;
  /** The conv layers whose filters were dealt out. */
  readonly partitioned: readonly string[];
  /** Parameter bytes actually sent between the coordinator and the workers, both ways. */
  readonly bytesExchanged: number;
  /** What synchronous data-parallel training would send for the same steps: each step, each worker's gradient up and the averaged one down. */
  readonly dataParallelBytes: number;
}

/** A test measurement taken while training. */
export interface HistoryPoint {
  /** Steps since the weights' initialisation (a rewound net restarts from its target's step). */
  readonly step: number;
  readonly epoch: number;
  readonly accuracy: number;
  readonly loss: number;
  /** Mean training loss since the previous point. */
  readonly trainLoss?: number;
}

/**
 * A test measurement of one set of parameters. `parameters` is their digest
 * (`parametersDigest`): an op that changes a weight, a mask or a batch-norm statistic and
 * copies the rest of the net leaves a measurement that no longer matches, so it is never
 * shown for the changed net.
 */
export interface Measurement {
  readonly accuracy: number;
  readonly loss: number;
  readonly parameters: string;
}

export interface NetValue {
  readonly arch: ParamValue;
  /** How the initial weights were drawn; `reinit` draws the same way. */
  readonly scheme: "glorot" | "he";
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly layers: readonly Layer[];
  /** How conv features reach the first dense layer: flattened (channel-major, as PyTorch), or averaged over space. */
  readonly head: "flatten" | "average";
  /** The identity of the initialisation these weights descend from; `rewind` requires equal ones. */
  readonly init: string;
  /** Training steps the weights have seen since that initialisation. */
  readonly steps: number;
  readonly history: readonly HistoryPoint[];
  /** The test accuracy and loss of these parameters, when the op that made them measured them. */
  readonly measured?: Measurement;
  readonly earlybird?: EarlyBird;
  readonly greedy?: GreedySelection;
  readonly loft?: LoftRecord;
}

export interface Split {
  readonly n: number;
  /** n × features: bytes for images (scaled by `scale` when used), floats otherwise. */
  readonly x: Uint8Array | Float32Array;
  readonly y: Int32Array;
}

export interface DatasetValue {
  readonly name: string;
  readonly inputShape: readonly number[];
  readonly classes: number;
  /** What a stored feature is multiplied by before use (1/255 for image bytes). */
  readonly scale: number;
  /**
   * Per channel (the last axis; one entry for flat features): the mean and standard deviation
   * of the scaled training inputs, which training subtracts and divides by.
   */
  readonly mean: readonly number[];
  readonly std: readonly number[];
  readonly train: Split;
  readonly test: Split;
}

export interface MetricsValue {
  readonly accuracy: number;
  readonly loss: number;
}

export type Artifact =
  | { readonly kind: "Net"; readonly net: NetValue }
  | { readonly kind: "Dataset"; readonly dataset: DatasetValue }
  | { readonly kind: "Metrics"; readonly metrics: MetricsValue }
  | { readonly kind: "Number"; readonly value: number };

export const EXTENSION: Record<ResultKind, ArtifactExt> = { Net: "safetensors", Dataset: "safetensors", Metrics: "json", Number: "json" };

export class ArtifactFormatError extends Error {}

export function encodeArtifact(a: Artifact): Uint8Array {
  switch (a.kind) {
    case "Net":
      return encodeNet(a.net);
    case "Dataset":
      return encodeDataset(a.dataset);
    case "Metrics":
      return json({ type: "Metrics", accuracy: a.metrics.accuracy, loss: a.metrics.loss });
    case "Number":
      return json({ type: "Number", value: a.value });
  }
}

export function decodeArtifact(kind: ResultKind, bytes: Uint8Array, file: string): Artifact {
  switch (kind) {
    case "Net":
      return { kind, net: decodeNet(bytes, file) };
    case "Dataset":
      return { kind, dataset: decodeDataset(bytes, file) };
    case "Metrics": {
      const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as { accuracy: number; loss: number };
      return { kind, metrics: { accuracy: m.accuracy, loss: m.loss } };
    }
    case "Number":
      return { kind, value: (JSON.parse(Buffer.from(bytes).toString("utf8")) as { value: number }).value };
  }
}

function json(value: unknown): Uint8Array {
  return Buffer.from(`${JSON.stringify(value)}\n`);
}

/** A layer in the file's metadata: its shape and which optional tensors it has. */
type StoredLayer = LayerShape & { bias: boolean; norm: boolean; channels: boolean };

function encodeNet(net: NetValue): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  const f32 = (data: Float32Array, shape: number[]): Tensor => ({ dtype: "F32", shape, data });
  for (const l of net.layers) {
    const shape = l.kind === "conv" ? [l.outputs, l.inputs, l.kernel, l.kernel] : [l.outputs, l.inputs];
    tensors[`${l.name}.weight`] = f32(l.weight, shape);
    tensors[`${l.name}.weight_mask`] = { dtype: "BOOL", shape, data: l.mask };
    if (l.bias) tensors[`${l.name}.bias`] = f32(l.bias, [l.outputs]);
    if (l.norm) {
      tensors[`${l.name}.bn.weight`] = f32(l.norm.gamma, [l.outputs]);
      tensors[`${l.name}.bn.bias`] = f32(l.norm.beta, [l.outputs]);
      tensors[`${l.name}.bn.running_mean`] = f32(l.norm.mean, [l.outputs]);
      tensors[`${l.name}.bn.running_var`] = f32(l.norm.variance, [l.outputs]);
    }
    if (l.channels) tensors[`${l.name}.channel_mask`] = { dtype: "BOOL", shape: [l.outputs], data: l.channels };
  }
  const layers: StoredLayer[] = net.layers.map((l) => ({
    ...layerShape(l),
    bias: l.bias !== undefined,
    norm: l.norm !== undefined,
    channels: l.channels !== undefined,
  }));
  return encodeSafetensors(tensors, {
    format: "lth.net/1",
    arch: canonicalJson(net.arch),
    scheme: net.scheme,
    input_shape: JSON.stringify(net.inputShape),
    classes: String(net.classes),
    head: net.head,
    layers: JSON.stringify(layers),
    init: net.init,
    steps: String(net.steps),
    history: JSON.stringify(net.history),
    ...(net.measured ? { measured: JSON.stringify(net.measured) } : {}),
    ...(net.earlybird ? { earlybird: JSON.stringify(net.earlybird) } : {}),
    ...(net.greedy ? { greedy: JSON.stringify(net.greedy) } : {}),
    ...(net.loft ? { loft: JSON.stringify(net.loft) } : {}),
  });
}

function decodeNet(bytes: Uint8Array, file: string): NetValue {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata["format"] !== "lth.net/1") throw new ArtifactFormatError(`${file}: not an lth net (format ${metadata["format"] ?? "absent"})`);
  const shapes = JSON.parse(metadata["layers"] ?? "[]") as StoredLayer[];
  const layers = shapes.map((s): Layer => {
    const get = (suffix: string) => {
      const t = tensors.get(`${s.name}.${suffix}`);
      if (!t) throw new ArtifactFormatError(`${file}: no tensor ${s.name}.${suffix}`);
      return t.data;
    };
    return {
      ...layerShape(s),
      weight: get("weight") as Float32Array,
      mask: get("weight_mask") as Uint8Array,
      ...(s.bias ? { bias: get("bias") as Float32Array } : {}),
      ...(s.norm
        ? {
            norm: {
              gamma: get("bn.weight") as Float32Array,
              beta: get("bn.bias") as Float32Array,
              mean: get("bn.running_mean") as Float32Array,
              variance: get("bn.running_var") as Float32Array,
            },
          }
        : {}),
      ...(s.channels ? { channels: get("channel_mask") as Uint8Array } : {}),
    };
  });
  const earlybird = metadata["earlybird"];
  const greedy = metadata["greedy"];
  const loft = metadata["loft"];
  const measured = metadata["measured"];
  return {
    arch: JSON.parse(metadata["arch"] ?? "null") as ParamValue,
    scheme: metadata["scheme"] === "he" ? "he" : "glorot",
    inputShape: JSON.parse(metadata["input_shape"] ?? "[]") as number[],
    classes: Number(metadata["classes"]),
    head: metadata["head"] === "average" ? "average" : "flatten",
    layers,
    init: metadata["init"] ?? "",
    steps: Number(metadata["steps"] ?? 0),
    history: JSON.parse(metadata["history"] ?? "[]") as HistoryPoint[],
    ...(measured ? { measured: JSON.parse(measured) as Measurement } : {}),
    ...(earlybird ? { earlybird: JSON.parse(earlybird) as EarlyBird } : {}),
    ...(greedy ? { greedy: JSON.parse(greedy) as GreedySelection } : {}),
    ...(loft ? { loft: JSON.parse(loft) as LoftRecord } : {}),
  };
}

function encodeDataset(d: DatasetValue): Uint8Array {
  const features = d.inputShape.reduce((a, b) => a * b, 1);
  const tensors: Record<string, Tensor> = {};
  for (const [name, split] of [["train", d.train], ["test", d.test]] as const) {
    tensors[`${name}.x`] = split.x instanceof Uint8Array ? { dtype: "U8", shape: [split.n, ...d.inputShape], data: split.x } : { dtype: "F32", shape: [split.n, features], data: split.x };
    tensors[`${name}.y`] = { dtype: "I32", shape: [split.n], data: split.y };
  }
  return encodeSafetensors(tensors, {
    format: "lth.dataset/1",
    name: d.name,
    input_shape: JSON.stringify(d.inputShape),
    classes: String(d.classes),
    scale: String(d.scale),
    mean: JSON.stringify(d.mean),
    std: JSON.stringify(d.std),
  });
}

function decodeDataset(bytes: Uint8Array, file: string): DatasetValue {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata["format"] !== "lth.dataset/1") throw new ArtifactFormatError(`${file}: not an lth dataset`);
  const split = (name: string): Split => {
    const x = tensors.get(`${name}.x`);
    const y = tensors.get(`${name}.y`);
    if (!x || !y) throw new ArtifactFormatError(`${file}: no ${name} split`);
    return { n: y.shape[0] ?? 0, x: x.data as Uint8Array | Float32Array, y: y.data as Int32Array };
  };
  return {
    name: metadata["name"] ?? "",
    inputShape: JSON.parse(metadata["input_shape"] ?? "[]") as number[],
    classes: Number(metadata["classes"]),
    scale: Number(metadata["scale"]),
    mean: JSON.parse(metadata["mean"] ?? "[0]") as number[],
    std: JSON.parse(metadata["std"] ?? "[1]") as number[],
    train: split("train"),
    test: split("test"),
  };
}

/** Weights of every conv and dense layer, alive and total: what `show` lists. */
export function sparsity(net: NetValue): { name: string; kind: Layer["kind"]; total: number; remaining: number }[] {
  return net.layers.map((l) => {
    let remaining = 0;
    for (let i = 0; i < l.mask.length; i++) remaining += l.mask[i]!;
    return { name: l.name, kind: l.kind, total: l.mask.length, remaining };
  });
}

/** SHA-256 of every parameter of the net (weights, masks, biases, batch norm, channel masks), layer by layer. */
export function parametersDigest(net: Pick<NetValue, "layers">): string {
  const hash = createHash("sha256");
  const add = (name: string, a: Float32Array | Uint8Array | undefined) => {
    hash.update(`${name}:${a ? a.length : -1};`);
    if (a) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  };
  for (const l of net.layers) {
    add(`${l.name}.weight`, l.weight);
    add(`${l.name}.mask`, l.mask);
    add(`${l.name}.bias`, l.bias);
    add(`${l.name}.gamma`, l.norm?.gamma);
    add(`${l.name}.beta`, l.norm?.beta);
    add(`${l.name}.mean`, l.norm?.mean);
    add(`${l.name}.variance`, l.norm?.variance);
    add(`${l.name}.channels`, l.channels);
  }
  return hash.digest("hex");
}

/** The net with `m` recorded as the measurement of its parameters as they are now. */
export function withMeasurement(net: NetValue, m: { readonly accuracy: number; readonly loss: number }): NetValue {
  return { ...net, measured: { accuracy: m.accuracy, loss: m.loss, parameters: parametersDigest(net) } };
}

/**
 * The test accuracy and loss measured on exactly these parameters, or undefined: a net that
 * was pruned, rewound or reinitialised after its last measurement has none, whatever it inherited.
 */
export function measurement(net: NetValue): { readonly accuracy: number; readonly loss: number } | undefined {
  const m = net.measured;
  return m && m.parameters === parametersDigest(net) ? { accuracy: m.accuracy, loss: m.loss } : undefined;
}
