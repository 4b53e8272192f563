// IDX files as the MNIST family ships them: raw and gzipped round trips, every lie a file
// can tell about its size caught with the file named, and the real Fashion-MNIST when installed.

import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { checkIdxFiles, DataFileError, encodeIdx, readIdx, readIdxDataset, readIdxHeader } from "../../runtime/data/idx.js";

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

describe("readIdxHeader: the checks before anything runs, from a file's first bytes and size", () => {
  it("gives the dimensions of raw and gzipped files", () => {
    const bytes = encodeIdx([3, 2, 4], pixels);
    expect(readIdxHeader(write("head-raw.idx", bytes))).toEqual({ dims: [3, 2, 4] });
    expect(readIdxHeader(write("head-zipped.idx", gzipSync(bytes)))).toEqual({ dims: [3, 2, 4] });
  });

  it("refuses each bad raw file with readIdx's own message", () => {
    const bad: [string, Uint8Array, RegExp][] = [
      ["h-magic.idx", new Uint8Array([0x50, 0x4b, 8, 1, 0, 0, 0, 0]), /not an IDX file: it starts with 0x50 0x4b, not 0x00 0x00/],
      ["h-empty.idx", new Uint8Array(0), /0 bytes is too short for an IDX header/],
      ["h-float.idx", header(0x0d, [1], new Uint8Array(4)), /unsupported element type 0x0d \(float\)/],
      ["h-ndims5.idx", header(8, [1, 1, 1, 1, 1], new Uint8Array(1)), /has 5 dimensions; expected 1 to 4/],
      // 3 dimensions need 4 + 3 × 4 = 16 header bytes; the file has 10.
      ["h-header.idx", header(8, [2, 3, 4]).subarray(0, 10), /truncated header: 3 dimensions need 16 bytes/],
      // 3×2×4 = 24 data bytes claimed; 36 − 16 = 20 present.
      ["h-data.idx", encodeIdx([3, 2, 4], pixels).subarray(0, 36), /truncated: dimensions 3×2×4 need 24 bytes of data but only 20 are present/],
      ["h-trailing.idx", new Uint8Array([...encodeIdx([2], new Uint8Array([1, 2])), 9]), /1 bytes of trailing garbage after the 2 data/],
      // 4e9 × 4e9 = 16e18 bytes claimed by a 20-byte file: 12 header bytes (2 dimensions), 8 of data.
      ["h-absurd.idx", header(8, [4e9, 4e9], new Uint8Array(8)), /need 16000000000000000000 bytes of data but only 8 are present/],
    ];
    for (const [name, bytes, message] of bad) {
      const path = write(name, bytes);
      fails(() => readIdxHeader(path), path, message);
      fails(() => readIdx(path), path, message);
    }
  });

  it("refuses bad gzipped files, naming them", () => {
    const zipped = gzipSync(encodeIdx([3, 2, 4], pixels));
    const cut = write("h-cut.gz", zipped.subarray(0, zipped.length - 10));
    fails(() => readIdxHeader(cut), cut, /corrupt gzip data \(unexpected end of file\)/);
    // 60000 × 28 × 28 = 47,040,000 bytes claimed; 100 present.
    const absurd = write("h-absurd.gz", gzipSync(header(8, [60000, 28, 28], new Uint8Array(100))));
    fails(() => readIdxHeader(absurd), absurd, /truncated: dimensions 60000×28×28 need 47040000 bytes of data but only 100 are present/);
    const zip = write("h-zip.gz", gzipSync(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])));
    fails(() => readIdxHeader(zip), zip, /not an IDX file: it starts with 0x50 0x4b/);
    // Block type 3 does not exist: the deflate data is corrupt from its first byte.
    const garbage = write("h-garbage.gz", new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff, 0xff]));
    fails(() => readIdxHeader(garbage), garbage, /corrupt gzip data/);
  });

  it("trusts a gzipped file's prefix and ISIZE trailer, leaving the rest to readIdx", () => {
    // Flipping a byte of the CRC-32 (the trailer's first 4 bytes) leaves the header and ISIZE
    // intact. The data is noise, so the file is far longer than the 256-byte prefix decoded.
    let state = 1;
    const noise = Uint8Array.from({ length: 10 * 20 * 30 }, () => (state = (state * 1103515245 + 12345) >>> 0) >>> 24);
    const zipped = gzipSync(encodeIdx([10, 20, 30], noise));
    expect(zipped.length).toBeGreaterThan(4096);
    zipped[zipped.length - 6]! ^= 0xff;
    const path = write("h-crc.gz", zipped);
    expect(readIdxHeader(path)).toEqual({ dims: [10, 20, 30] });
    fails(() => readIdx(path), path, /corrupt gzip data/);
  });

  it("reads past a long gzip file name, and accepts several gzip members by reading them", () => {
    const bytes = encodeIdx([3, 2, 4], pixels);
    const zipped = gzipSync(bytes);
    // FLG bit 3 (FNAME): a zero-terminated name follows the 10-byte header; CRC and ISIZE cover the data only.
    const named = new Uint8Array([...zipped.subarray(0, 10), ...new Uint8Array(3000).fill(0x61), 0, ...zipped.subarray(10)]);
    named[3] = 0x08;
    expect(readIdxHeader(write("h-named.gz", named))).toEqual({ dims: [3, 2, 4] });
    // Two members: ISIZE is the second's alone (12 bytes), not the 40 the header implies.
    const split = new Uint8Array([...gzipSync(bytes.subarray(0, 28)), ...gzipSync(bytes.subarray(28))]);
    const path = write("h-members.gz", split);
    expect(readIdx(path).dims).toEqual([3, 2, 4]);
    expect(readIdxHeader(path)).toEqual({ dims: [3, 2, 4] });
  });
});

describe("checkIdxFiles", () => {
  const files = (images: string, labels: string, testImages = images, testLabels = labels) => ({
    images,
    labels,
    test_images: testImages,
    test_labels: testLabels,
  });
  const images = write("c-images.idx", encodeIdx([3, 2, 4], pixels));
  const labels = write("c-labels.gz", gzipSync(encodeIdx([3], new Uint8Array([0, 1, 2]))));

  it("accepts a consistent set", () => {
    expect(checkIdxFiles(files(images, labels))).toBeUndefined();
  });

  it("names the first bad file and says what is wrong", () => {
    const magic = write("c-magic.idx", new Uint8Array([0x50, 0x4b, 8, 1, 0, 0, 0, 0]));
    expect(checkIdxFiles(files(images, labels, magic))).toBe(`${magic}: not an IDX file: it starts with 0x50 0x4b, not 0x00 0x00`);
    const four = write("c-labels4.idx", encodeIdx([4], new Uint8Array(4)));
    expect(checkIdxFiles(files(images, four))).toBe(`${four}: has 4 labels but ${images} has 3 images`);
    const flat = write("c-flat.idx", encodeIdx([3, 8], pixels));
    expect(checkIdxFiles(files(flat, labels))).toBe(`${flat}: images need 3 dimensions (count×rows×cols), found 2`);
    expect(checkIdxFiles(files(images, images))).toBe(`${images}: labels need 1 dimension (count), found 3`);
    const none = write("c-none.idx", encodeIdx([0, 28, 28], new Uint8Array(0)));
    const noLabels = write("c-no-labels.idx", encodeIdx([0], new Uint8Array(0)));
    expect(checkIdxFiles(files(images, labels, none, noLabels))).toBe(`${none}: has no images`);
    const absent = join(dir, "c-absent.idx");
    expect(checkIdxFiles(files(absent, labels))).toBe(`${absent}: no such file`);
  });

  it("refuses test images of another size than the training images", () => {
    const wide = write("c-wide.idx", encodeIdx([3, 2, 5], new Uint8Array(30)));
    expect(checkIdxFiles(files(images, labels, wide, labels))).toBe(`${wide}: images are 2×5, but the training images are 2×4`);
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

  it("passes the checks before anything runs, from a few hundred bytes and the trailer of each file", () => {
    const at = (name: string) => join(fashion, name);
    const set = {
      images: at("train-images-idx3-ubyte.gz"),
      labels: at("train-labels-idx1-ubyte.gz"),
      test_images: at("t10k-images-idx3-ubyte.gz"),
      test_labels: at("t10k-labels-idx1-ubyte.gz"),
    };
    // About a millisecond for the four (the h-crc.gz test shows the data is not decompressed).
    expect(checkIdxFiles(set)).toBeUndefined();
    expect(readIdxHeader(set.images)).toEqual({ dims: [60000, 28, 28] });
    expect(readIdxHeader(set.test_labels)).toEqual({ dims: [10000] });
  });
});
