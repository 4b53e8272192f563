// The safetensors codec: lossless, byte-for-byte deterministic round trips, and hostile
// files rejected with the file and tensor named, before anything is allocated for them.

import { describe, expect, it } from "vitest";
import {
  decodeSafetensors,
  encodeSafetensors,
  SafetensorsError,
  type Tensor,
} from "../../runtime/store/safetensors.js";

const FILE = "weights/model.safetensors";

/** A file assembled by hand: any header text and buffer, consistent or not. */
function craft(header: unknown, buffer: Uint8Array = new Uint8Array(0), declaredLength?: bigint): Uint8Array {
  const json = new TextEncoder().encode(typeof header === "string" ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + buffer.byteLength);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(buffer, 8 + json.byteLength);
  return out;
}

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, text: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

function rejects(bytes: Uint8Array, ...fragments: RegExp[]): void {
  let caught: unknown;
  try {
    decodeSafetensors(bytes, FILE);
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const error = caught as SafetensorsError;
  expect(error.file).toBe(FILE);
  expect(error.message.startsWith(`${FILE}: `)).toBe(true);
  for (const fragment of fragments) expect(error.message).toMatch(fragment);
}

const sample: Record<string, Tensor> = {
  "conv1.weight": { dtype: "F32", shape: [2, 3], data: new Float32Array([1.5, -2, 0, Infinity, -0, 3.25e-7]) },
  "conv1.bias": { dtype: "F32", shape: [], data: new Float32Array([NaN]) },
  step: { dtype: "I32", shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
  pixels: { dtype: "U8", shape: [2, 2], data: new Uint8Array([0, 127, 128, 255]) },
  mask: { dtype: "BOOL", shape: [5], data: new Uint8Array([1, 0, 0, 1, 1]) },
  "empty.f32": { dtype: "F32", shape: [0, 4], data: new Float32Array(0) },
  "empty.i32": { dtype: "I32", shape: [0], data: new Int32Array(0) },
  "empty.u8": { dtype: "U8", shape: [3, 0], data: new Uint8Array(0) },
  "empty.bool": { dtype: "BOOL", shape: [0], data: new Uint8Array(0) },
  "10": { dtype: "U8", shape: [1], data: new Uint8Array([7]) },
  "2": { dtype: "U8", shape: [1], data: new Uint8Array([9]) },
};
const metadata = { format: "pt", "lth.round": "3", "": "empty key", ünïcode: "välue ✓" };

describe("encodeSafetensors / decodeSafetensors", () => {
  it("round-trips every dtype, scalars, empty tensors and metadata", () => {
    const { tensors, metadata: meta } = decodeSafetensors(encodeSafetensors(sample, metadata), FILE);
    expect(meta).toEqual(metadata);
    expect([...tensors.keys()]).toEqual(Object.keys(sample).sort());
    for (const [name, tensor] of Object.entries(sample)) {
      const got = tensors.get(name)!;
      expect(got.dtype, name).toBe(tensor.dtype);
      expect(got.shape, name).toEqual(tensor.shape);
      expect(got.data.constructor, name).toBe(tensor.data.constructor);
      // Byte comparison so that NaN and -0 count as preserved.
      expect(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength), name).toEqual(
        new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
      );
    }
  });

  it("round-trips a file with no tensors and no metadata", () => {
    const bytes = encodeSafetensors({});
    expect(headerOf(bytes).text.trimEnd()).toBe("{}");
    const { tensors, metadata: meta } = decodeSafetensors(bytes, FILE);
    expect(tensors.size).toBe(0);
    expect(meta).toEqual({});
  });

  it("writes the same bytes whatever the key insertion order", () => {
    const reversed = Object.fromEntries(Object.entries(sample).reverse());
    const reversedMeta = Object.fromEntries(Object.entries(metadata).reverse());
    expect(encodeSafetensors(reversed, reversedMeta)).toEqual(encodeSafetensors(sample, metadata));
  });

  it("writes a space-padded JSON header, metadata first, tensors and data in name order", () => {
    const bytes = encodeSafetensors(sample, metadata);
    const { length, text } = headerOf(bytes);
    expect(length % 8).toBe(0);
    const sortedMetadata = '{"":"empty key","format":"pt","lth.round":"3","ünïcode":"välue ✓"}';
    expect(text.startsWith(`{"__metadata__":${sortedMetadata},`)).toBe(true);
    expect(text).toMatch(/\} *$/);
    // Padding is the least that reaches a multiple of 8.
    expect(new TextEncoder().encode(text.trimEnd()).byteLength).toBeGreaterThan(length - 8);
    const header = JSON.parse(text) as Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>;
    const names = Object.keys(sample).sort();
    // Integer-like names must keep their place in the text, which JSON.stringify would not do.
    expect([...text.matchAll(/"([^"]*)":\{"dtype"/g)].map((m) => m[1])).toEqual(names);
    expect(Object.keys(header["conv1.weight"]!)).toEqual(["dtype", "shape", "data_offsets"]);
    let offset = 0;
    for (const name of names) {
      const [begin, end] = header[name]!.data_offsets as [number, number];
      expect(begin, name).toBe(offset);
      offset = end;
    }
    expect(8 + length + offset).toBe(bytes.byteLength);
    // Little-endian on disk, as the format requires.
    const step = header["step"]!.data_offsets[0]!;
    expect([...bytes.subarray(8 + length + step + 8, 8 + length + step + 12)]).toEqual([0xff, 0xff, 0xff, 0x7f]);
  });

  it("returns copies that do not alias the input bytes", () => {
    const bytes = encodeSafetensors({ x: { dtype: "U8", shape: [2], data: new Uint8Array([1, 2]) } });
    const x = decodeSafetensors(bytes, FILE).tensors.get("x")!;
    bytes.fill(0, 8 + headerOf(bytes).length);
    expect([...x.data]).toEqual([1, 2]);
  });

  it("decodes a view into a larger, unaligned buffer", () => {
    const bytes = encodeSafetensors({ w: { dtype: "F32", shape: [2], data: new Float32Array([0.5, -8]) } });
    const host = new Uint8Array(bytes.byteLength + 3);
    host.set(bytes, 3);
    expect([...decodeSafetensors(host.subarray(3), FILE).tensors.get("w")!.data]).toEqual([0.5, -8]);
  });

  it("refuses to encode inconsistent tensors", () => {
    expect(() => encodeSafetensors({ a: { dtype: "F32", shape: [3], data: new Float32Array(2) } })).toThrow(
      /tensor "a".*\[3\].*2 elements/,
    );
    expect(() => encodeSafetensors({ a: { dtype: "I32", shape: [2], data: new Float32Array(2) } })).toThrow(
      /tensor "a": I32 data must be Int32Array, not Float32Array/,
    );
    expect(() => encodeSafetensors({ m: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 2]) } })).toThrow(
      /tensor "m": BOOL values must be 0 or 1/,
    );
    expect(() => encodeSafetensors({ __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } })).toThrow(
      /reserved/,
    );
  });
});

describe("decodeSafetensors rejects hostile files", () => {
  const u8 = (begin: number, end: number) => ({ dtype: "U8", shape: [end - begin], data_offsets: [begin, end] });

  it("a file too short to hold the header length", () => {
    rejects(new Uint8Array(5), /5 bytes is too short/);
    rejects(new Uint8Array(0), /0 bytes/);
  });

  it("a header length larger than the file", () => {
    rejects(craft({}, new Uint8Array(0), 3n), /header length 3 is larger than the 2 bytes/);
    rejects(craft({}, new Uint8Array(0), 2n ** 64n - 1n), /header length 18446744073709551615 exceeds/);
    rejects(craft({}, new Uint8Array(0), 100_000_001n), /header length 100000001 exceeds the 100000000-byte limit/);
  });

  it("a real file cut short in its data, or with its length prefix mangled, before anything is allocated", () => {
    const whole = encodeSafetensors({ w: { dtype: "F32", shape: [4], data: new Float32Array([1, 2, 3, 4]) } });
    const { length } = headerOf(whole);
    const prefixed = (declared: bigint, littleEndian = true) => {
      const out = whole.slice();
      new DataView(out.buffer).setBigUint64(0, declared, littleEndian);
      return out;
    };
    // 16 data bytes, 6 of them cut off.
    rejects(whole.subarray(0, whole.length - 6), /tensor "w": data_offsets \[0,16\] must be \[begin, end\] with 0 ≤ begin ≤ end ≤ 10/);
    rejects(whole.subarray(0, 8 + length - 1), new RegExp(`header length ${length} is larger than the ${length - 1} bytes that follow it`));
    rejects(prefixed(2n ** 63n), /header length 9223372036854775808 exceeds the 100000000-byte limit/);
    // Written big-endian, a length of a few dozen bytes reads as petabytes.
    rejects(prefixed(BigInt(length), false), new RegExp(`header length ${BigInt(length) << 56n} exceeds`));
    // Eight bytes short, the header loses its closing brace; eight long, it swallows 1.0f (00 00 80 3f).
    rejects(prefixed(BigInt(length - 8)), /header is not valid JSON/);
    rejects(prefixed(BigInt(length + 8)), /header is not valid UTF-8/);
  });

  it("a header that is not UTF-8, not JSON, or not an object", () => {
    const bad = new Uint8Array([...craft("{}").subarray(0, 8), 0x7b, 0xff]);
    new DataView(bad.buffer).setBigUint64(0, 2n, true);
    rejects(bad, /not valid UTF-8/);
    rejects(craft('{"a": '), /not valid JSON/);
    rejects(craft("[1, 2]"), /must be a JSON object/);
    rejects(craft("null"), /must be a JSON object/);
  });

  it("overlapping offsets", () => {
    rejects(craft({ a: u8(0, 4), b: u8(2, 6) }, new Uint8Array(6)), /tensor "b" at \[2, 6\] overlaps tensor "a"/);
  });

  it("offsets past the end of the buffer", () => {
    rejects(craft({ a: u8(0, 8) }, new Uint8Array(4)), /tensor "a": data_offsets \[0,8\].*≤ 4/);
    rejects(craft({ a: { dtype: "U8", shape: [1], data_offsets: [3, 2] } }, new Uint8Array(4)), /tensor "a"/);
    rejects(craft({ a: { dtype: "U8", shape: [1], data_offsets: [0.5, 1.5] } }, new Uint8Array(4)), /tensor "a"/);
    rejects(craft({ a: { dtype: "U8", shape: [1], data_offsets: [0] } }, new Uint8Array(1)), /tensor "a"/);
  });

  it("buffer bytes no tensor covers", () => {
    rejects(craft({ a: u8(0, 2), b: u8(4, 6) }, new Uint8Array(6)), /bytes \[2, 4\) .*belong to no tensor.*"b"/);
    rejects(craft({ a: u8(0, 2) }, new Uint8Array(6)), /bytes \[2, 6\) at the end/);
    rejects(craft({}, new Uint8Array(1)), /bytes \[0, 1\)/);
  });

  it("a byte length that does not match dtype and shape", () => {
    rejects(
      craft({ w: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /tensor "w": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/,
    );
  });

  it("an absurd shape, without allocating it", () => {
    rejects(
      craft({ w: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, new Uint8Array(8)),
      /tensor "w": shape \[1099511627776, 1099511627776\] of F32 needs 4835703278458516698824704 bytes/,
    );
  });

  it("bad dtypes, shapes, fields and metadata", () => {
    const buf = new Uint8Array(2);
    rejects(craft({ w: { dtype: "F16", shape: [1], data_offsets: [0, 2] } }, buf), /"w": unsupported dtype "F16"/);
    rejects(craft({ w: { dtype: "U8", shape: [-2], data_offsets: [0, 2] } }, buf), /tensor "w": shape must be/);
    rejects(craft({ w: { dtype: "U8", shape: [2.5], data_offsets: [0, 2] } }, buf), /tensor "w": shape must be/);
    rejects(craft({ w: { ...u8(0, 2), extra: 1 } }, buf), /tensor "w": unexpected field "extra"/);
    rejects(craft({ w: [1, 2] }, buf), /tensor "w": entry must be an object/);
    rejects(craft({ __metadata__: { n: 1 }, w: u8(0, 2) }, buf), /__metadata__ "n" is not a string/);
    rejects(craft({ __metadata__: ["x"], w: u8(0, 2) }, buf), /__metadata__ must be an object/);
  });

  it("a BOOL value other than 0 or 1", () => {
    rejects(
      craft({ m: { dtype: "BOOL", shape: [3], data_offsets: [0, 3] } }, new Uint8Array([1, 0, 2])),
      /tensor "m": BOOL element 2 is 2, must be 0 or 1/,
    );
  });

  it("keeps a metadata key named __proto__ as plain data", () => {
    const { metadata: meta } = decodeSafetensors(craft('{"__metadata__":{"__proto__":"x"}}'), FILE);
    expect(Object.getPrototypeOf(meta)).toBe(Object.prototype);
    expect(Object.keys(meta)).toEqual(["__proto__"]);
  });
});
