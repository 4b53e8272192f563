// What a net costs to hold and to train, counted from its layers' shapes: parameters,
// activation memory of one batch, and multiply-adds of a forward pass and of a training step.
// Counts are of the dense arithmetic the engine does (a masked weight is still multiplied).

import { liveMask, type Layer, type NetValue } from "./net.js";

/** One layer's (or a whole net's) cost. */
export interface Cost {
  /** Trainable parameters held: weights, biases, batch-norm scales and shifts. */
  readonly weights: number;
  /**
   * Bytes of the activations one training batch keeps for the backward pass, in float32: the
   * layer's output (and its pooled output); for a whole net, also the input batch.
   */
  readonly activationBytes: number;
  /**
   * Multiply-adds of one training step on one batch: the forward pass, and backward the
   * gradient of the weights and (for every layer but the first) of the layer's input, each as
   * many as the forward pass.
   */
  readonly flopsPerStep: number;
}

export interface NetCost extends Cost {
  /** Multiply-adds of one forward pass of one example. */
  readonly forward: number;
  /** Per layer, by name, in order. */
  readonly layers: readonly ({ readonly name: string; readonly forward: number } & Cost)[];
}

const FLOAT = 4;

/** A count as people read it: `950`, `1.2 K`, `3.45 M`, `1.02 G`. */
export function countText(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)} G` : n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} K` : `${Math.round(n)}`;
}

/** Output side of a conv of `kernel` and `stride` on a side of `n`: PyTorch's padding (k−1)/2, "same" at stride 1. */
function convSide(n: number, kernel: number, stride: number): number {
  if (stride === 1) return n;
  const pad = kernel === 1 ? 0 : (kernel - 1) / 2;
  return Math.floor((n + 2 * pad - kernel) / stride) + 1;
}

/** The cost of `net`'s layers (shapes only) for inputs of `inputShape`, trained in batches of `batch`. */
export function netCost(net: Pick<NetValue, "inputShape"> & { readonly layers: readonly Pick<Layer, "name" | "kind" | "inputs" | "outputs" | "kernel" | "pool" | "stride" | "residual" | "shortcut" | "bias" | "norm">[] }, batch: number): NetCost {
  const spatial = net.layers[0]?.kind === "conv";
  let [height, width] = spatial ? [net.inputShape[0]!, net.inputShape[1]!] : [1, 1];
  // The side a projection shortcut writes: its block's closing conv's output, just before it.
  let closing: [number, number] = [height, width];
  const layers = net.layers.map((l, i) => {
    const params = l.outputs * l.inputs * l.kernel * l.kernel + (l.bias ? l.outputs : 0) + (l.norm ? 2 * l.outputs : 0);
    let forward: number;
    let outputs: number;
    if (l.kind === "conv") {
      if (l.shortcut) {
        const [h, w] = closing;
        forward = h * w * l.outputs * l.inputs * l.kernel * l.kernel;
        outputs = h * w * l.outputs;
      } else {
        const stride = l.stride ?? 1;
        const [h, w] = [convSide(height, l.kernel, stride), convSide(width, l.kernel, stride)];
        forward = h * w * l.outputs * l.inputs * l.kernel * l.kernel;
        outputs = h * w * l.outputs;
        closing = [h, w];
        [height, width] = [h, w];
        if (l.pool) {
          [height, width] = [Math.floor(h / 2), Math.floor(w / 2)];
          outputs += height * width * l.outputs;
        }
      }
    } else {
      forward = l.inputs * l.outputs;
      outputs = l.outputs;
    }
    return {
      name: l.name,
      forward,
      weights: params,
      activationBytes: outputs * batch * FLOAT,
      flopsPerStep: batch * forward * (i === 0 ? 2 : 3),
    };
  });
  const inputBytes = net.inputShape.reduce((a, b) => a * b, 1) * batch * FLOAT;
  const sum = (f: (c: Cost & { forward: number }) => number) => layers.reduce((s, c) => s + f(c), 0);
  return {
    weights: sum((c) => c.weights),
    activationBytes: inputBytes + sum((c) => c.activationBytes),
    flopsPerStep: sum((c) => c.flopsPerStep),
    forward: sum((c) => c.forward),
    layers,
  };
}

/**
 * Multiply-adds of one forward pass of one example: `total` of the dense net, `remaining`
 * counting only the weights still in use: alive under the mask and the layer's channel mask,
 * and reading an input channel the layer before kept (a conv after a conv, or the first dense
 * layer after the convs: its inputs are the channels flattened, or averaged over space). A
 * pruned net's `remaining` is what a sparse kernel would compute; `compact` makes a
 * channel-pruned net's dense arithmetic that small.
 */
export function netFlops(net: Pick<NetValue, "inputShape" | "layers" | "head">): { total: number; remaining: number } {
  const cost = netCost(net, 1);
  let remaining = 0;
  net.layers.forEach((l, i) => {
    const weights = l.outputs * l.inputs * l.kernel * l.kernel;
    const positions = cost.layers[i]!.forward / weights;
    const live = liveMask(l);
    // The channels of the layer this one reads (a chain's; a shortcut reads its block's input, which is not followed here).
    const before = i > 0 && !l.shortcut ? net.layers[i - 1] : undefined;
    const fed = before?.kind === "conv" && before.channels && !before.shortcut ? before.channels : undefined;
    const perInput = l.kernel * l.kernel;
    // Inputs per channel of the layer before: 1 for a conv, the spatial positions for a flattened dense input.
    const spread = fed ? l.inputs / fed.length : 1;
    let used = 0;
    for (let j = 0; j < weights; j++) {
      if (!live[j]) continue;
      if (fed) {
        const input = Math.floor(j / perInput) % l.inputs;
        if (!fed[Math.floor(input / spread)]) continue;
      }
      used++;
    }
    remaining += used * positions;
  });
  return { total: cost.forward, remaining };
}
