// OpenLTH's training recipe in `train`: random crop with 4-pixel zero padding and horizontal
// flip drawn per example per epoch from the stage's seed; evaluations every `eval_every`; and,
// on a dataset with a validation split, the early-stopping point (lowest validation loss).

import { beforeAll, describe, expect, it } from "vitest";
import type { DatasetValue, Split } from "../../runtime/core/dataset.js";
import { earlyStopOf, parametersDigest, type NetValue } from "../../runtime/core/net.js";
import { Augmenter, CROP_PADDING } from "../../runtime/engine/augment.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { standardised } from "../../runtime/engine/model.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { train } from "../../runtime/methods/training.js";
import { init, rewind } from "../../runtime/methods/nets.js";
import { pruned } from "./nets-fixture.js";
import { mnist, synthetic } from "../../runtime/ops/datasets.js";
import { ctx, trainParams } from "./nets-fixture.js";
import type { ParamValue } from "../../compiler/stage.js";

/** 6×5 images of 2 channels whose pixel values say where they are: byte = 10·y + x + 100·channel (mod 256). */
function tinyImages(n: number): DatasetValue {
  const [h, w, c] = [6, 5, 2];
  const x = new Uint8Array(n * h * w * c);
  for (let i = 0; i < n; i++) for (let y = 0; y < h; y++) for (let z = 0; z < w; z++) for (let k = 0; k < c; k++) x[((i * h + y) * w + z) * c + k] = (i + 10 * y + z + 100 * k) % 256;
  const split: Split = { n, x, y: Int32Array.from({ length: n }, (_, i) => i % 2) };
  return { name: "tiny", inputShape: [h, w, c], classes: 2, scale: 1, mean: [0, 0], std: [1, 1], train: split, test: split };
}

describe("crop_flip", () => {
  const data = tinyImages(40);
  const plain = standardised(data, data.train);
  const pixel = (i: number, y: number, x: number, k: number) => plain[((i * 6 + y) * 5 + x) * 2 + k]!;

  it("an offset of 4 without a flip is the image itself; a flip mirrors it; padding is a zero byte, standardised", () => {
    const a = new Augmenter(data, 0);
    const out = new Float32Array(6 * 5 * 2);
    a.example(3, { flip: false, dy: CROP_PADDING, dx: CROP_PADDING }, out, 0);
    expect(Array.from(out)).toEqual(Array.from(plain.subarray(3 * 60, 4 * 60)));
    a.example(3, { flip: true, dy: CROP_PADDING, dx: CROP_PADDING }, out, 0);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 5; x++) for (let k = 0; k < 2; k++) expect(out[(y * 5 + x) * 2 + k]).toBe(pixel(3, y, 4 - x, k));
    // Moved down by 1 and right by 2 (the crop starts 1 above and 2 left of the image).
    a.example(3, { flip: false, dy: CROP_PADDING - 1, dx: CROP_PADDING - 2 }, out, 0);
    for (let y = 0; y < 6; y++)
      for (let x = 0; x < 5; x++)
        for (let k = 0; k < 2; k++) expect(out[(y * 5 + x) * 2 + k], `${y},${x},${k}`).toBe(y < 1 || x < 2 ? 0 : pixel(3, y - 1, x - 2, k));
  });

  it("draws each example's flip and offsets per epoch from the seed: the same key gives the same batches", () => {
    const a = new Augmenter(data, 5);
    const b = new Augmenter(data, 5);
    const idx = Array.from({ length: 40 }, (_, i) => i);
    expect(a.batch(idx, 2)).toEqual(b.batch(idx, 2));
    expect(a.batch(idx, 2)).not.toEqual(a.batch(idx, 3));
    expect(a.batch(idx, 2)).not.toEqual(new Augmenter(data, 6).batch(idx, 2));
    // An example's draw does not depend on the batch it is in.
    expect(a.batch([7], 2)).toEqual(a.batch(idx, 2).subarray(7 * 60, 8 * 60));
    const d = a.drawsFor(2);
    expect(Math.max(...d.dy)).toBeLessThanOrEqual(2 * CROP_PADDING);
    expect(new Set(d.dx).size).toBeGreaterThan(4);
    expect(d.flip.includes(0) && d.flip.includes(1)).toBe(true);
  });

  it("needs images", () => {
    expect(() => new Augmenter(synthetic(ctx({ n: 20, features: 4, classes: 2, seed: 0, noise: 0.1 })), 0)).toThrow(OpFailure);
    expect(() => new Augmenter(synthetic(ctx({ n: 20, features: 4, classes: 2, seed: 0, noise: 0.1 })), 0)).toThrow(/crop_flip crops and flips images/);
  });
});

describe("train's evaluations and the early-stopping point", () => {
  let engine: Engine;
  const digits = mnist(ctx({ train: 700, test: 200, seed: 1 }));
  /** The digits with their last 200 training examples held out as a validation split. */
  const held: DatasetValue = {
    ...digits,
    train: { n: 500, x: digits.train.x.subarray(0, 500 * 784), y: digits.train.y.subarray(0, 500) },
    validation: { n: 200, x: digits.train.x.subarray(500 * 784), y: digits.train.y.subarray(500) },
  };
  const fresh = (d: DatasetValue) => init(ctx({ arch: { arch: "mlp", hidden: [32] }, scheme: "glorot", seed: 2 }, { data: d }));
  const run = (n: NetValue, d: DatasetValue, over: Record<string, ParamValue> = {}) => train(ctx(trainParams({ length: { epochs: 4 }, batch: 50, lr: 0.1, ...over }), { net: n, data: d }), engine);
  beforeAll(async () => {
    engine = await loadEngine("wasm", { threads: 1 });
  });

  it("measures every eval_every and at the end; the default (one epoch) is what train always did", () => {
    const every = run(fresh(held), held, { eval_every: { steps: 7 } });
    expect(every.history.map((p) => p.step)).toEqual([7, 14, 21, 28, 35, 40]);
    const plain = run(fresh(held), held);
    expect(plain.history.map((p) => p.step)).toEqual([10, 20, 30, 40]);
    expect(run(fresh(held), held, { eval_every: { epochs: 1 } }).layers[0]!.weight).toEqual(plain.layers[0]!.weight);
  });

  it("records the evaluation of lowest validation loss: its step, validation loss and test accuracy there", () => {
    const t = run(fresh(held), held, { length: { epochs: 12 } });
    const points = t.history.filter((p) => p.validationLoss !== undefined);
    expect(points).toHaveLength(12);
    const lowest = points.reduce((a, p) => (p.validationLoss! < a.validationLoss! ? p : a));
    const e = earlyStopOf(t)!;
    expect(e).toEqual({ step: lowest.step, epoch: lowest.epoch, validationLoss: lowest.validationLoss, validationAccuracy: lowest.validationAccuracy, testAccuracy: lowest.accuracy, testLoss: lowest.loss });
    expect(e.validationAccuracy).toBeGreaterThan(0.6);
    // It belongs to these parameters: a pruned or rewound net has none, and a dataset without a validation split gives none.
    expect(t.earlyStop!.parameters).toBe(parametersDigest(t));
    expect(earlyStopOf(pruned(t, { rate: 50 }))).toBeUndefined();
    expect(earlyStopOf(rewind(ctx({}, { net: t, to: fresh(held) })))).toBeUndefined();
    expect(run(fresh(digits), digits).earlyStop).toBeUndefined();
    // The validation examples are never trained on: the same run without them differs.
    expect(run(fresh(held), { ...held, validation: undefined }).layers[0]!.weight).toEqual(run(fresh(held), held).layers[0]!.weight);
  });

  it("crop_flip trains on images, deterministically, and changes what is learned", () => {
    const a = run(fresh(held), held, { augment: "crop_flip", length: { epochs: 2 } });
    const b = run(fresh(held), held, { augment: "crop_flip", length: { epochs: 2 } });
    const none = run(fresh(held), held, { length: { epochs: 2 } });
    expect(a.layers[0]!.weight).toEqual(b.layers[0]!.weight);
    expect(a.layers[0]!.weight).not.toEqual(none.layers[0]!.weight);
    // Well above chance (10%), though shifted and mirrored digits are a hard task for an MLP in two epochs.
    expect(a.measured!.accuracy).toBeGreaterThan(0.25);
    expect(() => run(fresh(synthetic(ctx({ n: 100, features: 4, classes: 2, seed: 0, noise: 0.1 }))), synthetic(ctx({ n: 100, features: 4, classes: 2, seed: 0, noise: 0.1 })), { augment: "crop_flip" })).toThrow(/crop_flip crops and flips images/);
  });
});
