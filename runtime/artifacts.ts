// The values stages pass each other, and their bytes in the store. Nets and datasets are
// safetensors files that PyTorch loads as they are (`safetensors.torch.load_file`): a dense
// layer's weight is [out, in] like `nn.Linear`'s, its mask a BOOL `weight_mask` beside it.

import type { ParamValue, ResultKind } from "../compiler/stage.js";
import { canonicalJson } from "./key.js";
import type { ArtifactExt } from "./store/store.js";
import { decodeSafetensors, encodeSafetensors, type Tensor } from "./store/safetensors.js";
import { ArtifactFormatError } from "./core/errors.js";
import type { DatasetValue, MetricsValue, Split } from "./core/dataset.js";
import { layerShape, type EarlyStop, type HistoryPoint, type Layer, type LayerShape, type Measurement, type MethodRecords, type NetValue } from "./core/net.js";


export type Artifact =
  | { readonly kind: "Net"; readonly net: NetValue }
  | { readonly kind: "Dataset"; readonly dataset: DatasetValue }
  | { readonly kind: "Metrics"; readonly metrics: MetricsValue }
  | { readonly kind: "Number"; readonly value: number };

export const EXTENSION: Record<ResultKind, ArtifactExt> = { Net: "safetensors", Dataset: "safetensors", Metrics: "json", Number: "json" };

export { ArtifactFormatError };

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

/** The metadata fields of every net file; any other field is a method's record, by the method's name. */
const NET_FIELDS: ReadonlySet<string> = new Set(["format", "arch", "scheme", "input_shape", "classes", "head", "layers", "init", "steps", "history", "measured", "early_stop"]);

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
    ...(net.earlyStop ? { early_stop: JSON.stringify(net.earlyStop) } : {}),
    // Each method's record under its own name: the codec knows none of them.
    ...Object.fromEntries(Object.entries(net.records ?? {}).map(([name, record]) => {
      if (NET_FIELDS.has(name)) throw new Error(`internal: a method record cannot be named '${name}', a field of every net`);
      return [name, JSON.stringify(record)];
    })),
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
  const measured = metadata["measured"];
  const earlyStop = metadata["early_stop"];
  const records = Object.entries(metadata).filter(([name]) => !NET_FIELDS.has(name));
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
    ...(earlyStop ? { earlyStop: JSON.parse(earlyStop) as EarlyStop } : {}),
    ...(records.length ? { records: Object.fromEntries(records.map(([name, json]) => [name, JSON.parse(json) as unknown])) as Partial<MethodRecords> } : {}),
  };
}

function encodeDataset(d: DatasetValue): Uint8Array {
  const features = d.inputShape.reduce((a, b) => a * b, 1);
  const tensors: Record<string, Tensor> = {};
  // The validation split only when there is one: a dataset without it has the bytes it always had.
  const splits: [string, Split][] = [["train", d.train], ["test", d.test], ...(d.validation ? [["validation", d.validation] as [string, Split]] : [])];
  for (const [name, split] of splits) {
    tensors[`${name}.x`] = split.x instanceof Uint8Array ? { dtype: "U8", shape: [split.n, ...d.inputShape], data: split.x } : { dtype: "F32", shape: [split.n, features], data: split.x };
    tensors[`${name}.y`] = { dtype: "I32", shape: [split.y.length], data: split.y };
    if (split.y2) tensors[`${name}.y2`] = { dtype: "I32", shape: [split.n], data: split.y2 };
    if (split.targets) tensors[`${name}.targets`] = { dtype: "F32", shape: [split.n], data: split.targets };
  }
  // A planted problem's truth, only where there is one: other datasets keep the bytes they always had.
  if (d.truth) {
    tensors["truth.weights"] = { dtype: "F32", shape: [d.truth.weights.length], data: d.truth.weights };
    tensors["truth.support"] = { dtype: "I32", shape: [d.truth.support.length], data: d.truth.support };
  }
  return encodeSafetensors(tensors, {
    format: "lth.dataset/1",
    name: d.name,
    input_shape: JSON.stringify(d.inputShape),
    classes: String(d.classes),
    scale: String(d.scale),
    mean: JSON.stringify(d.mean),
    std: JSON.stringify(d.std),
    ...(d.task ? { task: d.task } : {}),
  });
}

function decodeDataset(bytes: Uint8Array, file: string): DatasetValue {
  const { tensors, metadata } = decodeSafetensors(bytes, file);
  if (metadata["format"] !== "lth.dataset/1") throw new ArtifactFormatError(`${file}: not an lth dataset`);
  const split = (name: string): Split => {
    const x = tensors.get(`${name}.x`);
    const y = tensors.get(`${name}.y`);
    if (!x || !y) throw new ArtifactFormatError(`${file}: no ${name} split`);
    const y2 = tensors.get(`${name}.y2`);
    const targets = tensors.get(`${name}.targets`);
    return {
      n: x.shape[0] ?? 0,
      x: x.data as Uint8Array | Float32Array,
      y: y.data as Int32Array,
      ...(y2 ? { y2: y2.data as Int32Array } : {}),
      ...(targets ? { targets: targets.data as Float32Array } : {}),
    };
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
    ...(tensors.has("validation.y") || tensors.has("validation.x") ? { validation: split("validation") } : {}),
    ...(metadata["task"] === "regression" ? { task: "regression" as const } : {}),
    ...(tensors.has("truth.weights") && tensors.has("truth.support")
      ? { truth: { weights: tensors.get("truth.weights")!.data as Float32Array, support: tensors.get("truth.support")!.data as Int32Array } }
      : {}),
  };
}
