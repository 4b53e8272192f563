// A net on the tensor engine: its parameters as variables (TensorFlow's layouts), the
// forward pass for dense and conv layers with batch norm and pooling, and the way back
// to stored bytes (PyTorch's layouts).

import type * as TF from "@tensorflow/tfjs-core";
import { liveMask, type Layer, type NetValue } from "../core/net.js";
import type { DatasetValue, Split } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";

type Tensor = TF.Tensor;

/**
 * Batch norm as PyTorch's `BatchNorm2d` defaults: running statistics move by `momentum` of the
 * batch's (the variance unbiased), and `epsilon` is added to the variance.
 */
export const BATCH_NORM = { momentum: 0.1, epsilon: 1e-5 } as const;

/**
 * A kernel a backend may register for batch norm in training as one op (normalised output,
 * batch mean, biased batch variance; with its gradient): native's, through oneDNN. Without it
 * the forward pass uses `tf.moments` and `tf.batchNorm`, as on wasm and cpu.
 */
export const BATCH_NORM_TRAINING = "LthBatchNormTraining";

/**
 * A kernel a backend may register for relu(x + bias), the bias over the last axis, with its
 * gradient (native's: one pass each way instead of Add, Relu, and Step, Multiply, Sum). Without
 * it a layer adds its bias and applies ReLU as separate ops.
 */
export const BIAS_RELU = "LthBiasRelu";

/** Stored [out, in, k, k] (PyTorch) → [k, k, in, out] (TensorFlow); a dense layer is k = 1, i.e. [in, out]. */
export function toEngine(src: Float32Array | Uint8Array, l: Pick<Layer, "outputs" | "inputs" | "kernel">): Float32Array {
  const { outputs: o, inputs: n, kernel: k } = l;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < n; b++)
      for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out[((y * k + x) * n + b) * o + a] = src[((a * n + b) * k + y) * k + x]!;
  return out;
}

export function fromEngine(src: Float32Array, l: Pick<Layer, "outputs" | "inputs" | "kernel">): Float32Array {
  const { outputs: o, inputs: n, kernel: k } = l;
  const out = new Float32Array(src.length);
  for (let a = 0; a < o; a++)
    for (let b = 0; b < n; b++)
      for (let y = 0; y < k; y++) for (let x = 0; x < k; x++) out[((a * n + b) * k + y) * k + x] = src[((y * k + x) * n + b) * o + a]!;
  return out;
}

export interface LayerParams {
  /** The stored layer this came from; its mask is the current one after `setMask`. */
  layer: Layer;
  readonly weight: TF.Variable;
  /** The weight mask, with the filters of masked channels zeroed too (replaced by `setMask`). */
  mask: Tensor;
  readonly bias?: TF.Variable;
  readonly gamma?: TF.Variable;
  readonly beta?: TF.Variable;
  /** 1 per kept output channel, when the layer has a channel mask. */
  readonly channels?: Tensor;
  /** Running statistics of batch norm, replaced after every training step. */
  mean?: Tensor;
  variance?: Tensor;
}

/** One trainable variable and the mask its gradient is multiplied by. */
export interface Trainable {
  readonly variable: TF.Variable;
  readonly mask?: Tensor;
  /** Batch-norm scales take `earlybird`'s L1 penalty. */
  readonly scale?: boolean;
}

export class EngineNet {
  readonly params: LayerParams[];
  private readonly tf: typeof TF;

  constructor(
    tf: typeof TF,
    readonly net: NetValue,
    /**
     * Per layer index, a factor its input is multiplied by in the forward pass: a LoFT worker's
     * sub-network reads 1/W of a partitioned layer's channels, scaled back up by W (channels
     * dropped and rescaled, as inverted dropout), so the merged net sees activations at the scale
     * each worker trained at.
     */
    private readonly inputScale?: ReadonlyMap<number, number>,
  ) {
    this.tf = tf;
    // A variable shares its initial tensor's data and adds a reference: the tensor itself must go.
    const variable = (t: Tensor) => {
      const v = tf.variable(t, true);
      t.dispose();
      return v;
    };
    this.params = net.layers.map((l) => {
      const shape = l.kind === "conv" ? [l.kernel, l.kernel, l.inputs, l.outputs] : [l.inputs, l.outputs];
      const mask = liveMask(l);
      const vector = (xs: Float32Array) => variable(tf.tensor1d(xs));
      return {
        layer: l,
        weight: variable(tf.tensor(toEngine(l.weight, l), shape)),
        mask: tf.tensor(toEngine(mask, l), shape),
        ...(l.bias ? { bias: vector(l.bias) } : {}),
        ...(l.norm
          ? { gamma: vector(l.norm.gamma), beta: vector(l.norm.beta), mean: tf.tensor1d(l.norm.mean), variance: tf.tensor1d(l.norm.variance) }
          : {}),
        ...(l.channels ? { channels: tf.tensor1d(Float32Array.from(l.channels)) } : {}),
      };
    });
  }

  /**
   * Trainable variables and their gradient masks. With `dense`, weight gradients are not
   * masked (DPF: the gradient of the sparse model updates the dense weights).
   */
  trainables(dense = false): Trainable[] {
    return this.params.flatMap((p) => [
      // A getter: `setMask` replaces the tensor mid-training, and the optimizer must see the new one.
      dense ? { variable: p.weight } : { variable: p.weight, get mask() { return p.mask; } },
      ...(p.bias ? [{ variable: p.bias, ...(p.channels ? { mask: p.channels } : {}) }] : []),
      ...(p.gamma ? [{ variable: p.gamma, scale: true, ...(p.channels ? { mask: p.channels } : {}) }] : []),
      ...(p.beta ? [{ variable: p.beta, ...(p.channels ? { mask: p.channels } : {}) }] : []),
    ]);
  }

  /**
   * Logits for a batch of flattened examples. In training, batch norm uses the batch's
   * statistics and `updates` receives the new running ones (PyTorch's momentum 0.1,
   * unbiased variance); otherwise it uses the running statistics. `weights`, one per layer
   * in the engine layout, replace the layers' weight variables (a supermask's masked
   * weights, a point between two nets).
   */
  forward(x: Tensor, training: boolean, updates?: { mean: Tensor; variance: Tensor }[], weights?: readonly Tensor[]): Tensor {
    const tf = this.tf;
    const batch = x.shape[0]!;
    let h = x;
    let spatial = this.net.layers[0]?.kind === "conv";
    if (spatial) h = tf.reshape(h, [batch, ...this.net.inputShape]);
    // A ResNet block's input: what the layer before its closing conv (`residual`) read.
    let input = h;
    let blockInput = h;
    for (const [i, p] of this.params.entries()) {
      const l = p.layer;
      const weight = weights?.[i] ?? p.weight;
      if (l.kind === "conv") {
        // A projection shortcut was computed by the conv it closes (below).
        if (l.shortcut) continue;
        blockInput = input;
        input = h;
        const scale = this.inputScale?.get(i);
        let c = this.conv(p, scale !== undefined && scale !== 1 ? tf.mul(h, scale) : h, weight, training, updates);
        if (l.residual) {
          const next = this.params[i + 1];
          const shortcut = l.residual === "projection" ? this.conv(next!, blockInput, weights?.[i + 1] ?? next!.weight, training, updates) : blockInput;
          c = tf.add(c, shortcut);
          h = tf.relu(c);
        } else if (p.gamma) h = l.activation === "relu" ? tf.relu(c) : c;
        else h = this.biasRelu(c, p.bias);
        if (l.pool) h = tf.maxPool(h as TF.Tensor4D, 2, 2, "valid");
        continue;
      }
      if (spatial) {
        // Channel-major flattening, as PyTorch's `x.view(n, -1)` of NCHW, so stored fc weights load there unchanged.
        h = this.net.head === "average" ? tf.mean(h, [1, 2]) : tf.reshape(tf.transpose(h, [0, 3, 1, 2]), [batch, -1]);
        spatial = false;
      }
      // In training, TensorFlow.js runs a fused product with ReLU unfused (to differentiate it); the backend's bias-ReLU kernel does that part in one.
      h =
        training && l.activation === "relu" && this.hasBiasRelu()
          ? this.biasRelu(tf.matMul(h, weight), p.bias)
          : tf.fused.matMul({ a: h as TF.Tensor2D, b: weight as TF.Tensor2D, bias: p.bias!, activation: l.activation === "relu" ? "relu" : "linear" });
    }
    return h;
  }

  /**
   * A conv layer's output before its activation: batch-normed when it has batch norm (in
   * training with the batch's statistics, pushing the new running ones to `updates`), without
   * its bias otherwise (`biasRelu` adds it). A 3×3 conv of stride 2 pads 1 on every side, as
   * PyTorch's `padding=1` (TensorFlow's "same" would pad the bottom and right only).
   */
  private conv(p: LayerParams, h: Tensor, weight: Tensor, training: boolean, updates?: { mean: Tensor; variance: Tensor }[]): Tensor {
    const tf = this.tf;
    const l = p.layer;
    const stride = l.stride ?? 1;
    const pad = stride === 1 ? "same" : l.kernel === 1 ? "valid" : (l.kernel - 1) / 2;
    const c: Tensor = tf.conv2d(h as TF.Tensor4D, weight as TF.Tensor4D, stride, pad);
    if (!p.gamma || !p.beta) return c;
    let mean = p.mean!;
    let variance = p.variance!;
    // Batch norm in training as one kernel where the backend has one (native).
    const fused = training && tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) !== undefined;
    let normalised: Tensor | undefined;
    if (fused) {
      [normalised, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, { x: c, gamma: p.gamma, beta: p.beta }, { epsilon: BATCH_NORM.epsilon }) as unknown as Tensor[] as [Tensor, Tensor, Tensor];
    } else if (training) {
      const moments = tf.moments(c, [0, 1, 2]);
      mean = moments.mean;
      variance = moments.variance;
    }
    if (training && updates) {
      const { momentum } = BATCH_NORM;
      const n = c.size / l.outputs;
      updates.push({
        mean: tf.keep(tf.add(tf.mul(p.mean!, 1 - momentum), tf.mul(mean, momentum))),
        variance: tf.keep(tf.add(tf.mul(p.variance!, 1 - momentum), tf.mul(variance, (momentum * n) / Math.max(1, n - 1)))),
      });
    }
    return normalised ?? tf.batchNorm(c, mean, variance, p.beta, p.gamma, BATCH_NORM.epsilon);
  }

  private hasBiasRelu(): boolean {
    return this.tf.getKernel(BIAS_RELU, this.tf.getBackend()) !== undefined;
  }

  /** relu(x + bias), or relu(x) without a bias; one kernel where the backend has one. */
  private biasRelu(x: Tensor, bias: Tensor | undefined): Tensor {
    const tf = this.tf;
    if (!bias) return tf.relu(x);
    if (this.hasBiasRelu()) return tf.engine().runKernel(BIAS_RELU, { x, bias }, {}) as Tensor;
    return tf.relu(tf.add(x, bias));
  }

  /** Installs new running statistics (from `forward`'s `updates`), freeing the old. */
  setStatistics(updates: readonly { mean: Tensor; variance: Tensor }[]): void {
    let i = 0;
    for (const p of this.params) {
      if (!p.gamma) continue;
      const u = updates[i++]!;
      p.mean!.dispose();
      p.variance!.dispose();
      p.mean = u.mean;
      p.variance = u.variance;
    }
  }

  /** The batch-norm scales of every layer that has them, with their layer's index. */
  scales(): { layer: number; gamma: Float32Array }[] {
    return this.params.flatMap((p, layer) => (p.gamma ? [{ layer, gamma: p.gamma.dataSync() as Float32Array }] : []));
  }

  /**
   * Replaces layer `i`'s weight mask (stored layout, 1 = kept) and zeroes the weights it
   * removes, unless `keepWeights` (DPF keeps the dense weights and masks only the forward pass).
   */
  setMask(i: number, mask: Uint8Array, keepWeights = false): void {
    const tf = this.tf;
    const p = this.params[i]!;
    const l = p.layer;
    const effective = liveMask(l, mask);
    p.mask.dispose();
    p.mask = tf.tensor(toEngine(effective, l), p.weight.shape);
    p.layer = { ...l, mask: Uint8Array.from(mask) };
    if (!keepWeights) tf.tidy(() => p.weight.assign(tf.mul(p.weight, p.mask)));
  }

  /** The net with the engine's current parameters (and masks), back in stored layouts. */
  read(): Layer[] {
    return this.params.map((p) => {
      const l = p.layer;
      const copy = (t: Tensor) => Float32Array.from(t.dataSync() as Float32Array);
      return {
        ...l,
        weight: fromEngine(p.weight.dataSync() as Float32Array, l),
        ...(p.bias ? { bias: copy(p.bias) } : {}),
        ...(l.norm ? { norm: { gamma: copy(p.gamma!), beta: copy(p.beta!), mean: copy(p.mean!), variance: copy(p.variance!) } } : {}),
      };
    });
  }

  dispose(): void {
    for (const p of this.params) this.tf.dispose([p.weight, p.mask, ...[p.bias, p.gamma, p.beta, p.channels, p.mean, p.variance].filter((t): t is Tensor => t !== undefined)]);
  }
}

/** A split's features as one float tensor, scaled and standardised per channel once. */
export function features(tf: typeof TF, data: DatasetValue, split: Split): Tensor {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  return tf.tensor2d(standardised(data, split), [split.n, width]);
}

/** What a stored feature value `v` of channel `c` becomes: scaled, then standardised. */
export function standardise(data: Pick<DatasetValue, "scale" | "mean" | "std">, v: number, c: number): number {
  return (v * data.scale - data.mean[c]!) / data.std[c]!;
}

/** A split's features, scaled and standardised per channel, on the host. */
export function standardised(data: DatasetValue, split: Split): Float32Array {
  const width = data.inputShape.reduce((a, b) => a * b, 1);
  const channels = data.mean.length;
  const x = new Float32Array(split.n * width);
  const src = split.x;
  if (src instanceof Uint8Array) {
    // Bytes take 256 values a channel: each standardised once, the same arithmetic, then looked up.
    const table = new Float32Array(256 * channels);
    for (let c = 0; c < channels; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = standardise(data, v, c);
    if (channels === 1) for (let i = 0; i < x.length; i++) x[i] = table[src[i]!]!;
    else for (let i = 0; i < x.length; i++) x[i] = table[(i % channels) * 256 + src[i]!]!;
  } else {
    for (let i = 0; i < x.length; i++) x[i] = standardise(data, src[i]!, i % channels);
  }
  return x;
}

/** The net and the dataset agree on input shape and classes, or the stage fails saying how. */
export function checkData(net: NetValue, data: DatasetValue): void {
  const same = net.inputShape.length === data.inputShape.length && net.inputShape.every((d, i) => d === data.inputShape[i]);
  if (!same || net.classes !== data.classes) {
    throw new OpFailure(
      `the net takes inputs of ${net.inputShape.join("×")} and gives ${net.classes} classes, but the dataset '${data.name}' has ${data.inputShape.join("×")} inputs and ${data.classes} classes`,
    );
  }
}
