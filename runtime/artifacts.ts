// The values stages pass each other, and their bytes in the store. Nets and datasets are
// safetensors files that PyTorch loads as they are (`safetensors.torch.load_file`): a dense
// layer's weight is [out, in] like `nn.Linear`'s, its mask a BOOL `weight_mask` beside it.

import type { ParamValue, ResultKind } from "../compiler/stage.js";
import { canonicalJson } from "./key.js";
import type { ArtifactExt } from "./store/store.js";
import { decodeSafetensors, encodeSafetensors, type Tensor } from "./store/safetensors.js";

/** One fully connected layer. Weights are row-major [outputs, inputs]. */
export interface DenseLayer {
  readonly name: string;
  readonly inputs: number;
  readonly outputs: number;
  readonly activation: "relu" | "none";
  readonly weight: Float32Array;
  readonly bias: Float32Array;
  /** 1 where the weight is alive; a pruned weight is exactly 0 in `weight` too. */
  readonly mask: Uint8Array;
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

export interface NetValue {
  readonly arch: ParamValue;
  /** How the initial weights were drawn; `reinit` draws the same way. */
  readonly scheme: "glorot" | "he";
  readonly inputShape: readonly number[];
  readonly classes: number;
  readonly layers: readonly DenseLayer[];
  /** The identity of the initialisation these weights descend from; `rewind` requires equal ones. */
  readonly init: string;
  /** Training steps the weights have seen since that initialisation. */
  readonly steps: number;
  readonly history: readonly HistoryPoint[];
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

function encodeNet(net: NetValue): Uint8Array {
  const tensors: Record<string, Tensor> = {};
  for (const l of net.layers) {
    tensors[`${l.name}.weight`] = { dtype: "F32", shape: [l.outputs, l.inputs], data: l.weight };
    tensors[`${l.name}.bias`] = { dtype: "F32", shape: [l.outputs], data: l.bias };
    tensors[`${l.name}.weight_mask`] = { dtype: "BOOL", shape: [l.outputs, l.inputs], data: l.mask };
  }
  return encodeSafetensors(tensors, {
    format: "lth.net/1",
    arch: canonicalJson(net.arch),
    scheme: net.scheme,
    input_shape: JSON.stringify(net.inputShape),
    classes: String(net.classes),
    layers: JSON.stringify(net.layers.map((l) => ({ name: l.name, kind: "dense", inputs: l.inputs, outputs: l.outputs, activation: l.activation }))),
    init: net.init,
    steps: String(net.steps),
    history: JSON.stringify(net.history),
  });
}

function decodeNet(bytes: Uint8Array, file: string): NetValue {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata["format"] !== "lth.net/1") throw new ArtifactFormatError(`${file}: not an lth net (format ${metadata["format"] ?? "absent"})`);
  const shapes = JSON.parse(metadata["layers"] ?? "[]") as { name: string; inputs: number; outputs: number; activation: "relu" | "none" }[];
  const layers = shapes.map((s): DenseLayer => {
    const get = (suffix: string): Tensor => {
      const t = tensors.get(`${s.name}.${suffix}`);
      if (!t) throw new ArtifactFormatError(`${file}: no tensor ${s.name}.${suffix}`);
      return t;
    };
    return { ...s, weight: get("weight").data as Float32Array, bias: get("bias").data as Float32Array, mask: get("weight_mask").data as Uint8Array };
  });
  return {
    arch: JSON.parse(metadata["arch"] ?? "null") as ParamValue,
    scheme: metadata["scheme"] === "he" ? "he" : "glorot",
    inputShape: JSON.parse(metadata["input_shape"] ?? "[]") as number[],
    classes: Number(metadata["classes"]),
    layers,
    init: metadata["init"] ?? "",
    steps: Number(metadata["steps"] ?? 0),
    history: JSON.parse(metadata["history"] ?? "[]") as HistoryPoint[],
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
    train: split("train"),
    test: split("test"),
  };
}

/** Weights of every layer, alive and total: what `show` lists. */
export function sparsity(net: NetValue): { name: string; total: number; remaining: number }[] {
  return net.layers.map((l) => {
    let remaining = 0;
    for (let i = 0; i < l.mask.length; i++) remaining += l.mask[i]!;
    return { name: l.name, total: l.mask.length, remaining };
  });
}
