// Subsets of IDX files: `idx(…, train: N, test: M, seed)` takes seeded subsets of the files'
// examples (in the files' order), checked against the files' sizes before anything runs.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkIdxFiles, encodeIdx } from "../../runtime/data/idx.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { cifar10, idx } from "../../runtime/ops/datasets.js";
import { cifarFiles, encodeCifarBatch } from "../../runtime/data/cifar10.js";
import type { ParamValue } from "../../compiler/stage.js";
import type { OpContext } from "../../runtime/ops/context.js";

const dir = mkdtempSync(join(tmpdir(), "lth-idx-subset-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** n 2×2 images whose first pixel is the example's number in the file (offset by `base`), labelled number mod 10. */
function files(prefix: string, n: number, base: number): { images: string; labels: string } {
  const images = join(dir, `${prefix}-images`);
  const labels = join(dir, `${prefix}-labels`);
  writeFileSync(images, encodeIdx([n, 2, 2], Uint8Array.from({ length: n * 4 }, (_, i) => (i % 4 === 0 ? base + i / 4 : 0))));
  writeFileSync(labels, encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
  return { images, labels };
}
const train = files("train", 60, 0);
const test = files("test", 30, 100);
const paths = { images: train.images, labels: train.labels, test_images: test.images, test_labels: test.labels };

function load(params: Record<string, ParamValue>) {
  const ctx: OpContext = { stage: "data", params: { ...paths, ...params }, inputs: {}, files: paths, progress: () => {} };
  const d = idx(ctx);
  /** Each example's number in its file, from its first pixel. */
  const ids = (s: { n: number; x: Uint8Array | Float32Array }, base: number) => Array.from({ length: s.n }, (_, i) => s.x[i * 4]! - base);
  return { d, train: ids(d.train, 0), test: ids(d.test, 100), validation: d.validation ? ids(d.validation, 0) : [] };
}

describe("idx(…, train, test, seed)", () => {
  it("without them, every example of the files, in order", () => {
    const all = load({});
    expect(all.train).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(all.test).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it("takes seeded subsets in the files' order, with their labels; another seed, other examples", () => {
    const a = load({ train: 20, test: 10, seed: 1 });
    expect(a.train).toHaveLength(20);
    expect(a.test).toHaveLength(10);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(new Set(a.train).size).toBe(20);
    expect(Array.from(a.d.train.y)).toEqual(a.train.map((i) => i % 10));
    expect(Array.from(a.d.test.y)).toEqual(a.test.map((i) => i % 10));
    expect(load({ train: 20, test: 10, seed: 1 }).train).toEqual(a.train);
    expect(load({ train: 20, test: 10, seed: 2 }).train).not.toEqual(a.train);
    // Not simply the first examples.
    expect(a.train).not.toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("holds the validation split out of the subset", () => {
    const v = load({ train: 20, validation: 5, seed: 1 });
    const subset = load({ train: 20, seed: 1 }).train;
    expect(v.train).toHaveLength(15);
    expect(v.validation).toHaveLength(5);
    expect([...v.train, ...v.validation].sort((x, y) => x - y)).toEqual(subset);
  });

  it("refuses a subset larger than the file, before anything runs and in the stage, naming the file", () => {
    expect(checkIdxFiles(paths, 0, { train: 61 })).toBe(`train: 61 asks for more examples than ${train.images} holds (60)`);
    expect(checkIdxFiles(paths, 0, { test: 31 })).toBe(`test: 31 asks for more examples than ${test.images} holds (30)`);
    expect(checkIdxFiles(paths, 0, { train: 60, test: 30 })).toBeUndefined();
    expect(() => load({ train: 61 })).toThrow(OpFailure);
    expect(checkIdxFiles(paths, 20, { train: 20 })).toContain("validation");
  });
});

describe("cifar10(…, train, test, seed)", () => {
  // 5 batch files of 4 images and a test file of 6, each image's first byte its number in the set.
  const folder = join(dir, "cifar");
  mkdirSync(folder);
  cifarFiles(folder).forEach((file, b) => {
    const count = b < 5 ? 4 : 6;
    const first = b < 5 ? 4 * b : 100;
    writeFileSync(file, encodeCifarBatch(Array.from({ length: count }, (_, r) => (first + r) % 10), (r, offset) => (offset === 0 ? first + r : 7)));
  });
  const load = (params: Record<string, ParamValue>) => {
    const d = cifar10({ stage: "data", params: { dir: folder, label_noise: 0, ...params }, inputs: {}, files: { dir: folder }, progress: () => {} });
    const ids = (s: { n: number; x: Uint8Array | Float32Array }) => Array.from({ length: s.n }, (_, i) => s.x[i * 3072]!);
    return { train: ids(d.train), test: ids(d.test) };
  };

  it("seed 0 (or none) keeps the first images in file order; another seed draws a subset of them all", () => {
    expect(load({ train: 6, test: 3 })).toEqual({ train: [0, 1, 2, 3, 4, 5], test: [100, 101, 102] });
    expect(load({ train: 6, test: 3, seed: 0 })).toEqual(load({ train: 6, test: 3 }));
    const a = load({ train: 6, test: 3, seed: 4 });
    expect(a.train).toHaveLength(6);
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
    expect(a.train).not.toEqual([0, 1, 2, 3, 4, 5]);
    expect(Math.max(...a.train)).toBeLessThan(20);
    expect(load({ train: 6, test: 3, seed: 4 })).toEqual(a);
    expect(() => load({ train: 21, test: 3, seed: 4 })).toThrow(/train: 21 asks for more images than the files hold \(20\)/);
  });
});
