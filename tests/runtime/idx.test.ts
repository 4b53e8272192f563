// IDX files as the MNIST family ships them: raw and gzipped round trips, every lie a file
// can tell about its size caught with the file named, and the real Fashion-MNIST when installed.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { DataFileError, encodeIdx, readIdx, readIdxDataset } from "../../runtime/data/idx.js";

const dir = mkdtempSync(join(tmpdir(), "lth-idx-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** A raw IDX header claiming any type and dimensions, followed by `data`. */
function header(type: number, dims: number[], data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = type;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

function fails(read: () => unknown, file: string, ...fragments: RegExp[]): void {
  let caught: unknown;
  try {
    read();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(DataFileError);
  const error = caught as DataFileError;
  expect(error.file).toBe(file);
  expect(error.message.startsWith(`${file}: `)).toBe(true);
  for (const fragment of fragments) expect(error.message).toMatch(fragment);
}

const pixels = Uint8Array.from({ length: 3 * 2 * 4 }, (_, i) => (i * 37) % 256);

describe("encodeIdx / readIdx", () => {
  it("writes the documented layout: zero magic, type 0x08, big-endian dimensions", () => {
    expect([...encodeIdx([2, 258], new Uint8Array(516)).subarray(0, 12)]).toEqual([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 1, 2]);
  });

  it("round-trips raw and gzipped files, whatever their extension", () => {
    const bytes = encodeIdx([3, 2, 4], pixels);
    for (const path of [write("raw.idx", bytes), write("zipped.idx", gzipSync(bytes)), write("raw.gz", bytes)]) {
      const { dims, data } = readIdx(path);
      expect(dims, path).toEqual([3, 2, 4]);
      expect(data, path).toEqual(pixels);
    }
  });

  it("round-trips one to four dimensions and zero-length data", () => {
    for (const dims of [[5], [1, 5], [1, 1, 5], [1, 5, 1, 1], [0, 28, 28]]) {
      const data = new Uint8Array(dims.reduce((a, b) => a * b, 1)).fill(9);
      expect(readIdx(write(`dims-${dims.join("x")}.idx`, encodeIdx(dims, data)))).toEqual({ dims, data });
    }
  });

  it("refuses to encode data that does not fill the dimensions", () => {
    expect(() => encodeIdx([2, 2], new Uint8Array(3))).toThrow(/2×2 hold 4 bytes but the data has 3/);
    expect(() => encodeIdx([], new Uint8Array(0))).toThrow(/0 dimensions/);
    expect(() => encodeIdx([2 ** 32], new Uint8Array(0))).toThrow(/32-bit unsigned/);
  });
});

describe("readIdx rejects bad files", () => {
  it("a missing file", () => {
    const path = join(dir, "absent.idx");
    fails(() => readIdx(path), path, /no such file/);
  });

  it("a wrong magic number", () => {
    const path = write("magic.idx", new Uint8Array([0x50, 0x4b, 8, 1, 0, 0, 0, 0]));
    fails(() => readIdx(path), path, /not an IDX file: it starts with 0x50 0x4b/);
  });

  it("an unsupported element type, named", () => {
    const path = write("float.idx", header(0x0d, [1], new Uint8Array(4)));
    fails(() => readIdx(path), path, /unsupported element type 0x0d \(float\)/);
  });

  it("zero or more than four dimensions", () => {
    const none = write("ndims0.idx", header(8, []));
    fails(() => readIdx(none), none, /has 0 dimensions/);
    const five = write("ndims5.idx", header(8, [1, 1, 1, 1, 1], new Uint8Array(1)));
    fails(() => readIdx(five), five, /has 5 dimensions/);
  });

  it("a truncated header or data", () => {
    const short = write("short.idx", new Uint8Array([0, 0]));
    fails(() => readIdx(short), short, /2 bytes is too short/);
    const dims = write("dims.idx", header(8, [2, 3]).subarray(0, 10));
    fails(() => readIdx(dims), dims, /truncated header/);
    const data = write("data.idx", encodeIdx([3, 2, 4], pixels).subarray(0, 12 + 4 + 20));
    fails(() => readIdx(data), data, /truncated: dimensions 3×2×4 need 24 bytes of data but only 20/);
  });

  it("trailing garbage", () => {
    const path = write("trailing.idx", new Uint8Array([...encodeIdx([2], new Uint8Array([1, 2])), 0, 0, 0]));
    fails(() => readIdx(path), path, /3 bytes of trailing garbage after the 2 data/);
  });

  it("absurd dimension claims in a tiny file, without allocating them", () => {
    const path = write("absurd.idx", header(8, [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], new Uint8Array(8)));
    fails(() => readIdx(path), path, /need 340282366604025813516997721482669850625 bytes of data but only 8/);
    const gz = write("absurd.gz", gzipSync(header(8, [60000, 28, 28], new Uint8Array(100))));
    fails(() => readIdx(gz), gz, /need 47040000 bytes of data but only 100/);
  });

  it("corrupt gzip", () => {
    const zipped = gzipSync(encodeIdx([3, 2, 4], pixels));
    zipped[zipped.length - 6]! ^= 0xff; // inside the CRC-32 trailer
    const path = write("corrupt.gz", zipped);
    fails(() => readIdx(path), path, /corrupt gzip data/);
    const cut = write("cut.gz", gzipSync(encodeIdx([3, 2, 4], pixels)).subarray(0, 15));
    fails(() => readIdx(cut), cut, /corrupt gzip data/);
  });
});

describe("readIdxDataset", () => {
  const images = write("images.idx", encodeIdx([3, 2, 4], pixels));

  it("pairs images with labels and counts the classes", () => {
    const labels = write("labels.idx", encodeIdx([3], new Uint8Array([0, 4, 2])));
    expect(readIdxDataset(images, labels)).toEqual({
      images: pixels,
      labels: new Uint8Array([0, 4, 2]),
      n: 3,
      rows: 2,
      cols: 4,
      classes: 5,
    });
  });

  it("names the labels file when the counts differ", () => {
    const labels = write("labels4.idx", encodeIdx([4], new Uint8Array(4)));
    fails(() => readIdxDataset(images, labels), labels, new RegExp(`has 4 labels but ${images} has 3 images`));
  });

  it("names whichever file has the wrong shape", () => {
    const flat = write("flat.idx", encodeIdx([3, 8], pixels));
    const labels = write("labels3.idx", encodeIdx([3], new Uint8Array(3)));
    fails(() => readIdxDataset(flat, labels), flat, /images need 3 dimensions .* found 2/);
    fails(() => readIdxDataset(images, images), images, /labels need 1 dimension .* found 3/);
  });

  it("rejects an empty data set", () => {
    const none = write("none.idx", encodeIdx([0, 28, 28], new Uint8Array(0)));
    const noLabels = write("no-labels.idx", encodeIdx([0], new Uint8Array(0)));
    fails(() => readIdxDataset(none, noLabels), none, /has no images/);
  });
});

// Debian's dataset-fashion-mnist package; absent on most machines.
const fashion = "/usr/share/datasets/fashion-mnist";

describe.skipIf(!existsSync(fashion))("Fashion-MNIST from dataset-fashion-mnist", () => {
  it.each([
    ["train", 60000],
    ["t10k", 10000],
  ] as const)("%s: %i examples of 28×28 in 10 classes", (split, count) => {
    const set = readIdxDataset(
      join(fashion, `${split}-images-idx3-ubyte.gz`),
      join(fashion, `${split}-labels-idx1-ubyte.gz`),
    );
    expect({ n: set.n, rows: set.rows, cols: set.cols, classes: set.classes }).toEqual({
      n: count,
      rows: 28,
      cols: 28,
      classes: 10,
    });
    expect(set.images.length).toBe(count * 28 * 28);
    expect(set.labels.length).toBe(count);
    // Fashion-MNIST is balanced: every class has exactly a tenth of the examples.
    const perClass = new Array<number>(10).fill(0);
    for (const label of set.labels) perClass[label]!++;
    expect(perClass).toEqual(new Array(10).fill(count / 10));
  });
});
