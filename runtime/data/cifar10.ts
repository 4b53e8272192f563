// CIFAR-10's binary version: data_batch_1..5.bin and test_batch.bin, each a run of 3,073-byte
// records (a label byte, then 1,024 red, 1,024 green and 1,024 blue bytes of a 32×32 image).

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataFileError } from "./idx.js";

export const RECORD = 1 + 32 * 32 * 3;
export const TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
export const TEST_FILE = "test_batch.bin";

/** Every file of the set in `dir`, training batches first. */
export function cifarFiles(dir: string): string[] {
  return [...TRAIN_FILES, TEST_FILE].map((f) => join(dir, f));
}

/** How many whole records `file` holds, from its size alone; throws naming the file when it is not whole records. */
function recordCount(file: string): number {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new DataFileError(file, `no such file (CIFAR-10's binary version has ${TRAIN_FILES.join(", ")} and ${TEST_FILE})`);
  }
  if (size === 0 || size % RECORD !== 0) {
    throw new DataFileError(file, `${size} bytes is not a whole number of ${RECORD}-byte records; the file is truncated or not CIFAR-10`);
  }
  return size / RECORD;
}

/** `count` images must be among the records of `files`; throws naming them when they hold fewer. */
function checkCount(files: readonly string[], count: number, what: string): void {
  const available = files.reduce((n, file) => n + recordCount(file), 0);
  if (count > available) throw new DataFileError(files[0]!, `${what}: asked for ${count} images, but ${files.join(", ")} hold ${available}`);
}

/**
 * A problem with the files, found from their sizes alone (before anything runs), or
 * undefined: each file present and whole records, and holding the `train` and `test` images
 * asked for (when they are known numbers). Labels are checked when the records are read.
 */
export function checkCifarFiles(dir: string, train?: unknown, test?: unknown): string | undefined {
  try {
    cifarFiles(dir).forEach(recordCount);
    if (typeof train === "number") checkCount(TRAIN_FILES.map((f) => join(dir, f)), train, "training set");
    if (typeof test === "number") checkCount([join(dir, TEST_FILE)], test, "test set");
    return undefined;
  } catch (e) {
    if (e instanceof DataFileError) return e.message;
    throw e;
  }
}

/** `count` images from `files` in order, as [count, 32, 32, 3] bytes (channels last) and labels. */
function read(files: readonly string[], count: number, what: string): { images: Uint8Array; labels: Int32Array } {
  // From the sizes first: nothing is allocated for images the files do not hold.
  checkCount(files, count, what);
  const images = new Uint8Array(count * 32 * 32 * 3);
  const labels = new Int32Array(count);
  let n = 0;
  for (const file of files) {
    if (n === count) break;
    const bytes = readFileSync(file);
    // The size again: the file may have changed since it was checked.
    if (bytes.length % RECORD !== 0) throw new DataFileError(file, `${bytes.length} bytes is not a whole number of ${RECORD}-byte records`);
    const records = bytes.length / RECORD;
    for (let r = 0; r < records && n < count; r++, n++) {
      const at = r * RECORD;
      const label = bytes[at]!;
      if (label > 9) throw new DataFileError(file, `record ${r} has label ${label}; CIFAR-10 labels are 0 to 9`);
      labels[n] = label;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[(n * 1024 + p) * 3 + c] = bytes[at + 1 + c * 1024 + p]!;
    }
  }
  if (n < count) throw new DataFileError(files[0]!, `${what}: asked for ${count} images, but ${files.join(", ")} now hold ${n}`);
  return { images, labels };
}

export function readCifar(dir: string, train: number, test: number) {
  return {
    train: read(TRAIN_FILES.map((f) => join(dir, f)), train, "training set"),
    test: read([join(dir, TEST_FILE)], test, "test set"),
  };
}

/** Writes a small CIFAR-10 set (for tests and fixtures): records with the given labels and pixels from `pixel`. */
export function encodeCifarBatch(labels: readonly number[], pixel: (record: number, offset: number) => number): Uint8Array {
  const out = new Uint8Array(labels.length * RECORD);
  labels.forEach((label, r) => {
    out[r * RECORD] = label;
    for (let i = 0; i < RECORD - 1; i++) out[r * RECORD + 1 + i] = pixel(r, i) & 0xff;
  });
  return out;
}
