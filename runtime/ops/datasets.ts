// Data ops: the shipped MNIST digits, IDX files, CIFAR-10 and CIFAR-100, and a seeded
// Gaussian mixture. Each reads and checks everything before returning, so a bad file fails
// its stage before training.

import type { ParamValue } from "../../compiler/stage.js";
import type { DatasetValue, Split } from "../core/dataset.js";
import { DataFileError, readIdxDataset, subsetTooLarge, validationTooLarge } from "../data/idx.js";
import { loadShippedDigits } from "../data/mnist.js";
import { CIFAR10, readCifar } from "../data/cifar10.js";
import { IMAGE_BYTES, recordTotals } from "../data/cifar-binary.js";
import { CIFAR100, LABELS, readCifar100 } from "../data/cifar100.js";
import { Random } from "../core/random.js";
import { datasetInput, num, str, type OpContext } from "./context.js";
import { OpFailure } from "../core/errors.js";

function take(images: Uint8Array, labels: Int32Array, features: number, order: Uint32Array, from: number, n: number): Split {
  const x = new Uint8Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const src = order[from + i]!;
    x.set(images.subarray(src * features, (src + 1) * features), i * features);
    y[i] = labels[src]!;
  }
  return { n, x, y };
}

/** A disjoint, seeded split of the 10,000 shipped digits. */
export function mnist(ctx: OpContext): DatasetValue {
  const train = num(ctx, "train");
  const test = num(ctx, "test");
  const seed = num(ctx, "seed");
  const digits = loadShippedDigits();
  const order = new Random(seed, "mnist/split").permutation(digits.labels.length);
  const features = 28 * 28;
  const { train: kept, validation } = holdOut(take(digits.images, digits.labels, features, order, 0, train), features, validationCount(ctx.params), seed, "mnist");
  return withLabelNoise(labelNoise(ctx.params), seed, {
    name: "mnist",
    inputShape: [28, 28, 1],
    classes: 10,
    scale: 1 / 255,
    // The full MNIST training set's statistics, which OpenLTH and most MNIST code standardise with.
    mean: [0.1307],
    std: [0.3081],
    train: kept,
    test: take(digits.images, digits.labels, features, order, train, test),
    ...(validation ? { validation } : {}),
  });
}

export function idx(ctx: OpContext): DatasetValue {
  const read = (images: string, labels: string) => {
    try {
      return readIdxDataset(ctx.files[images]!, ctx.files[labels]!);
    } catch (e) {
      if (e instanceof DataFileError) throw new OpFailure(e.message);
      throw e;
    }
  };
  const train = read("images", "labels");
  const test = read("test_images", "test_labels");
  if (train.rows !== test.rows || train.cols !== test.cols) {
    throw new OpFailure(`${ctx.files["test_images"]}: images are ${test.rows}×${test.cols}, but the training images are ${train.rows}×${train.cols}`);
  }
  const count = validationCount(ctx.params);
  const given = (name: string) => (ctx.params[name] !== undefined ? num(ctx, name) : undefined);
  const subset = { ...(given("train") !== undefined ? { train: given("train")! } : {}), ...(given("test") !== undefined ? { test: given("test")! } : {}) };
  // Absent from stages made before it existed: 0.
  const seed = given("seed") ?? 0;
  const beyond = subsetTooLarge(subset, train.n, test.n, ctx.files);
  if (beyond) throw new OpFailure(beyond);
  const tooLarge = validationTooLarge(count, subset.train ?? train.n, ctx.files["images"]!);
  if (tooLarge) throw new OpFailure(tooLarge);
  const features = train.rows * train.cols;
  const split = (d: typeof train, n: number | undefined, which: string): Split => {
    const all: Split = { n: d.n, x: d.images, y: Int32Array.from(d.labels) };
    return n === undefined ? all : subsetOf(all, features, n, new Random(seed, `idx/subset/${which}`));
  };
  return imageDataset("idx", [train.rows, train.cols, 1], Math.max(train.classes, test.classes), split(train, subset.train, "train"), split(test, subset.test, "test"), count, labelNoise(ctx.params), seed);
}

/** The CIFAR-10 binary batches in `dir`: the first `train` training and `test` test images. */
export function cifar10(ctx: OpContext): DatasetValue {
  let sets;
  try {
    const seed = subsetSeed(ctx);
    const dir = ctx.files["dir"]!;
    // Seed 0: the first images, in file order (as before seed existed); another: a seeded subset of them all.
    const read = seed ? readCifar(dir, recordTotals(CIFAR10, dir).train, recordTotals(CIFAR10, dir).test) : readCifar(dir, num(ctx, "train"), num(ctx, "test"));
    sets = seed ? subsets(read, num(ctx, "train"), num(ctx, "test"), seed, "cifar10") : read;
  } catch (e) {
    if (e instanceof DataFileError) throw new OpFailure(e.message);
    throw e;
  }
  const split = (s: typeof sets.train): Split => ({ n: s.labels.length, x: s.images, y: s.labels });
  return imageDataset("cifar10", [32, 32, 3], 10, split(sets.train), split(sets.test), validationCount(ctx.params), labelNoise(ctx.params), subsetSeed(ctx));
}

/** CIFAR-100's binary version in `dir`: the first `train` and `test` images of train.bin and test.bin, with fine or coarse labels. */
export function cifar100(ctx: OpContext): DatasetValue {
  const labels = str(ctx, "labels");
  if (labels !== "fine" && labels !== "coarse") throw new Error(`internal: cifar100's labels are fine or coarse, not '${labels}'`);
  let sets;
  try {
    const seed = subsetSeed(ctx);
    const dir = ctx.files["dir"]!;
    const totals = seed ? recordTotals(CIFAR100, dir) : undefined;
    const read = readCifar100(dir, totals?.train ?? num(ctx, "train"), totals?.test ?? num(ctx, "test"), labels);
    sets = seed ? subsets(read, num(ctx, "train"), num(ctx, "test"), seed, "cifar100") : read;
  } catch (e) {
    if (e instanceof DataFileError) throw new OpFailure(e.message);
    throw e;
  }
  const split = (s: typeof sets.train): Split => ({ n: s.labels.length, x: s.images, y: s.labels });
  return imageDataset("cifar100", [32, 32, 3], LABELS[labels].classes, split(sets.train), split(sets.test), validationCount(ctx.params), labelNoise(ctx.params), subsetSeed(ctx));
}

/**
 * An image dataset read from files (`idx`, `cifar10`, `cifar100`): `validation` training
 * examples held out (seeded by 0, the stream named for the op), each channel standardised
 * with the statistics of the training images that remain, then label noise on their labels.
 * With no validation split, the statistics are those of all the training images, as before
 * the split existed.
 */
function imageDataset(name: string, inputShape: readonly number[], classes: number, train: Split, test: Split, validation: number, noise: number, seed = 0): DatasetValue {
  const features = inputShape.reduce((a, b) => a * b, 1);
  const split = holdOut(train, features, validation, seed, name);
  return withLabelNoise(noise, seed, {
    name,
    inputShape,
    classes,
    scale: 1 / 255,
    ...channelStatistics(split.train.x as Uint8Array, inputShape[inputShape.length - 1]!, 1 / 255),
    train: split.train,
    test,
    ...(split.validation ? { validation: split.validation } : {}),
  });
}

/** A CIFAR op's `seed`: absent (the stage key omits it) at its default, 0. */
function subsetSeed(ctx: OpContext): number {
  return ctx.params["seed"] !== undefined ? num(ctx, "seed") : 0;
}

type Images = { images: Uint8Array; labels: Int32Array };

/** Seeded subsets of `train` and `test` images of every image read, each kept in file order. */
function subsets(all: { train: Images; test: Images }, train: number, test: number, seed: number, op: string): { train: Images; test: Images } {
  const pick = (set: Images, n: number, which: string): Images => {
    const total = set.labels.length;
    if (n > total) throw new OpFailure(`${which}: ${n} asks for more images than the files hold (${total})`);
    const s = subsetOf({ n: total, x: set.images, y: set.labels }, IMAGE_BYTES, n, new Random(seed, `${op}/subset/${which}`));
    return { images: s.x as Uint8Array, labels: s.y };
  };
  return { train: pick(all.train, train, "train"), test: pick(all.test, test, "test") };
}

/** `n` examples of `split` drawn by `random` (a seeded permutation), kept in the split's own order. */
function subsetOf(split: Split, features: number, n: number, random: Random): Split {
  const chosen = random.permutation(split.n).subarray(0, n).slice().sort();
  return take(split.x as Uint8Array, split.y, features, chosen, 0, n);
}

/** The `validation` parameter: absent (the stage key omits it) at its default, 0. */
function validationCount(params: Readonly<Record<string, ParamValue>>): number {
  const v = params["validation"] ?? 0;
  if (typeof v !== "number") throw new Error("internal: parameter 'validation' is not a number");
  return v;
}

/**
 * `count` examples of `split` held out as a validation split, chosen by a seeded permutation
 * (`seed`, the stream "<op>/validation"); the rest stay the training split. Both keep the
 * examples' order in `split`. With `count` 0, `split` itself and no validation split.
 */
export function holdOut(split: Split, features: number, count: number, seed: number, op: string): { train: Split; validation?: Split } {
  if (count === 0) return { train: split };
  if (!(Number.isInteger(count) && count > 0 && count < split.n)) {
    throw new OpFailure(`validation: ${count} must be a whole number below the ${split.n} training examples, leaving some to train on`);
  }
  const held = new Uint8Array(split.n);
  const order = new Random(seed, `${op}/validation`).permutation(split.n);
  for (let k = 0; k < count; k++) held[order[k]!] = 1;
  const pick = (want: number, n: number): Split => {
    const x = split.x instanceof Uint8Array ? new Uint8Array(n * features) : new Float32Array(n * features);
    const y = new Int32Array(n);
    let to = 0;
    for (let i = 0; i < split.n; i++) {
      if (held[i] !== want) continue;
      x.set(split.x.subarray(i * features, (i + 1) * features), to * features);
      y[to++] = split.y[i]!;
    }
    return { n, x, y };
  };
  return { train: pick(0, split.n - count), validation: pick(1, count) };
}

/**
 * `n` examples from `classes` Gaussian clusters (centres drawn from N(0, 1) per feature,
 * spread `noise`), split 80/20 into train and test.
 */
/** Feature values one synthetic dataset may hold: 1 GiB of float32. */
export const MAX_SYNTHETIC_VALUES = 2 ** 28;

/** Why a synthetic dataset is too large to make (said at plan time, before anything runs), or undefined. */
export function syntheticTooLarge(params: Readonly<Record<string, unknown>>): string | undefined {
  const values = Number(params["n"]) * Number(params["features"]);
  if (!(values > MAX_SYNTHETIC_VALUES)) return undefined;
  return `n × features = ${values.toLocaleString("en")} values (${((values * 4) / 2 ** 30).toFixed(1)} GiB as float32) is more than lth's limit of ${MAX_SYNTHETIC_VALUES.toLocaleString("en")} for synthetic data`;
}

export function synthetic(ctx: OpContext): DatasetValue {
  const n = num(ctx, "n");
  const features = num(ctx, "features");
  const classes = num(ctx, "classes");
  const noise = num(ctx, "noise");
  const seed = num(ctx, "seed");
  const centresRandom = new Random(seed, "synthetic/centres");
  const centres = Float32Array.from({ length: classes * features }, () => centresRandom.normal());
  const sample = new Random(seed, "synthetic/sample");
  const x = new Float32Array(n * features);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = sample.int(classes);
    y[i] = c;
    for (let f = 0; f < features; f++) x[i * features + f] = centres[c * features + f]! + noise * sample.normal();
  }
  const test = Math.max(1, Math.round(n / 5));
  const train = n - test;
  return withLabelNoise(labelNoise(ctx.params), seed, {
    name: "synthetic",
    inputShape: [features],
    classes,
    scale: 1,
    mean: [0],
    std: [1],
    train: { n: train, x: x.slice(0, train * features), y: y.slice(0, train) },
    test: { n: test, x: x.slice(train * features), y: y.slice(train) },
  });
}

/** Mean and standard deviation per channel (the last axis) of scaled training inputs. */
export function channelStatistics(x: Uint8Array, channels: number, scale: number): { mean: number[]; std: number[] } {
  const sum = new Float64Array(channels);
  const squares = new Float64Array(channels);
  for (let i = 0; i < x.length; i++) {
    const v = x[i]! * scale;
    const c = i % channels;
    sum[c] = sum[c]! + v;
    squares[c] = squares[c]! + v * v;
  }
  const n = x.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(squares, (q, c) => Math.sqrt(Math.max(q / n - mean[c]! ** 2, 1e-12)));
  return { mean, std };
}

/** The `label_noise` parameter as a fraction: absent (the stage key omits it) at its default, 0%. */
function labelNoise(params: Readonly<Record<string, ParamValue>>): number {
  const p = params["label_noise"] ?? 0;
  if (typeof p !== "number") throw new Error("internal: parameter 'label_noise' is not a number");
  return p;
}

/**
 * `dataset` with round(p × n) of its training labels, chosen by a seeded permutation, each
 * replaced by a class drawn uniformly from the other classes (Nakkiran et al.'s label noise).
 * The test set stays clean; at p = 0 the dataset is returned as it is.
 */
export function withLabelNoise(p: number, seed: number, dataset: DatasetValue): DatasetValue {
  const n = dataset.train.n;
  const count = Math.round(p * n);
  if (count === 0) return dataset;
  if (dataset.classes < 2) throw new OpFailure(`label noise needs at least two classes, but the dataset '${dataset.name}' has ${dataset.classes}`);
  const which = new Random(seed, "label_noise/which").permutation(n);
  const draw = new Random(seed, "label_noise/class");
  const y = Int32Array.from(dataset.train.y);
  for (let k = 0; k < count; k++) {
    const i = which[k]!;
    // Uniform over the classes other than the true one: draw among classes − 1, skip the true one.
    const c = draw.int(dataset.classes - 1);
    y[i] = c >= y[i]! ? c + 1 : c;
  }
  return { ...dataset, train: { ...dataset.train, y } };
}

/** Bytes an augmented training set may hold: 1 GiB (training makes a float copy four times that). */
export const MAX_AUGMENTED_BYTES = 2 ** 30;

/**
 * One image (height × width × channels, channels last, as every dataset stores them) moved
 * `dy` rows down and `dx` columns right into `out`; pixels shifted in from outside are 0,
 * the raw background value (black), whatever the dataset's standardisation.
 */
export function shiftImage<T extends Uint8Array | Float32Array>(src: Uint8Array | Float32Array, height: number, width: number, channels: number, dy: number, dx: number, out: T): T {
  out.fill(0);
  for (let r = Math.max(0, dy); r < Math.min(height, height + dy); r++) {
    const from = ((r - dy) * width + Math.max(0, -dx)) * channels;
    const to = (r * width + Math.max(0, dx)) * channels;
    const length = (width - Math.abs(dx)) * channels;
    if (length > 0) out.set(src.subarray(from, from + length), to);
  }
  return out;
}

/**
 * The training set grown to `factor` times its size: the originals first, unchanged, then
 * `factor − 1` copies of each in turn, each image shifted by a seeded offset in
 * [−shift, shift] pixels along each axis and given Gaussian noise of std `noise` in
 * standardised units (std × noise / scale in raw units). Copies keep their labels; the test
 * set and the standardisation (mean, std) are unchanged, since the copies come from the same
 * distribution. Byte images stay bytes unless there is noise: then the training set is
 * stored as floats in raw pixel units (neither rounded nor clamped, so the noise is exactly
 * Gaussian).
 */
export function augment(ctx: OpContext): DatasetValue {
  const data = datasetInput(ctx, "data");
  const factor = num(ctx, "factor");
  const shift = num(ctx, "shift");
  const noise = num(ctx, "noise");
  const seed = num(ctx, "seed");
  const image = data.inputShape.length === 3;
  if (shift > 0 && !image) {
    throw new OpFailure(
      `augment can shift only images (height × width × channels), but the dataset '${data.name}' has examples of shape ${data.inputShape.join(" × ")}; use shift: 0 (noise alone works on any data)`,
    );
  }
  if (data.train.targets) throw new OpFailure(`augment copies images with their classes, and the dataset '${data.name}' has values (regression), not classes`);
  if (factor === 1) return data;
  const { n, x, y } = data.train;
  const features = data.inputShape.reduce((a, b) => a * b, 1);
  const float = noise > 0 || !(x instanceof Uint8Array);
  const bytes = n * factor * features * (float ? 4 : 1);
  if (bytes > MAX_AUGMENTED_BYTES) {
    throw new OpFailure(
      `${n.toLocaleString("en")} examples × ${factor} × ${features.toLocaleString("en")} features is ${(bytes / 2 ** 30).toFixed(1)} GiB${float ? " as float32" : ""}, more than lth's limit of 1 GiB for an augmented training set; use a smaller factor or fewer examples`,
    );
  }
  const out = float ? new Float32Array(n * factor * features) : new Uint8Array(n * factor * features);
  out.set(x);
  const labels = new Int32Array(n * factor);
  for (let k = 0; k < factor; k++) labels.set(y, k * n);
  // A concatenated pair's second label goes with its copies.
  const second = data.train.y2 ? new Int32Array(n * factor) : undefined;
  if (second) for (let k = 0; k < factor; k++) second.set(data.train.y2!, k * n);
  const [height = 1, width = 1, channels = features] = image ? data.inputShape : [];
  const channelCount = data.mean.length;
  // Raw units per standardised unit, per channel.
  const rawStd = data.std.map((s) => (noise * s) / data.scale);
  const shifts = new Random(seed, "augment/shift");
  const gauss = new Random(seed, "augment/noise");
  const moved = float ? new Float32Array(features) : new Uint8Array(features);
  for (let k = 1; k < factor; k++) {
    for (let i = 0; i < n; i++) {
      const src = x.subarray(i * features, (i + 1) * features);
      const at = (k * n + i) * features;
      if (shift > 0) {
        const dy = shifts.int(2 * shift + 1) - shift;
        const dx = shifts.int(2 * shift + 1) - shift;
        out.set(shiftImage(src, height, width, channels, dy, dx, moved), at);
      } else {
        out.set(src, at);
      }
      if (noise > 0) for (let f = 0; f < features; f++) out[at + f] = out[at + f]! + rawStd[f % channelCount]! * gauss.normal();
    }
  }
  return { ...data, train: { n: n * factor, x: out, y: labels, ...(second ? { y2: second } : {}) } };
}
