// Conv kernels for the wasm backend. It has no Conv2DBackpropFilter, so a conv net could not
// train there, and its Conv2DBackpropInput is a plain loop, ten times slower than its
// forward conv. Both gradients of a stride-1 convolution are themselves convolutions, which
// wasm runs through XNNPACK, so both are registered here as such:
//   dW[i, j, c, f] = Σ x_pad[n, y+i, x+j, c] · dy[n, y, x, f]   (x as a batch of c "images",
//                                                                  dy as an oh×ow filter)
//   dx = conv(dy padded by k−1−pad, W rotated 180° with in/out swapped)
// Other strides keep a formulation by shifted slices and matrix products (filter) or the
// backend's own kernel (input).

import type * as TF from "@tensorflow/tfjs-core";

type Info = TF.TensorInfo;
type ConvAttrs = {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | TF.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
};

/** Runs wasm kernels by name on tensor infos, and frees the temporaries a kernel made. */
class Kernels {
  private readonly temps: Info[] = [];
  constructor(
    private readonly tf: typeof TF,
    private readonly backend: TF.KernelBackend,
  ) {}

  run(name: string, inputs: Record<string, Info> | Info[], attrs: Record<string, unknown> = {}): Info {
    const out = this.tf.getKernel(name, "wasm")!.kernelFunc({ inputs: inputs as TF.NamedTensorInfoMap, backend: this.backend, attrs: attrs as TF.NamedAttrMap }) as Info;
    this.temps.push(out);
    return out;
  }

  /** Frees every temporary but `result`. */
  done(result: Info): Info {
    for (const t of this.temps) if (t !== result) this.backend.disposeData(t.dataId);
    return result;
  }
}

const VALID = { strides: [1, 1], pad: "valid", dataFormat: "NHWC", dilations: [1, 1] };

export function registerWasmKernels(tf: typeof TF): void {
  if (tf.getKernel("Conv2DBackpropFilter", "wasm")) return;
  registerMatMul(tf);
  registerSlice(tf);
  registerSharedCopies(tf);

  tf.registerKernel({
    kernelName: "Conv2DBackpropFilter",
    backendName: "wasm",
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, dy } = inputs as { x: Info; dy: Info };
      const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as ConvAttrs & { filterShape: [number, number, number, number] };
      if (dataFormat === "NCHW") throw new Error("Conv2DBackpropFilter on wasm supports NHWC only");
      const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false, "channelsLast");
      const k = new Kernels(tf, backend as TF.KernelBackend);
      const { top, bottom, left, right } = info.padInfo;
      const padded = top + bottom + left + right > 0 ? k.run("PadV2", { x }, { paddings: [[0, 0], [top, bottom], [left, right], [0, 0]], constantValue: 0 }) : x;
      const { batchSize: n, inChannels: c, outChannels: f, outHeight: oh, outWidth: ow, strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
      if (sh === 1 && sw === 1) {
        const images = k.run("Transpose", { x: padded }, { perm: [3, 1, 2, 0] }); // [c, H, W, n]
        const filter = k.run("Transpose", { x: dy }, { perm: [1, 2, 0, 3] }); // [oh, ow, n, f]
        const conv = k.run("Conv2D", { x: images, filter }, VALID); // [c, fh, fw, f]
        return k.done(k.run("Transpose", { x: conv }, { perm: [1, 2, 0, 3] }));
      }
      const rows = n * oh * ow;
      const grad = k.run("Reshape", { x: dy }, { shape: [1, rows, f] });
      const parts: Info[] = [];
      for (let i = 0; i < fh; i++) {
        for (let j = 0; j < fw; j++) {
          const end = [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, c];
          const shifted = k.run("StridedSlice", { x: padded }, { begin: [0, i, j, 0], end, strides: [1, sh, sw, 1], beginMask: 0, endMask: 0, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 0 });
          const columns = k.run("Reshape", { x: shifted }, { shape: [1, rows, c] });
          parts.push(k.run("BatchMatMul", { a: columns, b: grad }, { transposeA: true, transposeB: false }));
        }
      }
      const stacked = k.run("Concat", parts, { axis: 0 });
      return k.done(k.run("Reshape", { x: stacked }, { shape: [fh, fw, c, f] }));
    },
  });

  const original = tf.getKernel("Conv2DBackpropInput", "wasm")!;
  tf.unregisterKernel("Conv2DBackpropInput", "wasm");
  tf.registerKernel({
    kernelName: "Conv2DBackpropInput",
    backendName: "wasm",
    // The original binds its wasm function when the backend starts; its fallback needs that.
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    kernelFunc: (args) => {
      const { dy, filter } = args.inputs as { dy: Info; filter: Info };
      const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs as unknown as ConvAttrs & { inputShape: [number, number, number, number] };
      const info =
        dataFormat === "NCHW"
          ? undefined
          : tf.backend_util.computeConv2DInfo(inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false, "channelsLast");
      const { top = 0, bottom = 0, left = 0, right = 0 } = info?.padInfo ?? {};
      const extra = info && [info.filterHeight - 1 - top, info.filterHeight - 1 - bottom, info.filterWidth - 1 - left, info.filterWidth - 1 - right];
      if (!info || info.strideHeight !== 1 || info.strideWidth !== 1 || extra!.some((e) => e < 0)) return original.kernelFunc(args);
      const k = new Kernels(tf, args.backend as TF.KernelBackend);
      const [t, b, l, r] = extra!;
      const padded = k.run("PadV2", { x: dy }, { paddings: [[0, 0], [t, b], [l, r], [0, 0]], constantValue: 0 });
      const flipped = k.run("Reverse", { x: filter }, { dims: [0, 1] });
      const swapped = k.run("Transpose", { x: flipped }, { perm: [0, 1, 3, 2] }); // [fh, fw, f, c]
      return k.done(k.run("Conv2D", { x: padded, filter: swapped }, VALID));
    },
  });
}

/**
 * wasm's BatchMatMul is fast only untransposed: a dense layer's weight gradient, xᵀ·dy, took
 * 8.95 ms for LeNet's first layer (batch 60) against 1.3 ms for the forward product. Moving
 * the transpose into its own (cheap) kernel is the same product, several times faster.
 */
function registerMatMul(tf: typeof TF): void {
  const original = tf.getKernel("BatchMatMul", "wasm")!;
  tf.unregisterKernel("BatchMatMul", "wasm");
  tf.registerKernel({
    kernelName: "BatchMatMul",
    backendName: "wasm",
    ...(original.setupFunc ? { setupFunc: original.setupFunc } : {}),
    kernelFunc: (args) => {
      const { a, b } = args.inputs as { a: Info; b: Info };
      const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
      if (!transposeA && !transposeB) return original.kernelFunc(args);
      const k = new Kernels(tf, args.backend as TF.KernelBackend);
      const swapLast = (x: Info) => k.run("Transpose", { x }, { perm: [...x.shape.keys()].map((i, _, all) => (i < all.length - 2 ? i : i === all.length - 2 ? all.length - 1 : all.length - 2)) });
      const inputs = { a: transposeA ? swapLast(a) : a, b: transposeB ? swapLast(b) : b };
      return k.done(original.kernelFunc({ ...args, inputs, attrs: { ...args.attrs, transposeA: false, transposeB: false } }) as Info);
    },
  });
}

/**
 * Slice, where the slice is one contiguous run of the input (a range of rows: every test
 * chunk `measure` takes), as one copy within the heap. The backend's own kernel first reads
 * the whole input out of the heap into a new array (a 2,000-row test split, 6 MB, for every
 * chunk: 4.6 ms a call here); other slices stay its.
 */
function registerSlice(tf: typeof TF): void {
  const original = tf.getKernel("Slice", "wasm");
  if (!original) throw new Error("internal: the wasm backend has no Slice kernel");
  type Heap = TF.KernelBackend & { wasm: { HEAPU8: Uint8Array }; getMemoryOffset(dataId: object): number; makeOutput(shape: number[], dtype: TF.DataType): Info };
  tf.unregisterKernel("Slice", "wasm");
  tf.registerKernel({
    ...original,
    kernelFunc: (args) => {
      const { inputs } = args;
      const attrs = args.attrs ?? {};
      const backend = args.backend as Heap;
      const x = inputs["x"] as Info;
      if (x.dtype !== "string") {
        const [begin, size] = tf.slice_util.parseSliceParams(x as TF.Tensor, attrs["begin"] as number[], attrs["size"] as number[]) as [number[], number[]];
        if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
          const out = backend.makeOutput(size, x.dtype);
          const bytes = tf.util.bytesPerElement(x.dtype);
          const from = backend.getMemoryOffset(x.dataId) + tf.slice_util.computeFlatOffset(begin, tf.util.computeStrides(x.shape)) * bytes;
          const length = tf.util.sizeFromShape(size) * bytes;
          if (length > 0) backend.wasm.HEAPU8.copyWithin(backend.getMemoryOffset(out.dataId), from, from + length);
          return out;
        }
      }
      return original.kernelFunc(args) as Info;
    },
  });
}

/**
 * Identity, and Cast to the dtype a tensor already has, share the input's memory (a reference
 * more, as the backend's Reshape does) instead of copying it. TensorFlow.js clones every tensor
 * it saves for the backward pass through Identity: 225 µs a copy, a ninth of a Conv-2 step.
 * Tensors are immutable but for native's optimizer update, which writes a variable in place
 * and first gives it memory of its own if anything shares it (kernels/native.ts).
 */
function registerSharedCopies(tf: typeof TF): void {
  type Counted = TF.KernelBackend & { incRef(dataId: object): void };
  for (const name of ["Identity", "Cast"]) {
    const original = tf.getKernel(name, "wasm");
    if (!original) throw new Error(`internal: the wasm backend has no ${name} kernel`);
    tf.unregisterKernel(name, "wasm");
    tf.registerKernel({
      ...original,
      kernelFunc: (args) => {
        const x = args.inputs["x"] as Info;
        const dtype = name === "Cast" ? (args.attrs?.["dtype"] as TF.DataType) : x.dtype;
        if (x.dtype === "string" || dtype !== x.dtype) return original.kernelFunc(args) as Info;
        (args.backend as Counted).incRef(x.dataId);
        return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
      },
    });
  }
}
