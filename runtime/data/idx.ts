// MNIST-format IDX files (http://yann.lecun.com/exdb/mnist/), raw or gzipped: read with every
// size claim checked against the bytes actually present, and written for fixtures. Before
// anything runs, `checkIdxFiles` checks the same claims from each file's first bytes and size.

import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import { constants as zlibConstants, gunzipSync } from "node:zlib";

export class DataFileError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "DataFileError";
  }
}

export interface IdxArray {
  readonly dims: readonly number[];
  readonly data: Uint8Array;
}

const UNSIGNED_BYTE = 0x08;
const TYPE_NAMES: Readonly<Record<number, string>> = {
  0x09: "signed byte",
  0x0b: "short",
  0x0c: "int",
  0x0d: "float",
  0x0e: "double",
};
const MAX_DIMS = 4;
/** The longest header: the 4-byte magic and type, then four 4-byte dimensions. */
const MAX_HEADER_BYTES = 4 + 4 * MAX_DIMS;
/** Far above any IDX data set, low enough that a gzip bomb cannot exhaust memory. */
const MAX_DECOMPRESSED_BYTES = 1 << 30;

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

function cannotRead(path: string, e: unknown): DataFileError {
  const err = e as NodeJS.ErrnoException;
  return new DataFileError(path, err.code === "ENOENT" ? "no such file" : `cannot read (${err.message})`);
}

// Sniff rather than trust the extension: files are often renamed or served pre-decompressed.
function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function readBytes(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw cannotRead(path, e);
  }
  if (!isGzip(raw)) return raw;
  try {
    return gunzipSync(raw, { maxOutputLength: MAX_DECOMPRESSED_BYTES });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE") {
      throw new DataFileError(path, `decompresses to more than ${MAX_DECOMPRESSED_BYTES} bytes`);
    }
    throw new DataFileError(path, `corrupt gzip data (${err.message})`);
  }
}

interface IdxHeader {
  readonly dims: readonly number[];
  /** Where the data starts: the header's length. */
  readonly dataStart: number;
  /** The data bytes the dimensions claim, exactly (a claim like 4e9×4e9 is not rounded). */
  readonly needed: bigint;
}

/**
 * The header in `head`, the first bytes (at least MAX_HEADER_BYTES of them, or all) of an IDX
 * file of `size` bytes in all: magic, element type and dimensions checked, and the header not
 * cut short. The data's length is checkDataLength's business.
 */
function parseHeader(head: Uint8Array, size: number, path: string): IdxHeader {
  function fail(message: string): never {
    throw new DataFileError(path, message);
  }
  if (size < 4) fail(`${size} bytes is too short for an IDX header`);
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  if (view.getUint16(0) !== 0) {
    fail(`not an IDX file: it starts with ${hex(view.getUint8(0))} ${hex(view.getUint8(1))}, not 0x00 0x00`);
  }
  const type = view.getUint8(2);
  const ndims = view.getUint8(3);
  if (type !== UNSIGNED_BYTE) {
    const name = TYPE_NAMES[type] ?? "unknown";
    fail(`unsupported element type ${hex(type)} (${name}); only ${hex(UNSIGNED_BYTE)} (unsigned byte) is supported`);
  }
  if (ndims === 0 || ndims > MAX_DIMS) fail(`has ${ndims} dimensions; expected 1 to ${MAX_DIMS}`);
  const dataStart = 4 + 4 * ndims;
  if (size < dataStart) fail(`truncated header: ${ndims} dimensions need ${dataStart} bytes`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  return { dims, dataStart, needed: dims.reduce((n, d) => n * BigInt(d), 1n) };
}

/** The data after the header must be exactly what the dimensions claim: no less, no more. */
function checkDataLength({ dims, dataStart, needed }: IdxHeader, size: number, path: string): void {
  const present = BigInt(size - dataStart);
  const shape = dims.join("×");
  if (needed > present) {
    throw new DataFileError(path, `truncated: dimensions ${shape} need ${needed} bytes of data but only ${present} are present`);
  }
  if (needed < present) throw new DataFileError(path, `${present - needed} bytes of trailing garbage after the ${shape} data`);
}

function parseIdx(bytes: Uint8Array, path: string): IdxArray {
  const header = parseHeader(bytes, bytes.byteLength, path);
  checkDataLength(header, bytes.byteLength, path);
  // A fresh copy: the read buffer may be shared (Node pools small buffers).
  return { dims: header.dims, data: new Uint8Array(bytes.subarray(header.dataStart)) };
}

export function readIdx(path: string): IdxArray {
  return parseIdx(readBytes(path), path);
}

/** Up to `length` bytes of the open file `fd` from `position`. */
function readAt(fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, out, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/**
 * Compressed prefixes tried in turn for a gzipped file's header. The header is the first 20
 * bytes of the stream, so the first prefix nearly always holds it (gzip's own header, a name
 * and the first block's code tables come before it); each try's output is capped, since a
 * kilobyte of deflate data can expand a thousandfold.
 */
const GZIP_PREFIXES = [256, 1024, 4096, 16384, 65536];
const GZIP_PREFIX_OUTPUT = 1 << 20;

/**
 * The first bytes of the gzip stream in `fd` (`size` compressed bytes), at least
 * MAX_HEADER_BYTES of them; undefined when a prefix does not give them cheaply (corrupt data,
 * a header longer than the prefixes, or a stream that holds fewer bytes).
 */
function gunzipHead(fd: number, size: number): Uint8Array | undefined {
  for (const length of GZIP_PREFIXES) {
    let out: Uint8Array;
    try {
      // A sync flush returns what the prefix decodes to instead of failing at its cut end.
      out = gunzipSync(readAt(fd, Math.min(length, size), 0), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: GZIP_PREFIX_OUTPUT,
      });
    } catch {
      return undefined;
    }
    if (out.byteLength >= MAX_HEADER_BYTES) return out;
    if (length >= size) return undefined;
  }
  return undefined;
}

/**
 * The header of the IDX file at `path`, checked without reading its data: a raw file's
 * dimensions against its size exactly; a gzipped file's against gzip's ISIZE trailer, its last
 * 4 bytes, which record the uncompressed size modulo 2^32 only (so a stream corrupt in its
 * middle, or one off by a multiple of 4 GiB, still passes: readIdx verifies every byte when the
 * stage runs). A gzipped file whose prefix or trailer does not agree with its header is read
 * in full, as readIdx does, so that the error is the exact one and a valid file that merely
 * defeats the shortcut (several gzip members, say) is not refused.
 */
export function readIdxHeader(path: string): { readonly dims: readonly number[] } {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw cannotRead(path, e);
  }
  let head: Uint8Array;
  let size: number;
  let gzip: { head: Uint8Array | undefined; isize: number } | undefined;
  try {
    size = fstatSync(fd).size;
    head = readAt(fd, Math.min(size, MAX_HEADER_BYTES), 0);
    if (isGzip(head)) {
      const trailer = readAt(fd, 4, Math.max(0, size - 4));
      const isize = trailer.byteLength === 4 ? new DataView(trailer.buffer).getUint32(0, true) : -1;
      gzip = { head: gunzipHead(fd, size), isize };
    }
  } catch (e) {
    throw cannotRead(path, e);
  } finally {
    closeSync(fd);
  }
  if (!gzip) {
    const header = parseHeader(head, size, path);
    checkDataLength(header, size, path);
    return { dims: header.dims };
  }
  if (gzip.head) {
    // The prefix holds the whole header, so its errors (magic, type, dimensions) are exact.
    const header = parseHeader(gzip.head, gzip.head.byteLength, path);
    const total = BigInt(header.dataStart) + header.needed;
    if (total <= MAX_DECOMPRESSED_BYTES && Number(total % 2n ** 32n) === gzip.isize) return { dims: header.dims };
  }
  return { dims: parseIdx(readBytes(path), path).dims };
}

export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  if (dims.length === 0 || dims.length > MAX_DIMS) {
    throw new Error(`encodeIdx: ${dims.length} dimensions; expected 1 to ${MAX_DIMS}`);
  }
  if (!dims.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff)) {
    throw new Error(`encodeIdx: dimensions [${dims.join(", ")}] must be 32-bit unsigned integers`);
  }
  const count = dims.reduce((n, d) => n * BigInt(d), 1n);
  if (count !== BigInt(data.length)) {
    throw new Error(`encodeIdx: dimensions ${dims.join("×")} hold ${count} bytes but the data has ${data.length}`);
  }
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = UNSIGNED_BYTE;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** An images file and its labels file must describe one data set: count×rows×cols images, count labels. */
function checkPair(
  imagesPath: string,
  images: readonly number[],
  labelsPath: string,
  labels: readonly number[],
): { n: number; rows: number; cols: number } {
  if (images.length !== 3) {
    throw new DataFileError(imagesPath, `images need 3 dimensions (count×rows×cols), found ${images.length}`);
  }
  const [n, rows, cols] = images as [number, number, number];
  if (labels.length !== 1) {
    throw new DataFileError(labelsPath, `labels need 1 dimension (count), found ${labels.length}`);
  }
  if (labels[0] !== n) {
    throw new DataFileError(labelsPath, `has ${labels[0]} labels but ${imagesPath} has ${n} images`);
  }
  if (n === 0) throw new DataFileError(imagesPath, "has no images");
  if (rows === 0 || cols === 0) {
    throw new DataFileError(imagesPath, `images are ${rows}×${cols}, which holds no pixels`);
  }
  return { n, rows, cols };
}

export function readIdxDataset(
  imagesPath: string,
  labelsPath: string,
): { images: Uint8Array; labels: Uint8Array; n: number; rows: number; cols: number; classes: number } {
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  const { n, rows, cols } = checkPair(imagesPath, images.dims, labelsPath, labels.dims);
  // Labels are unsigned bytes, so each is below 256 by construction; the class count is what the data shows.
  const classes = labels.data.reduce((max, label) => Math.max(max, label), 0) + 1;
  return { images: images.data, labels: labels.data, n, rows, cols, classes };
}

/**
 * Why `validation` examples cannot be held out of the `n` training images in `file` (the
 * validation split must leave at least one to train on), or undefined.
 */
export function validationTooLarge(validation: number, n: number, file: string): string | undefined {
  if (validation < n) return undefined;
  return `${file}: holds ${n} training images, so validation: ${validation} would leave none to train on; validation must be below ${n}`;
}

/**
 * The first problem with an `idx` stage's four files, found from their headers and sizes
 * before anything runs (see readIdxHeader), or undefined: each file a well-formed IDX file
 * whose dimensions match its length, images count×rows×cols with as many labels, and test
 * images the size of the training images, and fewer than them held out by `validation`.
 * Reading the data checks everything again.
 */
export function checkIdxFiles(files: Readonly<Record<string, string>>, validation = 0, subset: { train?: number; test?: number } = {}): string | undefined {
  try {
    const pair = (images: string, labels: string) =>
      checkPair(images, readIdxHeader(images).dims, labels, readIdxHeader(labels).dims);
    const train = pair(files["images"]!, files["labels"]!);
    const test = pair(files["test_images"]!, files["test_labels"]!);
    if (train.rows !== test.rows || train.cols !== test.cols) {
      return `${files["test_images"]}: images are ${test.rows}×${test.cols}, but the training images are ${train.rows}×${train.cols}`;
    }
    const beyond = subsetTooLarge(subset, train.n, test.n, files);
    if (beyond) return beyond;
    return validationTooLarge(validation, subset.train ?? train.n, files["images"]!);
  } catch (e) {
    if (e instanceof DataFileError) return e.message;
    throw e;
  }
}

/** Why `train: N` or `test: M` asks for more examples than the files hold, or undefined. */
export function subsetTooLarge(subset: { train?: number; test?: number }, trainN: number, testN: number, files: Readonly<Record<string, string>>): string | undefined {
  if (subset.train !== undefined && subset.train > trainN) return `train: ${subset.train} asks for more examples than ${files["images"]} holds (${trainN})`;
  if (subset.test !== undefined && subset.test > testN) return `test: ${subset.test} asks for more examples than ${files["test_images"]} holds (${testN})`;
  return undefined;
}
