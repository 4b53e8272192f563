// MNIST-format IDX files (http://yann.lecun.com/exdb/mnist/), raw or gzipped: read with every
// size claim checked against the bytes actually present, and written for fixtures.

import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";

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
/** Far above any IDX data set, low enough that a gzip bomb cannot exhaust memory. */
const MAX_DECOMPRESSED_BYTES = 1 << 30;

function hex(byte: number): string {
  return `0x${byte.toString(16).padStart(2, "0")}`;
}

function readBytes(path: string): Uint8Array {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DataFileError(path, err.code === "ENOENT" ? "no such file" : `cannot read (${err.message})`);
  }
  // Sniff rather than trust the extension: files are often renamed or served pre-decompressed.
  if (raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
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

function parseIdx(bytes: Uint8Array, path: string): IdxArray {
  function fail(message: string): never {
    throw new DataFileError(path, message);
  }
  if (bytes.byteLength < 4) fail(`${bytes.byteLength} bytes is too short for an IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
  if (bytes.byteLength < dataStart) fail(`truncated header: ${ndims} dimensions need ${dataStart} bytes`);
  const dims = Array.from({ length: ndims }, (_, i) => view.getUint32(4 + 4 * i, false));
  // Exact arithmetic, so a claim like 4e9×4e9 is compared honestly rather than rounded.
  const needed = dims.reduce((n, d) => n * BigInt(d), 1n);
  const present = BigInt(bytes.byteLength - dataStart);
  const shape = dims.join("×");
  if (needed > present) {
    fail(`truncated: dimensions ${shape} need ${needed} bytes of data but only ${present} are present`);
  }
  if (needed < present) fail(`${present - needed} bytes of trailing garbage after the ${shape} data`);
  // A fresh copy: the read buffer may be shared (Node pools small buffers).
  return { dims, data: new Uint8Array(bytes.subarray(dataStart)) };
}

export function readIdx(path: string): IdxArray {
  return parseIdx(readBytes(path), path);
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

export function readIdxDataset(
  imagesPath: string,
  labelsPath: string,
): { images: Uint8Array; labels: Uint8Array; n: number; rows: number; cols: number; classes: number } {
  const images = readIdx(imagesPath);
  const labels = readIdx(labelsPath);
  if (images.dims.length !== 3) {
    throw new DataFileError(imagesPath, `images need 3 dimensions (count×rows×cols), found ${images.dims.length}`);
  }
  const [n, rows, cols] = images.dims as [number, number, number];
  if (labels.dims.length !== 1) {
    throw new DataFileError(labelsPath, `labels need 1 dimension (count), found ${labels.dims.length}`);
  }
  if (labels.data.length !== n) {
    throw new DataFileError(labelsPath, `has ${labels.data.length} labels but ${imagesPath} has ${n} images`);
  }
  if (n === 0) throw new DataFileError(imagesPath, "has no images");
  if (rows === 0 || cols === 0) {
    throw new DataFileError(imagesPath, `images are ${rows}×${cols}, which holds no pixels`);
  }
  // Labels are unsigned bytes, so each is below 256 by construction; the class count is what the data shows.
  const classes = labels.data.reduce((max, label) => Math.max(max, label), 0) + 1;
  return { images: images.data, labels: labels.data, n, rows, cols, classes };
}
