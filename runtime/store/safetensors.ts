// The safetensors file format (https://github.com/huggingface/safetensors): a deterministic
// encoder, and a decoder that treats every file as hostile until each byte is accounted for.

import { endianness } from "node:os";

export type DType = "F32" | "I32" | "U8" | "BOOL";
export type TensorData = Float32Array | Int32Array | Uint8Array;

export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: TensorData;
}

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = "SafetensorsError";
  }
}

const DTYPES: Readonly<Record<DType, { size: number; array: new (length: number) => TensorData }>> = {
  F32: { size: 4, array: Float32Array },
  I32: { size: 4, array: Int32Array },
  U8: { size: 1, array: Uint8Array },
  BOOL: { size: 1, array: Uint8Array },
};

/** The reference implementation's cap: a larger header is an attack, not a model. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = "__metadata__";
const ENTRY_KEYS = ["dtype", "shape", "data_offsets"];

// Typed arrays use the host's byte order and the format is little-endian; copying bytes
// straight across is only correct on a little-endian host, which is every platform Node ships for.
const LITTLE_ENDIAN_HOST = endianness() === "LE";

function requireLittleEndianHost(what: string): void {
  if (!LITTLE_ENDIAN_HOST) throw new Error(`${what}: safetensors support needs a little-endian host`);
}

function isDType(value: unknown): value is DType {
  return typeof value === "string" && Object.hasOwn(DTYPES, value);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/** Element count as a bigint, so that absurd shapes compare exactly instead of overflowing. */
function elementCount(shape: readonly number[]): bigint {
  return shape.reduce((n, d) => n * BigInt(d), 1n);
}

function showShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function firstNonBoolean(bytes: Uint8Array): number {
  return bytes.findIndex((b) => b > 1);
}

function sameKind(dtype: DType, data: TensorData): boolean {
  return data instanceof DTYPES[dtype].array;
}

// JSON.stringify orders integer-like keys ("0", "12") before the rest whatever the
// insertion order, so the header is assembled by hand to keep the order chosen here.
function jsonObject(entries: readonly (readonly [string, string])[]): string {
  return `{${entries.map(([key, json]) => `${JSON.stringify(key)}:${json}`).join(",")}}`;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function encodeSafetensors(
  tensors: Readonly<Record<string, Tensor>>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  requireLittleEndianHost("encodeSafetensors");
  const names = Object.keys(tensors).sort(byCodeUnits);
  const header: [string, string][] = [];
  const metaKeys = Object.keys(metadata ?? {}).sort(byCodeUnits);
  if (metadata && metaKeys.length > 0) {
    for (const key of metaKeys) {
      if (typeof metadata[key] !== "string") {
        throw new Error(`encodeSafetensors: metadata ${JSON.stringify(key)} is not a string`);
      }
    }
    header.push([METADATA_KEY, jsonObject(metaKeys.map((k) => [k, JSON.stringify(metadata[k])]))]);
  }

  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data } = tensors[name]!;
    const where = `encodeSafetensors: tensor ${JSON.stringify(name)}`;
    if (name === METADATA_KEY) throw new Error(`${where}: the name is reserved for metadata`);
    if (!isDType(dtype)) throw new Error(`${where}: unsupported dtype ${JSON.stringify(dtype)}`);
    if (!isShape(shape)) throw new Error(`${where}: shape must be a list of non-negative integers`);
    if (!sameKind(dtype, data)) {
      throw new Error(`${where}: ${dtype} data must be ${DTYPES[dtype].array.name}, not ${data.constructor.name}`);
    }
    if (elementCount(shape) !== BigInt(data.length)) {
      throw new Error(`${where}: shape ${showShape(shape)} does not match ${data.length} elements`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (dtype === "BOOL" && firstNonBoolean(bytes) >= 0) throw new Error(`${where}: BOOL values must be 0 or 1`);
    const end = offset + bytes.byteLength;
    header.push([
      name,
      `{"dtype":${JSON.stringify(dtype)},"shape":[${shape.join(",")}],"data_offsets":[${offset},${end}]}`,
    ]);
    chunks.push(bytes);
    offset = end;
  }

  const json = new TextEncoder().encode(jsonObject(header));
  // Padding the header keeps the buffer 8-byte aligned in the file, so readers may map it directly.
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let at = 8 + headerLength;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

interface Entry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseHeader(bytes: Uint8Array, file: string): { header: Record<string, unknown>; bufferStart: number } {
  function fail(message: string): never {
    throw new SafetensorsError(file, message);
  }
  if (bytes.byteLength < 8) fail(`${bytes.byteLength} bytes is too short to hold the 8-byte header length`);
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(`header length ${declared} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (declared > BigInt(bytes.byteLength - 8)) {
    fail(`header length ${declared} is larger than the ${bytes.byteLength - 8} bytes that follow it`);
  }
  const headerLength = Number(declared);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    fail("header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(header)) fail("header must be a JSON object");
  return { header, bufferStart: 8 + headerLength };
}

function parseEntry(name: string, value: unknown, bufferLength: number, file: string): Entry {
  function fail(message: string): never {
    throw new SafetensorsError(file, `tensor ${JSON.stringify(name)}: ${message}`);
  }
  if (!isPlainObject(value)) fail("entry must be an object with dtype, shape and data_offsets");
  const extra = Object.keys(value).find((k) => !ENTRY_KEYS.includes(k));
  if (extra !== undefined) fail(`unexpected field ${JSON.stringify(extra)}`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isDType(dtype)) {
    fail(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(", ")})`);
  }
  if (!isShape(shape)) fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0 && o <= bufferLength) ||
    offsets[0] > offsets[1]
  ) {
    fail(`data_offsets ${JSON.stringify(offsets)} must be [begin, end] with 0 ≤ begin ≤ end ≤ ${bufferLength}`);
  }
  const [begin, end] = offsets as [number, number];
  const needed = elementCount(shape) * BigInt(DTYPES[dtype].size);
  if (needed !== BigInt(end - begin)) {
    fail(`shape ${showShape(shape)} of ${dtype} needs ${needed} bytes but data_offsets span ${end - begin}`);
  }
  return { name, dtype, shape, begin, end };
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  if (!isPlainObject(value)) throw new SafetensorsError(file, `${METADATA_KEY} must be an object of strings`);
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(file, `${METADATA_KEY} ${JSON.stringify(key)} is not a string`);
    }
  }
  // fromEntries defines own properties, so a key such as "__proto__" stays plain data.
  return Object.fromEntries(Object.entries(value)) as Record<string, string>;
}

/** Every buffer byte must belong to exactly one tensor: an overlap aliases data and a gap hides it. */
function checkLayout(entries: readonly Entry[], bufferLength: number, file: string): void {
  const ordered = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: Entry | undefined;
  for (const entry of ordered) {
    const cursor = previous?.end ?? 0;
    const where = `tensor ${JSON.stringify(entry.name)} at [${entry.begin}, ${entry.end}]`;
    if (previous && entry.begin < cursor) {
      throw new SafetensorsError(
        file,
        `${where} overlaps tensor ${JSON.stringify(previous.name)} at [${previous.begin}, ${previous.end}]`,
      );
    }
    if (entry.begin > cursor) {
      throw new SafetensorsError(
        file,
        `bytes [${cursor}, ${entry.begin}) of the buffer belong to no tensor (before ${where})`,
      );
    }
    previous = entry;
  }
  const cursor = previous?.end ?? 0;
  if (cursor !== bufferLength) {
    throw new SafetensorsError(file, `bytes [${cursor}, ${bufferLength}) at the end of the buffer belong to no tensor`);
  }
}

export function decodeSafetensors(
  bytes: Uint8Array,
  file: string,
): { tensors: Map<string, Tensor>; metadata: Record<string, string> } {
  requireLittleEndianHost(file);
  const { header, bufferStart } = parseHeader(bytes, file);
  const buffer = bytes.subarray(bufferStart);
  let metadata: Record<string, string> = {};
  const entries: Entry[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, file);
    else entries.push(parseEntry(name, value, buffer.byteLength, file));
  }
  checkLayout(entries, buffer.byteLength, file);
  for (const { name, dtype, begin, end } of entries) {
    const bad = dtype === "BOOL" ? firstNonBoolean(buffer.subarray(begin, end)) : -1;
    if (bad >= 0) {
      throw new SafetensorsError(
        file,
        `tensor ${JSON.stringify(name)}: BOOL element ${bad} is ${buffer[begin + bad]}, must be 0 or 1`,
      );
    }
  }

  // Copies into fresh arrays: aligned whatever the file's offsets, and the caller's bytes stay theirs.
  const tensors = new Map<string, Tensor>();
  for (const { name, dtype, shape, begin, end } of entries.sort((a, b) => byCodeUnits(a.name, b.name))) {
    const { size, array } = DTYPES[dtype];
    const data = new array((end - begin) / size);
    new Uint8Array(data.buffer).set(buffer.subarray(begin, end));
    tensors.set(name, { dtype, shape: [...shape], data });
  }
  return { tensors, metadata };
}
