// `concat`: the concatenated-inputs construction of Chen, Wang & Kyrillidis, "Mitigating Deep
// Double Descent by Concatenating Inputs" (CIKM 2021, arXiv 2107.00797, §3), which grows n
// training examples to as many as n² by joining every ordered pair of inputs into one.
//
// The paper's rules, as its text states them:
// - pairs: every ordered pair (i, j) of training inputs, an input with itself included, so
//   (x1, x2) gives [x1, x1], [x1, x2], [x2, x1], [x2, x2];
// - label: the average of the two targets, (y_i + y_j)/2 — for classes, the mean of the two
//   one-hot vectors (0.5/0.5 for a pair of two classes, one-hot for a pair of one);
// - test: each test input joined with itself, keeping its label.
// With `pairs` below n², lth keeps the n pairs of an input with itself (the original set, as
// the paper's control arm "an image concatenated with itself") and draws the other pairs'
// (i ≠ j, distinct, ordered) uniformly with the seed; `pairs: n²` is every pair, as the paper.
// Images are joined side by side (height × 2·width × channels; the paper's MNIST figure stacks
// them, which a conv net sees the same way turned); flat features one after the other.
// Standardisation (mean, std per channel) is the original's: the pairs are made of its inputs.

import type { DatasetValue, Split } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";
import { Random } from "../core/random.js";
import { datasetInput, num, type OpContext } from "./context.js";
import { MAX_AUGMENTED_BYTES } from "./datasets.js";

/** The training inputs of pair (a, b) joined: side by side for images, one after the other otherwise. */
function join(x: Uint8Array | Float32Array, shape: readonly number[], a: number, b: number, out: Uint8Array | Float32Array, at: number): void {
  const features = shape.reduce((p, q) => p * q, 1);
  if (shape.length !== 3) {
    out.set(x.subarray(a * features, (a + 1) * features), at);
    out.set(x.subarray(b * features, (b + 1) * features), at + features);
    return;
  }
  const [height, width, channels] = shape as [number, number, number];
  const row = width * channels;
  for (let r = 0; r < height; r++) {
    out.set(x.subarray(a * features + r * row, a * features + (r + 1) * row), at + 2 * r * row);
    out.set(x.subarray(b * features + r * row, b * features + (r + 1) * row), at + (2 * r + 1) * row);
  }
}

/** `split` with example i of `pairs` made of inputs firsts[i] and seconds[i]. */
function paired(split: Split, shape: readonly number[], firsts: Uint32Array, seconds: Uint32Array, twoLabels: boolean): Split {
  const features = shape.reduce((p, q) => p * q, 1);
  const n = firsts.length;
  const x = split.x instanceof Uint8Array ? new Uint8Array(n * 2 * features) : new Float32Array(n * 2 * features);
  for (let i = 0; i < n; i++) join(split.x, shape, firsts[i]!, seconds[i]!, x, i * 2 * features);
  const y = Int32Array.from(firsts, (a) => split.y[a]!);
  return { n, x, y, ...(twoLabels ? { y2: Int32Array.from(seconds, (b) => split.y[b]!) } : {}) };
}

/** Each example of `split` joined with itself, its label kept (the paper's test set). */
function doubled(split: Split, shape: readonly number[]): Split {
  const all = Uint32Array.from({ length: split.n }, (_, i) => i);
  return paired(split, shape, all, all, false);
}

/**
 * The ordered pairs of the training set: (i, i) for every i, then `pairs − n` distinct pairs
 * (i, j), i ≠ j, drawn uniformly with the seed (every one of them, in order, when that is all).
 */
export function choosePairs(n: number, pairs: number, seed: number): { firsts: Uint32Array; seconds: Uint32Array } {
  const firsts = new Uint32Array(pairs);
  const seconds = new Uint32Array(pairs);
  for (let i = 0; i < n; i++) [firsts[i], seconds[i]] = [i, i];
  const cross = pairs - n;
  const all = n * (n - 1);
  const random = new Random(seed, "concat/pairs");
  if (cross === all) {
    let k = n;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) [firsts[k], seconds[k++]] = [i, j];
  } else if (cross > all / 2) {
    // Most of them: a seeded partial shuffle of all the codes i·n + j.
    const codes = new Float64Array(all);
    let k = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) codes[k++] = i * n + j;
    for (let c = 0; c < cross; c++) {
      const pick = c + random.int(all - c);
      [codes[c], codes[pick]] = [codes[pick]!, codes[c]!];
      [firsts[n + c], seconds[n + c]] = [Math.floor(codes[c]! / n), codes[c]! % n];
    }
  } else {
    const seen = new Set<number>();
    for (let c = 0; c < cross; ) {
      const i = random.int(n);
      const j = random.int(n);
      if (i === j || seen.has(i * n + j)) continue;
      seen.add(i * n + j);
      [firsts[n + c], seconds[n + c]] = [i, j];
      c++;
    }
  }
  return { firsts, seconds };
}

export function concat(ctx: OpContext): DatasetValue {
  const data = datasetInput(ctx, "data");
  const pairs = num(ctx, "pairs");
  const seed = num(ctx, "seed");
  const n = data.train.n;
  if (data.train.targets) throw new OpFailure(`concat labels each pair by its two classes, and the dataset '${data.name}' has values (regression), not classes`);
  if (data.train.y2) throw new OpFailure(`the dataset '${data.name}' is already made of concatenated pairs; concat joins two inputs, not pairs of pairs`);
  if (pairs < n || pairs > n * n) {
    throw new OpFailure(
      `pairs is ${pairs.toLocaleString("en")}, but the dataset '${data.name}' has ${n.toLocaleString("en")} training examples: pairs must be from ${n.toLocaleString("en")} (each input with itself) to ${(n * n).toLocaleString("en")} (every ordered pair)`,
    );
  }
  const features = data.inputShape.reduce((p, q) => p * q, 1);
  const bytes = pairs * 2 * features * (data.train.x instanceof Uint8Array ? 1 : 4);
  if (bytes > MAX_AUGMENTED_BYTES) {
    throw new OpFailure(
      `${pairs.toLocaleString("en")} pairs of ${(2 * features).toLocaleString("en")} features are ${(bytes / 2 ** 30).toFixed(1)} GiB, more than lth's limit of 1 GiB for a grown training set; use fewer pairs`,
    );
  }
  const shape = data.inputShape;
  const { firsts, seconds } = choosePairs(n, pairs, seed);
  const joined = shape.length === 3 ? [shape[0]!, 2 * shape[1]!, shape[2]!] : [2 * features];
  return {
    ...data,
    name: `${data.name}, ${pairs.toLocaleString("en")} concatenated pairs`,
    inputShape: joined,
    // Flat features have one standardisation entry; images one per channel, unchanged by joining.
    train: paired(data.train, shape, firsts, seconds, true),
    test: doubled(data.test, shape),
    ...(data.validation ? { validation: doubled(data.validation, shape) } : {}),
  };
}
