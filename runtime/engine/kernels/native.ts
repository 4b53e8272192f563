// The `native` backend's kernels: TensorFlow.js's wasm backend with its heavy kernels
// (convolution and both its gradients, max pooling and its gradient, matrix products with
// an optional bias and ReLU) computed by oneDNN through lth's N-API addon
// (kernels/native/addon.cc). The addon works on the wasm heap itself: each call passes the
// heap's buffer and the byte offsets of its tensors, so nothing is copied in or out.
// Everything else (element-wise ops, reductions, Adam's update) stays wasm's.
//
// The addon is built by `npm install` where a C++ compiler and oneDNN's headers are present
// (kernels/native/build.mjs); where it was not, `native` is unavailable and says why.

import type * as TF from "@tensorflow/tfjs-core";
import { BATCH_NORM_TRAINING, BIAS_RELU } from "../model.js";
import { CROSS_ENTROPY } from "../train.js";
import type { FusedUpdate } from "../optimizer.js";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** What the addon exports (kernels/native/addon.cc). Offsets are bytes into `heap`. */
export interface NativeAddon {
  matmul(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  conv2d(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  conv2dBackpropInput(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  conv2dBackpropFilter(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  maxPool(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  maxPoolGrad(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  batchNormTrain(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[], epsilon: number): void;
  batchNormTrainGrad(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[], epsilon: number): void;
  softmaxCrossEntropy(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  softmaxCrossEntropyGrad(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  tile(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  sumLeading(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  gatherRows(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): number;
  biasRelu(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  biasReluGrad(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[]): void;
  eltwise(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[], alpha: number): void;
  optimizerStep(heap: ArrayBuffer, offsets: readonly number[], dims: readonly number[], params: readonly number[]): void;
  setThreads(threads: number): void;
  info(): { readonly dnnl: string; readonly threads: number; readonly isa: number };
}

/** The one line that makes `native` available on Debian or Ubuntu. */
export const NATIVE_INSTALL = "apt-get install -y g++ libdnnl-dev, then npm run build:native (npm rebuild lth where lth is installed)";

/** The folder of the addon's sources, its build and the note of why a build did not happen. */
export function nativeFolder(): string {
  // This file is runtime/engine/kernels/native.ts from source, dist/runtime/engine/kernels/native.js when built.
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "runtime/engine/kernels/native/addon.cc"))) return join(dir, "runtime/engine/kernels/native");
  }
  throw new Error("internal: lth's native kernel sources are not where the package keeps them");
}

/** The file `build.mjs` leaves when it could not build the addon, saying why. */
export const SKIPPED_NOTE = "build/skipped.txt";

let loaded: NativeAddon | string | undefined;

/** Whether the addon was built (without loading it): what `auto` will pick when TensorFlow's own packages are absent. */
export function nativeBuilt(): boolean {
  return existsSync(join(nativeFolder(), "build/Release/lth_native.node"));
}

/** The addon, or why it is not there (with what to install). Loaded once per process. */
export function loadNativeAddon(): NativeAddon | string {
  if (loaded !== undefined) return loaded;
  const folder = nativeFolder();
  const file = join(folder, "build/Release/lth_native.node");
  if (!existsSync(file)) {
    const note = join(folder, SKIPPED_NOTE);
    const why = existsSync(note) ? readFileSync(note, "utf8").trim() : "the addon was not built";
    return (loaded = `${why}; to enable it: ${NATIVE_INSTALL}`);
  }
  // OpenMP reads these when the addon loads it. Idle threads sleep instead of spinning: a
  // spinning thread takes a core from the JavaScript thread (which runs the wasm kernels
  // between oneDNN's) and from the other workers of the run.
  process.env["OMP_WAIT_POLICY"] ??= "PASSIVE";
  try {
    loaded = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    loaded = `the addon did not load (${e instanceof Error ? e.message.split("\n")[0] : String(e)}); to rebuild it: ${NATIVE_INSTALL}`;
  }
  return loaded;
}

type Info = TF.TensorInfo;
type Backend = TF.KernelBackend & {
  wasm: { HEAPU8: Uint8Array };
  refCount(dataId: object): number;
  getMemoryOffset(dataId: object): number;
  makeOutput(shape: number[], dtype: TF.DataType): Info;
};
type Attrs = Record<string, unknown>;

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/**
 * Replaces the wasm backend's heavy kernels with the addon's. Each falls back to the wasm
 * kernel it replaces for what oneDNN is not given here (another dtype, NCHW, an activation
 * other than ReLU), so every program that ran on wasm runs on native.
 */
export function registerNativeKernels(tf: typeof TF, addon: NativeAddon): void {
  const replace = (kernelName: string, kernelFunc: (args: { inputs: Record<string, Info>; backend: Backend; attrs: Attrs }, wasm: TF.KernelFunc) => Info | undefined) => {
    const original = tf.getKernel(kernelName, "wasm");
    if (!original) throw new Error(`internal: the wasm backend has no ${kernelName} kernel to replace`);
    tf.unregisterKernel(kernelName, "wasm");
    tf.registerKernel({
      kernelName,
      backendName: "wasm",
      ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
      ...(original.disposeFunc ? { disposeFunc: original.disposeFunc } : {}),
      kernelFunc: (args) =>
        kernelFunc(args as unknown as { inputs: Record<string, Info>; backend: Backend; attrs: Attrs }, original.kernelFunc) ?? (original.kernelFunc(args) as Info),
    });
  };
  const offset = (backend: Backend, t: Info) => backend.getMemoryOffset(t.dataId);
  const float = (...ts: (Info | undefined)[]) => ts.every((t) => t === undefined || t.dtype === "float32");
  /** Registers a kernel of lth's own (no wasm kernel to fall back to) on the wasm backend. */
  const register = (kernelName: string, kernelFunc: (a: { inputs: Record<string, Info>; backend: Backend; attrs: Attrs }) => Info | Info[]) =>
    tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc: (args) => kernelFunc(args as unknown as { inputs: Record<string, Info>; backend: Backend; attrs: Attrs }) });

  /** C = op(A)·op(B), batches broadcast from 1, then bias and ReLU if given. */
  const matmul = (backend: Backend, a: Info, b: Info, attrs: Attrs, bias?: Info, relu = false): Info | undefined => {
    const ta = attrs["transposeA"] === true;
    const tb = attrs["transposeB"] === true;
    if (!float(a, b, bias) || a.shape.length < 2 || b.shape.length < 2) return undefined;
    const m = ta ? a.shape[a.shape.length - 1]! : a.shape[a.shape.length - 2]!;
    const k = ta ? a.shape[a.shape.length - 2]! : a.shape[a.shape.length - 1]!;
    const n = tb ? b.shape[b.shape.length - 2]! : b.shape[b.shape.length - 1]!;
    const batchA = size(a.shape.slice(0, -2));
    const batchB = size(b.shape.slice(0, -2));
    if (batchA !== batchB && batchA !== 1 && batchB !== 1) return undefined;
    if (bias && size(bias.shape) !== n) return undefined;
    const empty = m * n * Math.max(batchA, batchB) === 0;
    // Decided before the output is allocated: a fallback after it would leave it behind.
    if (k === 0 && !empty) return undefined;
    const outer = (batchA >= batchB ? a : b).shape.slice(0, -2);
    const out = backend.makeOutput([...outer, m, n], "float32");
    if (empty) return out;
    addon.matmul(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, a), offset(backend, b), offset(backend, out), bias ? offset(backend, bias) : -1], [
      batchA,
      batchB,
      m,
      n,
      k,
      ta ? 1 : 0,
      tb ? 1 : 0,
      bias ? 1 : 0,
      relu ? 1 : 0,
    ]);
    return out;
  };

  replace("BatchMatMul", ({ inputs, backend, attrs }) => matmul(backend, inputs["a"]!, inputs["b"]!, attrs));
  replace("_FusedMatMul", ({ inputs, backend, attrs }) => {
    const activation = attrs["activation"] ?? "linear";
    if (inputs["preluActivationWeights"] || (activation !== "linear" && activation !== "relu")) return undefined;
    return matmul(backend, inputs["a"]!, inputs["b"]!, attrs, inputs["bias"], activation === "relu");
  });

  /** A convolution's numbers as the addon takes them, from TensorFlow's own shape arithmetic. */
  const convDims = (xShape: number[], filterShape: number[], attrs: Attrs): number[] | undefined => {
    if ((attrs["dataFormat"] ?? "NHWC") !== "NHWC") return undefined;
    const info = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      filterShape as [number, number, number, number],
      attrs["strides"] as [number, number],
      (attrs["dilations"] ?? 1) as [number, number],
      attrs["pad"] as "same",
      attrs["dimRoundingMode"] as "floor" | undefined,
      false,
      "channelsLast",
    );
    const p = info.padInfo;
    if (size([info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outChannels, info.outHeight, info.outWidth]) === 0) return undefined;
    return [
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outChannels,
      info.filterHeight,
      info.filterWidth,
      info.strideHeight,
      info.strideWidth,
      p.top,
      p.left,
      p.bottom,
      p.right,
      info.outHeight,
      info.outWidth,
      info.dilationHeight,
      info.dilationWidth,
    ];
  };

  replace("Conv2D", ({ inputs, backend, attrs }) => {
    const { x, filter } = inputs as { x: Info; filter: Info };
    const dims = float(x, filter) ? convDims(x.shape, filter.shape, attrs) : undefined;
    if (!dims) return undefined;
    const out = backend.makeOutput([dims[0]!, dims[13]!, dims[14]!, dims[4]!], "float32");
    addon.conv2d(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, filter), offset(backend, out)], dims);
    return out;
  });

  replace("Conv2DBackpropInput", ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as { dy: Info; filter: Info };
    const inputShape = attrs["inputShape"] as number[];
    const dims = float(dy, filter) ? convDims(inputShape, filter.shape, attrs) : undefined;
    if (!dims) return undefined;
    const out = backend.makeOutput([...inputShape], "float32");
    addon.conv2dBackpropInput(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, dy), offset(backend, filter), offset(backend, out)], dims);
    return out;
  });

  replace("Conv2DBackpropFilter", ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: Info; dy: Info };
    const filterShape = attrs["filterShape"] as number[];
    const dims = float(x, dy) ? convDims(x.shape, filterShape, attrs) : undefined;
    if (!dims) return undefined;
    const out = backend.makeOutput([...filterShape], "float32");
    addon.conv2dBackpropFilter(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, dy), offset(backend, out)], dims);
    return out;
  });

  // Sums over the leading axes (every bias gradient: over batch and space); other sums stay wasm's.
  replace("Sum", ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: Info };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(attrs["axis"] as number | number[], x.shape).sort((a, b) => a - b);
    if (x.dtype !== "float32" || rank < 2 || axes.length === 0 || axes.length === rank || !axes.every((a, i) => a === i)) return undefined;
    const outer = size(x.shape.slice(0, axes.length));
    const kept = x.shape.slice(axes.length);
    const inner = size(kept);
    if (outer === 0 || inner === 0) return undefined;
    const shape = attrs["keepDims"] === true ? [...axes.map(() => 1), ...kept] : kept;
    const out = backend.makeOutput(shape, "float32");
    addon.sumLeading(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, out)], [outer, inner]);
    return out;
  });

  // Batch norm in training as one kernel each way (oneDNN's batch normalization): the moments,
  // the normalisation and their gradients took 500 of a VGG-11 step's 800 kernels on wasm.
  const GRAD = `${BATCH_NORM_TRAINING}Grad`;
  register(BATCH_NORM_TRAINING, ({ inputs, backend, attrs }) => {
    const { x, gamma, beta } = inputs as { x: Info; gamma: Info; beta: Info };
    const [n, h, w, c] = x.shape as [number, number, number, number];
    const y = backend.makeOutput([...x.shape], "float32");
    const mean = backend.makeOutput([c], "float32");
    const variance = backend.makeOutput([c], "float32");
    addon.batchNormTrain(backend.wasm.HEAPU8.buffer as ArrayBuffer, [x, gamma, beta, y, mean, variance].map((t) => offset(backend, t)), [n, h, w, c], attrs["epsilon"] as number);
    return [y, mean, variance];
  });
  register(GRAD, ({ inputs, backend, attrs }) => {
    const { x, dy, mean, variance, gamma, beta } = inputs as Record<string, Info>;
    const [n, h, w, c] = x!.shape as [number, number, number, number];
    const dx = backend.makeOutput([...x!.shape], "float32");
    const dgamma = backend.makeOutput([c], "float32");
    const dbeta = backend.makeOutput([c], "float32");
    addon.batchNormTrainGrad(
      backend.wasm.HEAPU8.buffer as ArrayBuffer,
      [x!, dy!, mean!, variance!, gamma!, beta!, dx, dgamma, dbeta].map((t) => offset(backend, t)),
      [n, h, w, c],
      attrs["epsilon"] as number,
    );
    return [dx, dgamma, dbeta];
  });
  tf.registerGradient({
    kernelName: BATCH_NORM_TRAINING,
    inputsToSave: ["x", "gamma", "beta"],
    outputsToSave: [false, true, true],
    gradFunc: (dys, saved, attrs) => {
      const [x, gamma, beta, mean, variance] = saved as TF.Tensor[];
      // The statistics' own gradients are zero in every use here: they feed the running averages only.
      const dy = (Array.isArray(dys) ? dys[0] : dys) as TF.Tensor;
      const [dx, dgamma, dbeta] = tf.engine().runKernel(GRAD, { x: x!, dy, mean: mean!, variance: variance!, gamma: gamma!, beta: beta! }, attrs) as TF.Tensor[];
      return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
    },
  });

  // A layer's bias and ReLU as one kernel each way (model.ts's BIAS_RELU): float32 only, as
  // everything the engine trains is; anything else is an error in the engine, not a fallback.
  const BIAS_RELU_GRAD = `${BIAS_RELU}Grad`;
  const rowsOf = (x: Info, c: number, kernel: string) => {
    if (x.dtype !== "float32" || x.shape.length === 0 || x.shape[x.shape.length - 1] !== c) {
      throw new Error(`internal: ${kernel} takes float32 tensors whose last axis is the bias's (${c}), not ${x.dtype} ${JSON.stringify(x.shape)}`);
    }
    return size(x.shape) / c;
  };
  register(BIAS_RELU, ({ inputs, backend }) => {
    const { x, bias } = inputs as { x: Info; bias: Info };
    const c = size(bias.shape);
    const rows = rowsOf(x, c, BIAS_RELU);
    const y = backend.makeOutput([...x.shape], "float32");
    if (rows * c > 0) addon.biasRelu(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, bias), offset(backend, y)], [rows, c]);
    return y;
  });
  register(BIAS_RELU_GRAD, ({ inputs, backend }) => {
    const { dy, y } = inputs as { dy: Info; y: Info };
    const c = y.shape[y.shape.length - 1] ?? 0;
    const rows = rowsOf(y, c, BIAS_RELU_GRAD);
    if (rowsOf(dy, c, BIAS_RELU_GRAD) !== rows) throw new Error(`internal: ${BIAS_RELU_GRAD} takes dy of y's shape`);
    const dx = backend.makeOutput([...y.shape], "float32");
    const db = backend.makeOutput([c], "float32");
    addon.biasReluGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, [dy, y, dx, db].map((t) => offset(backend, t)), [rows, c]);
    return [dx, db];
  });
  tf.registerGradient({
    kernelName: BIAS_RELU,
    outputsToSave: [true],
    gradFunc: (dy, saved) => {
      const [y] = saved as TF.Tensor[];
      const [dx, db] = tf.engine().runKernel(BIAS_RELU_GRAD, { dy: dy as TF.Tensor, y: y! }, {}) as TF.Tensor[];
      return { x: () => dx!, bias: () => db! };
    },
  });
  // Second order (GraSP differentiates a gradient): dx = dy·step(y) and dbias = Σ dx are linear
  // in dy, and step(y) is flat wherever it has a derivative, so y gets none.
  tf.registerGradient({
    kernelName: BIAS_RELU_GRAD,
    inputsToSave: ["y"],
    gradFunc: (dys, saved) => {
      const [y] = saved as TF.Tensor[];
      const [ddx, ddb] = (Array.isArray(dys) ? dys : [dys]) as (TF.Tensor | null | undefined)[];
      return {
        dy: () => {
          let g: TF.Tensor = ddx ?? tf.zerosLike(y!);
          if (ddb) g = tf.add(g, ddb);
          return tf.mul(g, tf.step(y!));
        },
        y: () => tf.zerosLike(y!),
      };
    },
  });

  // The loss and its gradient as one kernel each (about 25 of a LeNet step's 85 kernels otherwise).
  register(CROSS_ENTROPY, ({ inputs, backend }) => {
    const { logits, labels } = inputs as { logits: Info; labels: Info };
    const loss = backend.makeOutput([], "float32");
    addon.softmaxCrossEntropy(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, logits), offset(backend, labels), offset(backend, loss)], [logits.shape[0]!, logits.shape[1]!]);
    return loss;
  });
  register(`${CROSS_ENTROPY}Grad`, ({ inputs, backend }) => {
    const { logits, labels, dy } = inputs as { logits: Info; labels: Info; dy: Info };
    const out = backend.makeOutput([...logits.shape], "float32");
    addon.softmaxCrossEntropyGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, logits), offset(backend, labels), offset(backend, dy), offset(backend, out)], [logits.shape[0]!, logits.shape[1]!]);
    return out;
  });
  tf.registerGradient({
    kernelName: CROSS_ENTROPY,
    inputsToSave: ["logits", "labels"],
    gradFunc: (dy, saved) => {
      const [logits, labels] = saved as TF.Tensor[];
      return {
        logits: () => tf.engine().runKernel(`${CROSS_ENTROPY}Grad`, { logits: logits!, labels: labels!, dy: dy as TF.Tensor }, {}) as TF.Tensor,
        labels: () => tf.zerosLike(labels!),
      };
    },
  });

  // Per-channel statistics spread over a batch (batch norm's gradient): wasm's Tile took 57% of a VGG step.
  replace("Tile", ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: Info };
    const reps = attrs["reps"] as number[];
    if ((x.dtype !== "float32" && x.dtype !== "int32") || x.shape.length === 0 || reps.length !== x.shape.length) return undefined;
    const out = backend.makeOutput(x.shape.map((d, i) => d * reps[i]!), x.dtype);
    if (size(x.shape) === 0 || size(reps) === 0) return out;
    addon.tile(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, out)], [4, x.shape.length, ...x.shape, ...reps]);
    return out;
  });

  // A batch drawn from the resident training set: whole rows, copied.
  replace("GatherV2", ({ inputs, backend, attrs }) => {
    const { x, indices } = inputs as { x: Info; indices: Info };
    if (((attrs["axis"] as number) ?? 0) !== 0 || ((attrs["batchDims"] as number) ?? 0) !== 0) return undefined;
    if ((x.dtype !== "float32" && x.dtype !== "int32") || indices.dtype !== "int32" || x.shape.length < 1) return undefined;
    const rows = x.shape[0]!;
    const count = size(indices.shape);
    // Rows asked of an empty tensor: the wasm kernel's error, decided before anything is allocated.
    if (count > 0 && size(x.shape) === 0) return undefined;
    const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], x.dtype);
    if (count === 0) return out;
    const bad = addon.gatherRows(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, indices), offset(backend, out)], [rows, (size(x.shape) / rows) * 4, count]);
    if (bad >= 0) {
      backend.disposeData(out.dataId);
      return undefined;
    }
    return out;
  });

  const poolDims = (xShape: number[], attrs: Attrs): number[] | undefined => {
    const info = tf.backend_util.computePool2DInfo(
      xShape as [number, number, number, number],
      attrs["filterSize"] as [number, number],
      attrs["strides"] as [number, number],
      1,
      attrs["pad"] as "same",
      attrs["dimRoundingMode"] as "floor" | undefined,
    );
    if (info.dilationHeight !== 1 || info.dilationWidth !== 1) return undefined;
    if (size([info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.outHeight, info.outWidth]) === 0) return undefined;
    const p = info.padInfo;
    return [info.batchSize, info.inHeight, info.inWidth, info.inChannels, info.filterHeight, info.filterWidth, info.strideHeight, info.strideWidth, p.top, p.left, p.bottom, p.right, info.outHeight, info.outWidth];
  };

  replace("MaxPool", ({ inputs, backend, attrs }) => {
    const { x } = inputs as { x: Info };
    const dims = float(x) ? poolDims(x.shape, attrs) : undefined;
    if (!dims) return undefined;
    const out = backend.makeOutput([dims[0]!, dims[12]!, dims[13]!, dims[3]!], "float32");
    addon.maxPool(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), offset(backend, out)], dims);
    return out;
  });

  // Registered by tfjs for wasm only where a program needs it; replaced (or added) here.
  const hasPoolGrad = tf.getKernel("MaxPoolGrad", "wasm") !== undefined;
  const poolGrad = ({ inputs, backend, attrs }: { inputs: Record<string, Info>; backend: Backend; attrs: Attrs }): Info | undefined => {
    const { dy, input } = inputs as { dy: Info; input: Info };
    const dims = float(dy, input) ? poolDims(input.shape, attrs) : undefined;
    if (!dims) return undefined;
    const out = backend.makeOutput([...input.shape], "float32");
    addon.maxPoolGrad(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, dy), offset(backend, input), offset(backend, out)], dims);
    return out;
  };
  if (hasPoolGrad) replace("MaxPoolGrad", poolGrad);
  else {
    tf.registerKernel({
      kernelName: "MaxPoolGrad",
      backendName: "wasm",
      kernelFunc: (args) => {
        const out = poolGrad(args as unknown as { inputs: Record<string, Info>; backend: Backend; attrs: Attrs });
        if (!out) throw new Error("MaxPoolGrad on native supports float32 NHWC without dilation only");
        return out;
      },
    });
  }

  // Element-wise kernels of a conv layer without batch norm and of its gradient: wasm's took a
  // third of a Conv-2 step. Sums and products of float32 where one side is the other's shape
  // or repeats over its last axes (a bias); other shapes, dtypes and broadcasts stay wasm's.
  const ELTWISE = { Add: 0, Multiply: 1, Relu: 2, Step: 3 } as const;
  for (const name of ["Add", "Multiply"] as const) {
    replace(name, ({ inputs, backend }) => {
      let { a, b } = inputs as { a: Info; b: Info };
      if (!float(a, b)) return undefined;
      // Both commute exactly in floating point, so the larger goes first.
      if (size(b.shape) > size(a.shape)) [a, b] = [b, a];
      const n = size(a.shape);
      const period = size(b.shape);
      const inner = b.shape.slice(b.shape.findIndex((d) => d !== 1) === -1 ? b.shape.length : b.shape.findIndex((d) => d !== 1));
      const trailing = inner.length <= a.shape.length && inner.every((d, i) => d === a.shape[a.shape.length - inner.length + i]);
      if (n === 0 || period === 0 || !trailing || b.shape.length > a.shape.length) return undefined;
      const out = backend.makeOutput([...a.shape], "float32");
      addon.eltwise(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, a), offset(backend, b), offset(backend, out)], [ELTWISE[name], n, period], 0);
      return out;
    });
  }
  for (const name of ["Relu", "Step"] as const) {
    replace(name, ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: Info };
      const n = size(x.shape);
      if (!float(x) || n === 0) return undefined;
      const out = backend.makeOutput([...x.shape], "float32");
      const alpha = name === "Step" ? Number(attrs["alpha"] ?? 0) : 0;
      addon.eltwise(backend.wasm.HEAPU8.buffer as ArrayBuffer, [offset(backend, x), -1, offset(backend, out)], [ELTWISE[name], n, 1], alpha);
      return out;
    });
  }
}

/**
 * The optimizer's whole update of one variable in one call (native only): what optimizer.ts's
 * `step` computes in a dozen element-wise kernels, in place on the variable and its state.
 * A training step of LeNet-300-100 runs about 170 kernels, 100 of them the update; each costs
 * TensorFlow.js's bookkeeping whatever its size.
 */
export function nativeUpdate(tf: typeof TF, addon: NativeAddon): FusedUpdate {
  const KIND = { sgd: 0, momentum: 1, adam: 2 } as const;
  return (u) => {
    const backend = tf.backend() as Backend;
    const at = (t: TF.Tensor | undefined) => (t ? backend.getMemoryOffset(t.dataId) : -1);
    for (const t of [u.variable, u.grad, ...u.state, ...(u.mask ? [u.mask] : [])]) {
      if (t.dtype !== "float32" || t.size !== u.variable.size) throw new Error("internal: the fused update takes float32 tensors of the variable's size");
    }
    // The update writes in place: memory another tensor shares (an Identity's or a Reshape's of
    // the variable, kernels/wasm.ts) is copied for the variable first, so that tensor keeps its values.
    for (const t of [u.variable, ...u.state]) {
      if (backend.refCount(t.dataId) <= 1) continue;
      if (t !== u.variable) throw new Error("internal: the optimizer's state is shared with another tensor");
      const own = backend.makeOutput([...t.shape], "float32");
      const from = at(t);
      backend.wasm.HEAPU8.copyWithin(backend.getMemoryOffset(own.dataId), from, from + t.size * 4);
      const copy = tf.engine().makeTensorFromTensorInfo(own);
      u.variable.assign(copy);
      copy.dispose();
    }
    addon.optimizerStep(
      backend.wasm.HEAPU8.buffer as ArrayBuffer,
      [at(u.variable), at(u.grad), at(u.state[0]), at(u.state[1]), at(u.mask)],
      [u.variable.size, KIND[u.kind], u.mask ? 1 : 0, u.scale ? 1 : 0],
      [u.lr, u.momentum, u.decay, u.l1, u.beta1, u.beta2, u.stepSize, u.epsilon],
    );
  };
}
