// CIFAR-100's binary version (train.bin, test.bin; each record a coarse label byte, a fine
// label byte, then the red, green and blue planes of a 32×32 image): small files written
// here, read back exactly with either label, and every fault (a missing or truncated file, a
// label out of range, too few images) an error naming the file, before anything is allocated
// for the images. The checker wants the folder with both files.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkProgram, diskDataFiles, ModuleLoader } from "../../dsl/check/index.js";
import { CIFAR100_FILES } from "../../dsl/check/data-files.js";
import { compile } from "../../compiler/compile.js";
import { stagesInOrder } from "../../compiler/graph-format.js";
import type { ParamValue, Stage } from "../../compiler/stage.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { cifar100Files, encodeCifar100Batch, RECORD, TEST_FILE, TRAIN_FILE } from "../../runtime/data/cifar100.js";
import { cifar10, cifar100, channelStatistics } from "../../runtime/ops/datasets.js";
import { IMPLEMENTATIONS } from "../../runtime/ops/index.js";
import { cifarFiles, encodeCifarBatch } from "../../runtime/data/cifar10.js";
import { ctx } from "./nets-fixture.js";

const root = mkdtempSync(join(tmpdir(), "lth-cifar100-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const TRAIN = 50;
const TEST = 20;
/** Record r of the training file (r ≥ 1000 for the test file): its labels and bytes. */
const fine = (r: number) => (r * 7 + 3) % 100;
const coarse = (r: number) => (r * 3 + 1) % 20;
const pixel = (r: number, offset: number) => (r * 13 + offset * 5 + (offset >> 10)) & 0xff;

let folders = 0;
/** A fresh folder holding 50 training and 20 test records. */
function folder(train = TRAIN, test = TEST): string {
  const dir = join(root, `set-${folders++}`);
  mkdirSync(dir);
  const records = (first: number, n: number) => {
    const ids = Array.from({ length: n }, (_, r) => first + r);
    return encodeCifar100Batch(ids.map(coarse), ids.map(fine), (r, i) => pixel(first + r, i));
  };
  writeFileSync(join(dir, TRAIN_FILE), records(0, train));
  writeFileSync(join(dir, TEST_FILE), records(1000, test));
  return dir;
}

function read(dir: string, params: Record<string, ParamValue> = {}) {
  return cifar100({ ...ctx({ labels: "fine", train: TRAIN, test: TEST, ...params }), files: { dir } });
}

/** The error `run` throws, which must be an OpFailure. */
function failure(run: () => unknown): string {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(OpFailure);
    return (e as Error).message;
  }
  throw new Error("expected the read to fail");
}

/** A stage as the compiler makes it, for the op's plan-time hooks. */
function stage(dir: string, params: Record<string, ParamValue>): Stage {
  return { id: "d", op: "cifar100", version: 1, params, inputs: {}, files: { dir }, result: "Dataset" } as unknown as Stage;
}

describe("cifar100 reads CIFAR-100's binary files", () => {
  const dir = folder();

  it("writes records of 1 coarse byte, 1 fine byte and 3,072 image bytes", () => {
    expect(RECORD).toBe(3074);
    const bytes = encodeCifar100Batch([5, 19], [42, 99], (r, i) => r * 100 + i);
    expect(bytes.length).toBe(2 * 3074);
    expect([bytes[0], bytes[1], bytes[2], bytes[3075], bytes[3074], bytes[3075 + 1]]).toEqual([5, 42, 0, 99, 19, 100]);
  });

  it("reads every image into 32×32×3 bytes, channels last, with the fine labels", () => {
    const d = read(dir);
    expect([d.name, d.train.n, d.test.n, d.inputShape, d.classes, d.scale]).toEqual(["cifar100", TRAIN, TEST, [32, 32, 3], 100, 1 / 255]);
    expect(Array.from(d.train.y)).toEqual(Array.from({ length: TRAIN }, (_, r) => fine(r)));
    expect(Array.from(d.test.y)).toEqual(Array.from({ length: TEST }, (_, r) => fine(1000 + r)));
    // Every byte: pixel p of channel c sat at c × 1,024 + p in its record's image.
    for (const [split, first] of [[d.train, 0], [d.test, 1000]] as const) {
      for (let n = 0; n < split.n; n++) {
        for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) {
          if (split.x[(n * 1024 + p) * 3 + c] !== pixel(first + n, c * 1024 + p)) throw new Error(`image ${n}, pixel ${p}, channel ${c}`);
        }
      }
    }
    expect(d.validation).toBeUndefined();
    expect(d.train.x).toBeInstanceOf(Uint8Array);
  });

  it("reads the coarse labels, 20 classes, the images the same", () => {
    const f = read(dir);
    const c = read(dir, { labels: "coarse" });
    expect(c.classes).toBe(20);
    expect(Array.from(c.train.y)).toEqual(Array.from({ length: TRAIN }, (_, r) => coarse(r)));
    expect(Array.from(c.test.y)).toEqual(Array.from({ length: TEST }, (_, r) => coarse(1000 + r)));
    expect(Buffer.from(c.train.x).equals(Buffer.from(f.train.x))).toBe(true);
    expect(Buffer.from(c.test.x).equals(Buffer.from(f.test.x))).toBe(true);
  });

  it("standardises each channel with the training images' own statistics, as cifar10 does", () => {
    const d = read(dir, { train: 30 });
    expect(d.train.n).toBe(30);
    expect(Array.from(d.train.y)).toEqual(Array.from({ length: 30 }, (_, r) => fine(r)));
    expect({ mean: d.mean, std: d.std }).toEqual(channelStatistics(d.train.x as Uint8Array, 3, 1 / 255));
    // The same images as CIFAR-10 batches give the same statistics.
    const ten = join(root, "as-cifar10");
    mkdirSync(ten);
    // Batch 1 holds the same 30 images; the other files one record each, not read.
    cifarFiles(ten).forEach((file, b) => {
      const ids = b === 0 ? Array.from({ length: 30 }, (_, r) => r) : [1000 + b];
      writeFileSync(file, encodeCifarBatch(ids.map((r) => r % 10), (r, i) => pixel(ids[r]!, i)));
    });
    const c10 = cifar10({ ...ctx({ train: 30, test: 1 }), files: { dir: ten } });
    expect(Buffer.from(c10.train.x).equals(Buffer.from(d.train.x))).toBe(true);
    expect([c10.mean, c10.std]).toEqual([d.mean, d.std]);
  });

  it("replaces a seeded share of the training labels with other classes; the test labels stay clean", () => {
    const clean = read(dir);
    const noisy = read(dir, { label_noise: 0.2 });
    const changed = Array.from(noisy.train.y).filter((y, i) => y !== clean.train.y[i]);
    expect(changed).toHaveLength(10);
    expect(noisy.test.y).toEqual(clean.test.y);
    expect(read(dir, { label_noise: 0.2 }).train.y).toEqual(noisy.train.y);
    expect(Array.from(read(dir, { labels: "coarse", label_noise: 0.2 }).train.y).every((y) => y >= 0 && y < 20)).toBe(true);
  });
});

describe("cifar100 refuses damaged files, naming them", () => {
  it("a truncated file: at plan time from its size, and when the stage reads it", () => {
    const dir = folder();
    const file = join(dir, TRAIN_FILE);
    writeFileSync(file, encodeCifar100Batch([1, 2], [3, 4], () => 0).subarray(0, RECORD + 100));
    const message = `${file}: ${RECORD + 100} bytes is not a whole number of ${RECORD}-byte records; the file is truncated or not CIFAR-100`;
    expect(IMPLEMENTATIONS.get("cifar100")!.validate!(stage(dir, { train: 1, test: 1 }))).toBe(message);
    expect(failure(() => read(dir, { train: 1, test: 1 }))).toBe(message);
  });

  it("a missing file", () => {
    const dir = folder();
    rmSync(join(dir, TEST_FILE));
    const message = `${join(dir, TEST_FILE)}: no such file (CIFAR-100's binary version has train.bin and test.bin)`;
    expect(IMPLEMENTATIONS.get("cifar100")!.validate!(stage(dir, { train: 1, test: 1 }))).toBe(message);
    expect(failure(() => read(dir))).toBe(message);
  });

  it("a fine label over 99 or a coarse label over 19, whichever labels are learned", () => {
    for (const [which, byte, value, text] of [
      ["fine", 1, 100, "record 7 has fine label 100; CIFAR-100 fine labels are 0 to 99"],
      ["coarse", 0, 20, "record 7 has coarse label 20; CIFAR-100 coarse labels are 0 to 19"],
    ] as const) {
      const dir = folder();
      const file = join(dir, TRAIN_FILE);
      const ids = Array.from({ length: TRAIN }, (_, r) => r);
      const bytes = encodeCifar100Batch(ids.map(coarse), ids.map(fine), (r, i) => pixel(r, i));
      bytes[7 * RECORD + byte] = value;
      writeFileSync(file, bytes);
      for (const labels of ["fine", "coarse"]) expect(failure(() => read(dir, { labels })), `${which} read as ${labels}`).toBe(`${file}: ${text}`);
      // Records before it are fine: reading only those succeeds.
      expect(read(dir, { train: 7 }).train.n).toBe(7);
    }
  });

  it("fewer images than asked for, from the sizes alone", () => {
    const dir = folder(10, 5);
    const train = join(dir, TRAIN_FILE);
    const test = join(dir, TEST_FILE);
    expect(IMPLEMENTATIONS.get("cifar100")!.validate!(stage(dir, { train: 11, test: 5 }))).toBe(`${train}: training set: asked for 11 images, but ${train} hold 10`);
    expect(IMPLEMENTATIONS.get("cifar100")!.validate!(stage(dir, { train: 10, test: 6 }))).toBe(`${test}: test set: asked for 6 images, but ${test} hold 5`);
    expect(IMPLEMENTATIONS.get("cifar100")!.validate!(stage(dir, { train: 10, test: 5 }))).toBeUndefined();
    expect(failure(() => read(dir, { train: 11, test: 5 }))).toBe(`${train}: training set: asked for 11 images, but ${train} hold 10`);
  });

  it("the stage key holds both files' contents, by name", () => {
    const dir = folder();
    expect(IMPLEMENTATIONS.get("cifar100")!.reads!(stage(dir, {}))).toEqual({ "train.bin": join(dir, TRAIN_FILE), "test.bin": join(dir, TEST_FILE) });
  });
});

describe("the checker and cifar100's folder", () => {
  it("wants the two files that the runtime reads", () => {
    expect(cifar100Files("/d").map((f) => basename(f))).toEqual([...CIFAR100_FILES]);
  });

  function diagnose(main: string, text: string): string[] {
    writeFileSync(main, text);
    const result = checkProgram(main, new ModuleLoader(), { dataFiles: diskDataFiles });
    if ("problem" in result) throw new Error(result.problem);
    return result.diagnostics.map((d) => `${d.code}: ${d.message}`);
  }

  it("reads a relative folder from the .lth file's folder, and finds a missing folder or file", () => {
    const project = join(root, "project");
    mkdirSync(join(project, "pipelines"), { recursive: true });
    const dir = folder();
    const main = join(project, "pipelines", "main.lth");
    expect(diagnose(main, `let d = cifar100("${dir}", labels: coarse, train: 40, test: 10, validation: 5)\n`)).toEqual([]);
    expect(diagnose(main, `let d = cifar100("cifar-100-binary")\n`)).toEqual([
      `data-not-found: 'dir': "cifar-100-binary" does not exist (a relative path is read from the folder of "main.lth")`,
    ]);
    mkdirSync(join(project, "pipelines", "cifar-100-binary"));
    writeFileSync(join(project, "pipelines", "cifar-100-binary", "train.bin"), "");
    expect(diagnose(main, `let d = cifar100("cifar-100-binary")\n`)).toEqual([
      `data-not-found: 'dir': "cifar-100-binary" does not hold test.bin (CIFAR-100's binary version: train.bin and test.bin)`,
    ]);
    writeFileSync(join(project, "pipelines", "cifar-100-binary", "test.bin"), "");
    expect(diagnose(main, `let d = cifar100("cifar-100-binary")\n`)).toEqual([]);
    expect(diagnose(main, `let d = cifar100("cifar-100-binary/train.bin")\n`)[0]).toContain(`"cifar-100-binary/train.bin" is a file; 'cifar100' reads a folder holding CIFAR-100's binary version`);
  });

  it("compiles the folder to an absolute path, relative to the .lth file", () => {
    const project = join(root, "compiled");
    mkdirSync(join(project, "data"), { recursive: true });
    const dir = folder();
    const main = join(project, "main.lth");
    writeFileSync(main, `let d = cifar100("${basename(dir)}", labels: coarse)\n`);
    const moved = join(project, basename(dir));
    mkdirSync(moved);
    for (const f of CIFAR100_FILES) writeFileSync(join(moved, f), "");
    const checked = checkProgram(main, new ModuleLoader(), { dataFiles: diskDataFiles });
    if ("problem" in checked || !checked.ok) throw new Error(JSON.stringify(checked));
    const [only] = stagesInOrder(compile(checked.program));
    expect(only!.op).toBe("cifar100");
    expect(only!.files).toEqual({ dir: moved });
    expect(only!.params["labels"]).toBe("coarse");
    // Parameters added later stay out of the key at their defaults.
    expect("validation" in only!.params).toBe(false);
    expect("label_noise" in only!.params).toBe(false);
  });
});
