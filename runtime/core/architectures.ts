// Architectures as layer plans: what `init` builds from an `{ arch: … }` parameter and the
// dataset's input shape. Frankle & Carbin's Conv-2/4/6 and VGG-11/13/16 as in OpenLTH and
// network slimming (Liu et al., 2017), the code Early-Bird tickets build on.

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
  if (a.arch === "mlp" || (a.arch !== undefined && a.arch in CONVNETS)) return undefined;
  if (a.arch === "vgg" && VGG[a.depth ?? 0]) return undefined;
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
