// The binary versions of CIFAR-10 and CIFAR-100 (https://www.cs.toronto.edu/~kriz/cifar.html):
// files of fixed-size records, each one or more label bytes, then 1,024 red, 1,024 green and
// 1,024 blue bytes of a 32×32 image (row-major within each plane). CIFAR-10's record has one
// label byte; CIFAR-100's has two, the coarse label (superclass, 0 to 19) and then the fine
// one (class, 0 to 99). Everything is checked from the files' sizes before anything is
// allocated, and every label byte as the records are read.

import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DataFileError } from "./idx.js";

/** The bytes of one 32×32×3 image. */
export const IMAGE_BYTES = 32 * 32 * 3;

export interface CifarFormat {
  /** The data set, in messages: "CIFAR-10". */
  readonly name: string;
  readonly trainFiles: readonly string[];
  readonly testFile: string;
  /** The label bytes at the start of each record, in order: each one's name in messages and its number of classes. */
  readonly labels: readonly { readonly name: string; readonly classes: number }[];
}

/** The bytes of one record of `format`. */
export function recordBytes(format: CifarFormat): number {
  return format.labels.length + IMAGE_BYTES;
}

/** Every file of the set in `dir`, training files first. */
export function formatFiles(format: CifarFormat, dir: string): string[] {
  return [...format.trainFiles, format.testFile].map((f) => join(dir, f));
}

/** How many whole records `file` holds, from its size alone; throws naming the file when it is not whole records. */
function recordCount(format: CifarFormat, file: string): number {
  const record = recordBytes(format);
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    throw new DataFileError(file, `no such file (${format.name}'s binary version has ${format.trainFiles.join(", ")} and ${format.testFile})`);
  }
  if (size === 0 || size % record !== 0) {
    throw new DataFileError(file, `${size} bytes is not a whole number of ${record}-byte records; the file is truncated or not ${format.name}`);
  }
  return size / record;
}

/** How many images the set in `dir` holds, training and test, from the files' sizes. */
export function recordTotals(format: CifarFormat, dir: string): { train: number; test: number } {
  return {
    train: format.trainFiles.reduce((n, f) => n + recordCount(format, join(dir, f)), 0),
    test: recordCount(format, join(dir, format.testFile)),
  };
}

/** `count` images must be among the records of `files`; throws naming them when they hold fewer. */
function checkCount(format: CifarFormat, files: readonly string[], count: number, what: string): void {
  const available = files.reduce((n, file) => n + recordCount(format, file), 0);
  if (count > available) throw new DataFileError(files[0]!, `${what}: asked for ${count} images, but ${files.join(", ")} hold ${available}`);
}

/**
 * A problem with the files in `dir`, found from their sizes alone (before anything runs), or
 * undefined: each file present and whole records, and holding the `train` and `test` images
 * asked for (when they are known numbers). Labels are checked when the records are read.
 */
export function checkFormatFiles(format: CifarFormat, dir: string, train?: unknown, test?: unknown): string | undefined {
  try {
    formatFiles(format, dir).forEach((file) => recordCount(format, file));
    if (typeof train === "number") checkCount(format, format.trainFiles.map((f) => join(dir, f)), train, "training set");
    if (typeof test === "number") checkCount(format, [join(dir, format.testFile)], test, "test set");
    return undefined;
  } catch (e) {
    if (e instanceof DataFileError) return e.message;
    throw e;
  }
}

/**
 * `count` images from `files` in order, as [count, 32, 32, 3] bytes (channels last), and the
 * label at byte `label` of each record. Every label byte of a record read is checked.
 */
export function readRecords(format: CifarFormat, files: readonly string[], count: number, what: string, label: number): { images: Uint8Array; labels: Int32Array } {
  // From the sizes first: nothing is allocated for images the files do not hold.
  checkCount(format, files, count, what);
  const record = recordBytes(format);
  const skip = format.labels.length;
  const images = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Int32Array(count);
  let n = 0;
  for (const file of files) {
    if (n === count) break;
    const bytes = readFileSync(file);
    // The size again: the file may have changed since it was checked.
    if (bytes.length % record !== 0) throw new DataFileError(file, `${bytes.length} bytes is not a whole number of ${record}-byte records`);
    const records = bytes.length / record;
    for (let r = 0; r < records && n < count; r++, n++) {
      const at = r * record;
      format.labels.forEach((l, k) => {
        const value = bytes[at + k]!;
        if (value >= l.classes) throw new DataFileError(file, `record ${r} has ${l.name} ${value}; ${format.name} ${l.name}s are 0 to ${l.classes - 1}`);
      });
      labels[n] = bytes[at + label]!;
      for (let p = 0; p < 1024; p++) for (let c = 0; c < 3; c++) images[(n * 1024 + p) * 3 + c] = bytes[at + skip + c * 1024 + p]!;
    }
  }
  if (n < count) throw new DataFileError(files[0]!, `${what}: asked for ${count} images, but ${files.join(", ")} now hold ${n}`);
  return { images, labels };
}

/** The first `train` training and `test` test images of the set in `dir`, with the labels at byte `label` of each record. */
export function readFormat(format: CifarFormat, dir: string, train: number, test: number, label = 0) {
  return {
    train: readRecords(format, format.trainFiles.map((f) => join(dir, f)), train, "training set", label),
    test: readRecords(format, [join(dir, format.testFile)], test, "test set", label),
  };
}

/** Records of `format` (for tests and fixtures): the label bytes of each, then its image's 3,072 bytes from `pixel`. */
export function encodeRecords(format: CifarFormat, labels: readonly (readonly number[])[], pixel: (record: number, offset: number) => number): Uint8Array {
  const record = recordBytes(format);
  const skip = format.labels.length;
  const out = new Uint8Array(labels.length * record);
  labels.forEach((bytes, r) => {
    if (bytes.length !== skip) throw new Error(`encodeRecords: ${format.name} records have ${skip} label bytes, not ${bytes.length}`);
    out.set(bytes, r * record);
    for (let i = 0; i < IMAGE_BYTES; i++) out[r * record + skip + i] = pixel(r, i) & 0xff;
  });
  return out;
}
