// The data ops' `validation: N`: N training examples held out by a seeded permutation,
// disjoint from the training split that remains (which shrinks by N), the channel statistics
// and the label noise from the remaining training examples only, stored in the dataset file
// and read back; at 0 the dataset is byte-identical to one made without the parameter.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { ParamValue, Stage } from "../../compiler/stage.js";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import type { DatasetValue, Split } from "../../runtime/core/dataset.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { cifarFiles, encodeCifarBatch } from "../../runtime/data/cifar10.js";
import { cifar100Files, encodeCifar100Batch } from "../../runtime/data/cifar100.js";
import { encodeIdx } from "../../runtime/data/idx.js";
import { decodeSafetensors } from "../../runtime/store/safetensors.js";
import { augment, channelStatistics, cifar10, cifar100, holdOut, idx, mnist } from "../../runtime/ops/datasets.js";
import { IMPLEMENTATIONS } from "../../runtime/ops/index.js";
import { ctx } from "./nets-fixture.js";

const root = mkdtempSync(join(tmpdir(), "lth-validation-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * Every example is told apart by its first two bytes, which number it (0 to 65,535) in its
 * file: image `id` of the training files, 10,000 + `id` of the test files.
 */
const identity = (id: number, offset: number) => (offset === 0 ? id >> 8 : offset === 1 ? id & 0xff : (id * 31 + offset * 7) & 0xff);
const idOf = (split: Split, i: number, features: number) => split.x[i * features]! * 256 + split.x[i * features + 1]!;
const ids = (split: Split, features: number) => Array.from({ length: split.n }, (_, i) => idOf(split, i, features));

// CIFAR-10: 12 images in each training batch (60 in all), 10 test images; CIFAR-100: 60 and 10.
const cifar10Dir = join(root, "cifar10");
mkdirSync(cifar10Dir);
cifarFiles(cifar10Dir).forEach((file, b) => {
  const first = b < 5 ? b * 12 : 10_000;
  const n = b < 5 ? 12 : 10;
  // The channel-major record: byte 0 of the image is red pixel 0, which lands at HWC byte 0.
  writeFileSync(file, encodeCifarBatch(Array.from({ length: n }, (_, r) => (first + r) % 10), (r, i) => identity(first + r, i < 2 ? i : i + 2)));
});
const cifar100Dir = join(root, "cifar100");
mkdirSync(cifar100Dir);
cifar100Files(cifar100Dir).forEach((file, b) => {
  const first = b === 0 ? 0 : 10_000;
  const n = b === 0 ? 60 : 10;
  const records = Array.from({ length: n }, (_, r) => first + r);
  writeFileSync(file, encodeCifar100Batch(records.map((r) => r % 20), records.map((r) => r % 100), (r, i) => identity(first + r, i < 2 ? i : i + 2)));
});

/** The pixel bytes red 0 and red 1 of an HWC image are its record's image bytes 0 and 1, so the identity survives the layout change. */
const IMAGE_FEATURES = 32 * 32 * 3;
function identityHwc(split: Split): number[] {
  return Array.from({ length: split.n }, (_, i) => split.x[i * IMAGE_FEATURES]! * 256 + split.x[i * IMAGE_FEATURES + 3]!);
}

// IDX: 40 training images of 6×6, 15 test images.
const idxDir = join(root, "idx");
mkdirSync(idxDir);
const idxFiles = { images: join(idxDir, "train-images"), labels: join(idxDir, "train-labels"), test_images: join(idxDir, "test-images"), test_labels: join(idxDir, "test-labels") };
for (const [images, labels, first, n] of [[idxFiles.images, idxFiles.labels, 0, 40], [idxFiles.test_images, idxFiles.test_labels, 10_000, 15]] as const) {
  writeFileSync(images, encodeIdx([n, 6, 6], Uint8Array.from({ length: n * 36 }, (_, k) => identity(first + Math.floor(k / 36), k % 36))));
  writeFileSync(labels, encodeIdx([n], Uint8Array.from({ length: n }, (_, r) => (first + r) % 4)));
}

type Op = "mnist" | "idx" | "cifar10" | "cifar100";

function make(op: Op, params: Record<string, ParamValue> = {}): DatasetValue {
  switch (op) {
    case "mnist":
      return mnist(ctx({ train: 300, test: 100, seed: 4, ...params }));
    case "idx":
      return idx({ ...ctx(params), files: idxFiles });
    case "cifar10":
      return cifar10({ ...ctx({ train: 60, test: 10, ...params }), files: { dir: cifar10Dir } });
    case "cifar100":
      return cifar100({ ...ctx({ labels: "fine", train: 60, test: 10, ...params }), files: { dir: cifar100Dir } });
  }
}

/** Each example's identity: its number in its file for the written sets; for MNIST, its bytes and label (the digits hold no duplicate). */
function identities(op: Op, split: Split): string[] {
  if (op === "mnist") {
    return Array.from({ length: split.n }, (_, i) => `${split.y[i]}:${Buffer.from(split.x.subarray(i * 784, (i + 1) * 784)).toString("base64")}`);
  }
  return (op === "idx" ? ids(split, 36) : identityHwc(split)).map(String);
}

const bytesOf = (d: DatasetValue) => Buffer.from(encodeArtifact({ kind: "Dataset", dataset: d }));

describe.each(["mnist", "idx", "cifar10", "cifar100"] as const)("%s with validation: N", (op) => {
  const all = make(op);
  const n = all.train.n;
  const held = make(op, { validation: 10 });

  it("holds N training examples out, disjoint from the training split that remains", () => {
    expect(held.validation!.n).toBe(10);
    expect(held.train.n).toBe(n - 10);
    expect([held.train.x.length, held.validation!.x.length, held.validation!.y.length]).toEqual([all.train.x.length / n * (n - 10), all.train.x.length / n * 10, 10]);
    const train = identities(op, held.train);
    const validation = identities(op, held.validation!);
    expect(new Set(train).size).toBe(train.length);
    expect(validation.filter((v) => train.includes(v))).toEqual([]);
    // Together they are the training set without the split, each example with its label.
    expect([...train, ...validation].sort()).toEqual(identities(op, all.train).sort());
    // The test set is untouched.
    expect(bytesOf({ ...held, train: all.train, validation: undefined, mean: all.mean, std: all.std }).equals(bytesOf(all))).toBe(true);
    // The remaining examples keep their order.
    const order = identities(op, all.train);
    expect(train.map((t) => order.indexOf(t))).toEqual([...train.map((t) => order.indexOf(t))].sort((a, b) => a - b));
  });

  it("chooses them by a seeded permutation: the same each time, not simply the first or the last", () => {
    const again = make(op, { validation: 10 });
    expect(bytesOf(again).equals(bytesOf(held))).toBe(true);
    const order = identities(op, all.train);
    const positions = identities(op, held.validation!).map((v) => order.indexOf(v));
    expect(positions).not.toEqual(Array.from({ length: 10 }, (_, k) => k));
    expect(positions).not.toEqual(Array.from({ length: 10 }, (_, k) => n - 10 + k));
    // More held out: another draw of the same stream, so the first ten are among the twenty.
    const twenty = identities(op, make(op, { validation: 20 }).validation!);
    expect(identities(op, held.validation!).every((v) => twenty.includes(v))).toBe(true);
  });

  it("standardises with the remaining training examples; label noise reaches only their labels", () => {
    if (op === "mnist") {
      expect([held.mean, held.std]).toEqual([[0.1307], [0.3081]]);
    } else {
      const channels = held.inputShape[2]!;
      expect({ mean: held.mean, std: held.std }).toEqual(channelStatistics(held.train.x as Uint8Array, channels, 1 / 255));
      expect(held.mean).not.toEqual(all.mean);
    }
    const noisy = make(op, { validation: 10, label_noise: 0.5 });
    expect(noisy.validation!.y).toEqual(held.validation!.y);
    expect(Buffer.from(noisy.train.x).equals(Buffer.from(held.train.x))).toBe(true);
    const changed = Array.from(noisy.train.y).filter((y, i) => y !== held.train.y[i]).length;
    expect(changed).toBe(Math.round(0.5 * (n - 10)));
  });

  it("at validation: 0 is byte-identical to the dataset made without it", () => {
    const zero = make(op, { validation: 0 });
    expect(zero.validation).toBeUndefined();
    expect(bytesOf(zero).equals(bytesOf(all))).toBe(true);
    expect(bytesOf(make(op, { validation: 0, label_noise: 0.1 })).equals(bytesOf(make(op, { label_noise: 0.1 })))).toBe(true);
  });

  it("round-trips through the dataset file, which holds the split only when there is one", () => {
    const file = encodeArtifact({ kind: "Dataset", dataset: held });
    const { tensors } = decodeSafetensors(file, "d.safetensors");
    expect(tensors.get("validation.x")!.shape).toEqual([10, ...held.inputShape]);
    expect(tensors.get("validation.y")!.shape).toEqual([10]);
    const back = decodeArtifact("Dataset", file, "d.safetensors");
    if (back.kind !== "Dataset") throw new Error("not a dataset");
    expect(back.dataset.validation!.n).toBe(10);
    expect(Buffer.from(back.dataset.validation!.x).equals(Buffer.from(held.validation!.x))).toBe(true);
    expect(Array.from(back.dataset.validation!.y)).toEqual(Array.from(held.validation!.y));
    expect(back.dataset.train.n).toBe(n - 10);
    expect(Buffer.from(encodeArtifact(back)).equals(Buffer.from(file))).toBe(true);
    const plain = decodeArtifact("Dataset", encodeArtifact({ kind: "Dataset", dataset: all }), "d.safetensors");
    expect(plain.kind === "Dataset" && "validation" in plain.dataset).toBe(false);
    expect([...decodeSafetensors(bytesOf(all), "d").tensors.keys()].sort()).toEqual(["test.x", "test.y", "train.x", "train.y"]);
  });
});

describe("the validation split's seed", () => {
  it("is mnist's seed: another seed holds out other digits", () => {
    const a = mnist(ctx({ train: 300, test: 100, seed: 4, validation: 30 }));
    const b = mnist(ctx({ train: 300, test: 100, seed: 5, validation: 30 }));
    expect(identities("mnist", a.validation!)).not.toEqual(identities("mnist", b.validation!));
  });

  it("draws from its own stream, named for the op: the same seed, another op, another choice", () => {
    const split: Split = { n: 100, x: Uint8Array.from({ length: 100 }, (_, i) => i), y: new Int32Array(100) };
    const chosen = (seed: number, op: string) => Array.from(holdOut(split, 1, 10, seed, op).validation!.x);
    expect(chosen(0, "cifar10")).toEqual(chosen(0, "cifar10"));
    expect(chosen(0, "cifar10")).not.toEqual(chosen(1, "cifar10"));
    expect(chosen(0, "cifar10")).not.toEqual(chosen(0, "cifar100"));
    // Float features are held out as floats.
    const floats: Split = { n: 4, x: Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]), y: Int32Array.from([0, 1, 2, 3]) };
    const { train, validation } = holdOut(floats, 2, 1, 0, "t");
    expect(validation!.x).toBeInstanceOf(Float32Array);
    expect(Array.from(validation!.x).concat(Array.from(train.x)).sort()).toEqual(Array.from(floats.x).sort());
  });
});

describe("a validation split that leaves nothing to train on", () => {
  it("is an error for idx naming the file and the value, at plan time and when the stage runs", () => {
    const message = `${idxFiles.images}: holds 40 training images, so validation: 40 would leave none to train on; validation must be below 40`;
    expect(() => make("idx", { validation: 40 })).toThrow(OpFailure);
    expect(() => make("idx", { validation: 40 })).toThrow(message);
    const stage = (validation?: number) => ({ id: "d", op: "idx", version: 1, params: validation === undefined ? {} : { validation }, inputs: {}, files: idxFiles, result: "Dataset" }) as unknown as Stage;
    expect(IMPLEMENTATIONS.get("idx")!.validate!(stage(40))).toBe(message);
    expect(IMPLEMENTATIONS.get("idx")!.validate!(stage(39))).toBeUndefined();
    expect(IMPLEMENTATIONS.get("idx")!.validate!(stage())).toBeUndefined();
    expect(make("idx", { validation: 39 }).train.n).toBe(1);
  });

  it("is an error for the ops with `train` too, should the checker's rule be bypassed", () => {
    expect(() => make("cifar10", { train: 10, validation: 10 })).toThrow(/validation: 10 must be a whole number below the 10 training examples/);
  });
});

describe("datasets derived from a validated one", () => {
  it("keep the validation split through augment, which grows only the training split", () => {
    const held = make("idx", { validation: 10 });
    const grown = augment(ctx({ factor: 2, shift: 1, noise: 0, seed: 1 }, { data: held }));
    expect(grown.train.n).toBe(60);
    expect(grown.validation).toBe(held.validation);
  });
});
