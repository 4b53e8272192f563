// A net as the stages pass it: layers of weights in PyTorch's layouts with their masks, where
// its weights come from, what it was measured at, and the records the methods that made it
// left. Plain typed arrays: every op that only moves weights and masks gives the same bytes
// on every backend.

import { createHash } from "node:crypto";
import type { ParamValue } from "../../compiler/stage.js";
import { OpFailure } from "./errors.js";

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
 *
 * A ResNet's layers add three fields: `stride` (2 where a stage halves the map; a 3×3 conv
 * then pads 1 on every side, as PyTorch's `padding=1`), `residual` on the second conv of a
 * block (its batch-normed output is added to the block's input, or to the output of the 1×1
 * `shortcut` layer that follows it, before the ReLU), and `shortcut` on that 1×1 projection,
 * which reads the block's input rather than the layer before it.
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
  /** 1 when absent. */
  readonly stride?: number;
  /** The last conv of a residual block: identity shortcut, or the projection layer that follows. */
  readonly residual?: "identity" | "projection";
  /** A residual block's 1×1 projection shortcut (reads the block's input). */
  readonly shortcut?: boolean;
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
export type LayerShape = Pick<Layer, "name" | "kind" | "inputs" | "outputs" | "kernel" | "activation" | "pool" | "stride" | "residual" | "shortcut">;

/** The shape fields; a ResNet's fields only where a layer has them, so other nets' files stay byte for byte. */
export function layerShape(l: LayerShape): LayerShape {
  return {
    name: l.name,
    kind: l.kind,
    inputs: l.inputs,
    outputs: l.outputs,
    kernel: l.kernel,
    activation: l.activation,
    pool: l.pool,
    ...(l.stride !== undefined && l.stride !== 1 ? { stride: l.stride } : {}),
    ...(l.residual ? { residual: l.residual } : {}),
    ...(l.shortcut ? { shortcut: true } : {}),
  };
}

/** Whether the layers form a chain (each reads the one before), which some methods need: not a ResNet's. */
export function isChain(layers: readonly Pick<LayerShape, "residual" | "shortcut">[]): boolean {
  return layers.every((l) => !l.residual && !l.shortcut);
}

/** The net's architecture as the language writes it: `resnet(depth: 20, width: 16)`. */
export function describeArch(net: Pick<NetValue, "arch">): string {
  const { arch, ...params } = (net.arch ?? {}) as Record<string, unknown>;
  const args = Object.entries(params).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  return `${String(arch ?? "?")}(${args.join(", ")})`;
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
  /** Loss and accuracy on the dataset's validation split, when it has one. */
  readonly validationLoss?: number;
  readonly validationAccuracy?: number;
}

/**
 * The early-stopping point of the training that made a net (OpenLTH's convention): the
 * evaluation with the lowest validation loss, its step, and the test accuracy there. Like a
 * measurement it belongs to the parameters training ended with (`parameters`, their digest):
 * a net pruned or rewound afterwards has none.
 */
export interface EarlyStop {
  readonly step: number;
  readonly epoch: number;
  readonly validationLoss: number;
  readonly validationAccuracy: number;
  readonly testAccuracy: number;
  readonly testLoss: number;
  readonly parameters: string;
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

/**
 * What the methods that made a net recorded about it, by method name (`earlybird`,
 * `greedy`, `loft`, …). Each method module adds its own entry to this interface and
 * describes the record (codec, printer) in `methods/records.ts`; the net's file stores each
 * record as JSON under its name, so the codec, `show` and the report need no edit for a new one.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface MethodRecords {}

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
  /** Where validation loss was lowest in the training that made these parameters (`earlyStopOf`). */
  readonly earlyStop?: EarlyStop;
  /** Records of the methods that made this net; absent when none left one. */
  readonly records?: Readonly<Partial<MethodRecords>>;
}

/** The net with one method record set (or replacing the one of that name). */
export function withRecord<K extends keyof MethodRecords>(net: NetValue, name: K, record: MethodRecords[K]): NetValue {
  return { ...net, records: { ...net.records, [name]: record } };
}

/** Weights of every conv and dense layer, alive and total: what `show` lists. */
export function sparsity(net: NetValue): { name: string; kind: Layer["kind"]; total: number; remaining: number }[] {
  return net.layers.map((l) => {
    let remaining = 0;
    for (let i = 0; i < l.mask.length; i++) remaining += l.mask[i]!;
    return { name: l.name, kind: l.kind, total: l.mask.length, remaining };
  });
}

/**
 * A layer's live positions (stored layout): its weight mask AND, when it has one, the mask of
 * the channel each weight's filter belongs to. A fresh array.
 */
export function liveMask(l: Pick<Layer, "mask" | "outputs" | "channels">, mask: Uint8Array = l.mask): Uint8Array {
  const channels = l.channels;
  if (!channels) return Uint8Array.from(mask);
  const filter = mask.length / l.outputs;
  return Uint8Array.from(mask, (m, j) => m & channels[Math.floor(j / filter)]!);
}

/**
 * The layer with its masks in force: pruned weights 0; for a masked channel, its whole
 * filter, its bias and its γ and β 0.
 */
export function masked(l: Layer): Layer {
  const live = liveMask(l);
  const keep = (channel: number) => !l.channels || l.channels[channel] === 1;
  const weight = Float32Array.from(l.weight, (w, j) => (live[j] ? w : 0));
  const perChannel = (xs: Float32Array) => Float32Array.from(xs, (x, c) => (keep(c) ? x : 0));
  return {
    ...l,
    weight,
    ...(l.bias ? { bias: l.channels ? perChannel(l.bias) : l.bias } : {}),
    ...(l.norm && l.channels ? { norm: { ...l.norm, gamma: perChannel(l.norm.gamma), beta: perChannel(l.norm.beta) } } : {}),
  };
}

/** The layer with `channels` as its channel mask, its weight mask and values cut to match (`masked`). */
export function withChannels(l: Layer, channels: Uint8Array): Layer {
  return masked({ ...l, channels, mask: liveMask({ ...l, channels }) });
}

/** The net under new weight masks (and channel masks, by default its own), with the masks in force (`masked`). */
export function withMasks(net: NetValue, masks: readonly Uint8Array[], channels: readonly (Uint8Array | undefined)[] = net.layers.map((l) => l.channels)): NetValue {
  const layers = net.layers.map((l, i) => {
    const c = channels[i];
    const { channels: _dropped, ...rest } = l;
    return masked({ ...rest, mask: masks[i]!, ...(c ? { channels: c } : {}) });
  });
  return { ...net, layers };
}

/** Layers as `name:outputs×inputs[×k×k]`, the way architecture mismatches are reported. */
function shapes(layers: readonly LayerShape[]): string {
  return layers.map((l) => `${l.name}:${l.outputs}x${l.inputs}${l.kind === "conv" ? `x${l.kernel}x${l.kernel}` : ""}${(l.stride ?? 1) !== 1 ? `/${l.stride}` : ""}`).join(" ");
}

/**
 * Why two lists of layers are not the same architecture (`found <a> and <b>`), or undefined
 * when they are: same names, kinds, sizes, kernels, activations and pooling, in order.
 */
export function architectureMismatch(a: readonly LayerShape[], b: readonly LayerShape[]): string | undefined {
  const same =
    a.length === b.length &&
    a.every((la, i) => {
      const lb = b[i]!;
      return (
        la.name === lb.name &&
        la.kind === lb.kind &&
        la.inputs === lb.inputs &&
        la.outputs === lb.outputs &&
        la.kernel === lb.kernel &&
        la.activation === lb.activation &&
        la.pool === lb.pool &&
        (la.stride ?? 1) === (lb.stride ?? 1) &&
        la.residual === lb.residual &&
        (la.shortcut ?? false) === (lb.shortcut ?? false)
      );
    });
  return same ? undefined : `found ${shapes(a)} and ${shapes(b)}`;
}

/** Fails, naming `what` and both architectures, unless the layers are the same architecture. */
export function requireSameArchitecture(a: readonly LayerShape[], b: readonly LayerShape[], what: string): void {
  const mismatch = architectureMismatch(a, b);
  if (mismatch) throw new OpFailure(`${what} needs nets of the same architecture; ${mismatch}`);
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

/** The early-stopping point recorded for exactly these parameters, or undefined (see `EarlyStop`). */
export function earlyStopOf(net: NetValue): Omit<EarlyStop, "parameters"> | undefined {
  const e = net.earlyStop;
  if (!e || e.parameters !== parametersDigest(net)) return undefined;
  const { parameters: _digest, ...rest } = e;
  return rest;
}
