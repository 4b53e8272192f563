// Architectures as layer plans: what `init` builds from an `{ arch: … }` parameter and the
// dataset's input shape. Frankle & Carbin's Conv-2/4/6 and VGG-11/13/16 as in OpenLTH and
// network slimming (Liu et al., 2017), the code Early-Bird tickets build on; OpenLTH's
// cifar_resnet_D_W (He et al., 2016), the nets of Frankle et al.'s rewinding papers.

import type { ParamValue } from "../../compiler/stage.js";
import type { LayerShape } from "./net.js";

export type LayerPlan = LayerShape & { readonly batchnorm: boolean };

export interface NetPlan {
  readonly layers: readonly LayerPlan[];
  readonly head: "flatten" | "average";
}

const CONVNETS: Record<string, readonly number[]> = {
  conv2: [64, 64],
  conv4: [64, 64, 128, 128],
  conv6: [64, 64, 128, 128, 256, 256],
};

/**
 * Channel counts, with "M" for a 2×2 max pool (OpenLTH's `cifar_vgg`, whose last block is
 * followed by a 2×2 average pool instead: the "average" head, which on 32×32 images reads a
 * 2×2 map).
 */
const VGG: Record<number, readonly (number | "M")[]> = {
  11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
  13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512],
  16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512],
};

/** Architectures `init` can build; anything else is refused before a run starts. */
export function knownArch(arch: ParamValue | undefined): string | undefined {
  const a = (arch ?? {}) as { arch?: string; depth?: number };
  if (a.arch === "mlp" || a.arch === "linear" || (a.arch !== undefined && a.arch in CONVNETS)) return undefined;
  if (a.arch === "vgg" && VGG[a.depth ?? 0]) return undefined;
  if (a.arch === "resnet") {
    const depth = a.depth ?? 20;
    if (depth >= 8 && (depth - 2) % 6 === 0) return undefined;
    return `resnet depth ${depth} is not 6n + 2 (20, 32, 44, 56, 110)`;
  }
  return `architecture '${a.arch ?? "?"}' is not one lth can build`;
}

const scaled = (channels: number, width: number) => Math.max(1, Math.round(channels * width));

/**
 * The layers of `arch` for inputs of `inputShape` and `classes` outputs, or why it cannot be
 * built. A pool that would shrink a feature map below 1×1 is left out, so the same
 * architecture runs on 28×28 digits and 32×32 CIFAR images.
 */
export function planNet(arch: ParamValue, inputShape: readonly number[], classes: number): NetPlan | { problem: string } {
  const plan = layersOf(arch, inputShape, classes);
  if ("problem" in plan) return plan;
  // Checked before a single weight is allocated: each weight costs 4 bytes, its mask 1, and training 3 to 4 copies more.
  const weights = plan.layers.reduce((n, l) => n + l.outputs * l.inputs * l.kernel * l.kernel, 0);
  if (weights > MAX_WEIGHTS) {
    return { problem: `this net would have ${weights.toLocaleString("en")} weights (${((weights * 4) / 2 ** 30).toFixed(1)} GiB as float32), more than lth's limit of ${MAX_WEIGHTS.toLocaleString("en")}` };
  }
  return plan;
}

/** Weights one net may have: about 1 GiB of float32, several times any network of the papers lth reproduces (VGG-19: 20M). */
export const MAX_WEIGHTS = 250_000_000;

function layersOf(arch: ParamValue, inputShape: readonly number[], classes: number): NetPlan | { problem: string } {
  const a = arch as { arch: string; hidden?: number[]; width?: number; depth?: number; batchnorm?: boolean };
  if (a.arch === "mlp") {
    const widths = [inputShape.reduce((x, y) => x * y, 1), ...(a.hidden ?? []), classes];
    return { head: "flatten", layers: dense(widths) };
  }
  if (a.arch === "linear") {
    // No hidden layer: one output for a regression target or two classes (the logistic loss), else one per class (softmax).
    return { head: "flatten", layers: dense([inputShape.reduce((x, y) => x * y, 1), classes <= 2 ? 1 : classes]) };
  }
  if (inputShape.length !== 3) {
    return { problem: `${a.arch} needs images (height × width × channels), but this dataset's examples are ${inputShape.join(" × ")} features` };
  }
  let [height, width, channels] = inputShape as [number, number, number];
  const layers: LayerPlan[] = [];
  const conv = (outputs: number, batchnorm: boolean) => {
    layers.push({ name: `conv${layers.length + 1}`, kind: "conv", inputs: channels, outputs, kernel: 3, activation: "relu", pool: false, batchnorm });
    channels = outputs;
  };
  const pool = () => {
    if (height < 2 || width < 2) return;
    const last = layers[layers.length - 1]!;
    layers[layers.length - 1] = { ...last, pool: true };
    height = Math.floor(height / 2);
    width = Math.floor(width / 2);
  };
  if (a.arch === "resnet") return resnet(a.depth ?? 20, a.width ?? 16, [height, width, channels], classes);
  if (a.arch in CONVNETS) {
    CONVNETS[a.arch]!.forEach((c, i) => {
      conv(scaled(c, a.width ?? 1), false);
      if (i % 2 === 1) pool();
    });
    return { head: "flatten", layers: [...layers, ...dense([channels * height * width, 256, 256, classes])] };
  }
  for (const item of VGG[a.depth ?? 11]!) {
    if (item === "M") pool();
    else conv(scaled(item, a.width ?? 1), a.batchnorm ?? true);
  }
  return { head: "average", layers: [...layers, ...dense([channels, classes])] };
}

/**
 * OpenLTH's `cifar_resnet_D_W`, layer by layer in the order of its state dict: `conv` (3×3,
 * W channels), then per stage s = 0, 1, 2 and block b, `blocks.i.conv1` and `blocks.i.conv2`
 * (3×3, W·2^s channels, the first of stages 1 and 2 with stride 2) and, where the block
 * changes shape, `blocks.i.shortcut` (1×1, stride 2); batch norm after each conv, no conv
 * bias; global average pooling and `fc`.
 */
function resnet(depth: number, w: number, inputShape: readonly [number, number, number], classes: number): NetPlan | { problem: string } {
  const perStage = (depth - 2) / 6;
  if (!Number.isInteger(perStage) || perStage < 1) return { problem: `resnet depth ${depth} is not 6n + 2 (20, 32, 44, 56, 110)` };
  let [height, width, channels] = inputShape;
  const layers: LayerPlan[] = [];
  const conv = (name: string, outputs: number, kernel: number, stride: number, extra: Partial<LayerPlan> = {}, inputs = channels): void => {
    layers.push({ name, kind: "conv", inputs, outputs, kernel, activation: "relu", pool: false, batchnorm: true, ...(stride !== 1 ? { stride } : {}), ...extra });
  };
  conv("conv", w, 3, 1);
  channels = w;
  let block = 0;
  for (let stage = 0; stage < 3; stage++) {
    const outputs = w * 2 ** stage;
    for (let b = 0; b < perStage; b++, block++) {
      const stride = stage > 0 && b === 0 ? 2 : 1;
      const projection = stride !== 1 || outputs !== channels;
      const input = channels;
      conv(`blocks.${block}.conv1`, outputs, 3, stride);
      conv(`blocks.${block}.conv2`, outputs, 3, 1, { residual: projection ? "projection" : "identity" }, outputs);
      if (projection) conv(`blocks.${block}.shortcut`, outputs, 1, stride, { activation: "none", shortcut: true }, input);
      channels = outputs;
      if (stride === 2) {
        if (height < 2 || width < 2) return { problem: `resnet halves the feature map twice, and these ${inputShape[0]}×${inputShape[1]} inputs are too small for that` };
        height = Math.floor((height - 1) / 2) + 1;
        width = Math.floor((width - 1) / 2) + 1;
      }
    }
  }
  return { head: "average", layers: [...layers, ...dense([channels, classes]).map((l) => ({ ...l, name: "fc" }))] };
}

function dense(widths: readonly number[]): LayerPlan[] {
  return widths.slice(1).map((outputs, i) => ({
    name: `fc${i + 1}`,
    kind: "dense" as const,
    inputs: widths[i]!,
    outputs,
    kernel: 1,
    activation: i + 2 < widths.length ? ("relu" as const) : ("none" as const),
    pool: false,
    batchnorm: false,
  }));
}
