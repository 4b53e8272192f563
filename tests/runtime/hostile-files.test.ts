// Hostile data files through the CLI: a malformed IDX file or CIFAR-10 batch is an error
// naming the file at the call that reads it, found before anything runs. Nothing trains here:
// every run stops at planning, so the store is never even opened.

import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { cifarFiles, encodeCifarBatch, RECORD } from "../../runtime/data/cifar10.js";
import { encodeIdx } from "../../runtime/data/idx.js";
import { Rig } from "./rig.js";

const PIPELINE = `let d = idx(images: "images.idx", labels: "labels.idx", test_images: "test-images.idx", test_labels: "test-labels.idx")
let n = train(init(mlp(hidden: [8]), d, seed: 1), d, 1 epoch)
`;

const pixels = (n: number) => Uint8Array.from({ length: n * 4 * 4 }, (_, i) => (i * 31) % 256);
const labels = (n: number) => Uint8Array.from({ length: n }, (_, i) => i % 3);

/** A rig whose four IDX files are consistent: 6 training and 3 test images of 4×4. */
function idxRig(): Rig {
  const rig = new Rig(PIPELINE);
  writeFileSync(join(rig.dir, "images.idx"), encodeIdx([6, 4, 4], pixels(6)));
  writeFileSync(join(rig.dir, "labels.idx"), encodeIdx([6], labels(6)));
  writeFileSync(join(rig.dir, "test-images.idx"), encodeIdx([3, 4, 4], pixels(3)));
  writeFileSync(join(rig.dir, "test-labels.idx"), encodeIdx([3], labels(3)));
  return rig;
}

/** `lth run --json` and `lth plan` both exit 2 with `message` at the call, and nothing starts. */
async function refused(rig: Rig, where: string, message: string): Promise<void> {
  for (const args of [["run", rig.file, "--json"], ["plan", rig.file]]) {
    const r = await rig.lth(args);
    expect(r.exitCode, `${args[0]}: ${r.stderr}`).toBe(2);
    expect(r.stderr).toContain(`pipeline.lth:${where}: error: ${message}`);
    expect(r.stderr).not.toMatch(/ at /);
    // Nothing starts: `run --json` writes only the same error as a diagnostic line.
    if (args[0] === "plan") expect(r.stdout).toBe("");
    else {
      const [line, column] = where.split(":").map(Number);
      expect(r.stdout.split("\n").map((l) => JSON.parse(l) as unknown)).toEqual([{ type: "diagnostic", file: "pipeline.lth", line, column, endLine: line, endColumn: column, severity: "error", code: "cannot-run", message }]);
    }
  }
  expect(existsSync(join(rig.dir, ".lth"))).toBe(false);
}

describe("a malformed IDX file", () => {
  it("leaves a consistent set alone (the control)", async () => {
    const rig = idxRig();
    const r = await rig.lth(["plan", rig.file]);
    expect(r.exitCode, r.stderr).toBe(0);
  });

  it("with a wrong magic number is an error naming it, before anything runs", async () => {
    const rig = idxRig();
    const file = join(rig.dir, "images.idx");
    const bytes = encodeIdx([6, 4, 4], pixels(6));
    bytes[0] = 0x50;
    bytes[1] = 0x4b;
    writeFileSync(file, bytes);
    await refused(rig, "1:9", `${file}: not an IDX file: it starts with 0x50 0x4b, not 0x00 0x00`);
  });

  it("cut short is an error naming it", async () => {
    const rig = idxRig();
    const file = join(rig.dir, "test-images.idx");
    // 3×4×4 = 48 data bytes after a 16-byte header; 40 are left.
    writeFileSync(file, encodeIdx([3, 4, 4], pixels(3)).subarray(0, 16 + 40));
    await refused(rig, "1:9", `${file}: truncated: dimensions 3×4×4 need 48 bytes of data but only 40 are present`);
  });

  it("whose header claims 4e9×4e9 images in 20 bytes is an error naming it, without allocating them", async () => {
    const rig = idxRig();
    const file = join(rig.dir, "labels.idx");
    const bytes = new Uint8Array(20);
    const view = new DataView(bytes.buffer);
    bytes[2] = 0x08;
    bytes[3] = 2;
    view.setUint32(4, 4e9);
    view.setUint32(8, 4e9);
    writeFileSync(file, bytes);
    await refused(rig, "1:9", `${file}: truncated: dimensions 4000000000×4000000000 need 16000000000000000000 bytes of data but only 8 are present`);
  });

  it("gzipped and cut short is an error naming it", async () => {
    const rig = idxRig();
    const file = join(rig.dir, "images.idx");
    const zipped = gzipSync(encodeIdx([6, 4, 4], pixels(6)));
    writeFileSync(file, zipped.subarray(0, zipped.length - 12));
    await refused(rig, "1:9", `${file}: corrupt gzip data (unexpected end of file)`);
  });

  it("whose labels do not match its images is an error naming the labels", async () => {
    const rig = idxRig();
    const file = join(rig.dir, "labels.idx");
    writeFileSync(file, encodeIdx([5], labels(5)));
    await refused(rig, "1:9", `${file}: has 5 labels but ${join(rig.dir, "images.idx")} has 6 images`);
  });
});

describe("a malformed CIFAR-10 folder", () => {
  function cifarRig(): { rig: Rig; dir: string } {
    const rig = new Rig("");
    const dir = join(rig.dir, "cifar");
    mkdirSync(dir);
    // Two records in each training batch, three in the test batch.
    for (const [b, file] of cifarFiles(dir).entries()) writeFileSync(file, encodeCifarBatch(b < 5 ? [1, 2] : [3, 4, 5], (r, i) => r + i));
    return { rig, dir };
  }
  const pipeline = (train: number, test: number) => `let d = cifar10("cifar", train: ${train}, test: ${test})
let n = train(init(mlp(hidden: [8]), d, seed: 1), d, 1 epoch)
`;

  it("with a truncated batch is an error naming it, before anything runs", async () => {
    const { rig, dir } = cifarRig();
    rig.write(pipeline(8, 2));
    expect((await rig.lth(["plan", rig.file])).exitCode).toBe(0);
    const file = join(dir, "data_batch_2.bin");
    writeFileSync(file, encodeCifarBatch([1, 2], () => 0).subarray(0, RECORD + 100));
    await refused(rig, "1:9", `${file}: ${RECORD + 100} bytes is not a whole number of ${RECORD}-byte records; the file is truncated or not CIFAR-10`);
  });

  it("holding fewer images than asked for is an error before anything is read or allocated", async () => {
    const { rig, dir } = cifarRig();
    rig.write(pipeline(11, 2));
    const batches = [1, 2, 3, 4, 5].map((b) => join(dir, `data_batch_${b}.bin`)).join(", ");
    await refused(rig, "1:9", `${join(dir, "data_batch_1.bin")}: training set: asked for 11 images, but ${batches} hold 10`);
    rig.write(pipeline(10, 4));
    await refused(rig, "1:9", `${join(dir, "test_batch.bin")}: test set: asked for 4 images, but ${join(dir, "test_batch.bin")} hold 3`);
  });
});
