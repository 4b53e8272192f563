// Data ops: the shipped MNIST digits, IDX files, and a seeded Gaussian mixture. Each reads
// and checks everything before returning, so a bad file fails its stage before training.

import type { DatasetValue, Split } from "../artifacts.js";
import { DataFileError, readIdxDataset } from "../data/idx.js";
import { loadShippedDigits } from "../data/mnist.js";
import { readCifar } from "../data/cifar10.js";
import { Random } from "../random.js";
import { num, OpFailure, type OpContext } from "./context.js";

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
  const digits = loadShippedDigits();
  const order = new Random(num(ctx, "seed"), "mnist/split").permutation(digits.labels.length);
  const features = 28 * 28;
  return {
    name: "mnist",
    inputShape: [28, 28, 1],
    classes: 10,
    scale: 1 / 255,
    // The full MNIST training set's statistics, which OpenLTH and most MNIST code standardise with.
    mean: [0.1307],
    std: [0.3081],
    train: take(digits.images, digits.labels, features, order, 0, train),
    test: take(digits.images, digits.labels, features, order, train, test),
  };
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
  const split = (d: typeof train): Split => ({ n: d.n, x: d.images, y: Int32Array.from(d.labels) });
  return {
    name: "idx",
    inputShape: [train.rows, train.cols, 1],
    classes: Math.max(train.classes, test.classes),
    scale: 1 / 255,
    ...channelStatistics(train.images, 1, 1 / 255),
    train: split(train),
    test: split(test),
  };
}

/** The CIFAR-10 binary batches in `dir`: the first `train` training and `test` test images. */
export function cifar10(ctx: OpContext): DatasetValue {
  let sets;
  try {
    sets = readCifar(ctx.files["dir"]!, num(ctx, "train"), num(ctx, "test"));
  } catch (e) {
    if (e instanceof DataFileError) throw new OpFailure(e.message);
    throw e;
  }
  return {
    name: "cifar10",
    inputShape: [32, 32, 3],
    classes: 10,
    scale: 1 / 255,
    ...channelStatistics(sets.train.images, 3, 1 / 255),
    train: { n: sets.train.labels.length, x: sets.train.images, y: sets.train.labels },
    test: { n: sets.test.labels.length, x: sets.test.images, y: sets.test.labels },
  };
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
  return {
    name: "synthetic",
    inputShape: [features],
    classes,
    scale: 1,
    mean: [0],
    std: [1],
    train: { n: train, x: x.slice(0, train * features), y: y.slice(0, train) },
    test: { n: test, x: x.slice(train * features), y: y.slice(train) },
  };
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
