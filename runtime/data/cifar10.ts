// CIFAR-10's binary version: data_batch_1..5.bin and test_batch.bin, each a run of 3,073-byte
// records (a label byte, then 1,024 red, 1,024 green and 1,024 blue bytes of a 32×32 image).
// The reading is cifar-binary.ts's, shared with CIFAR-100.

import { checkFormatFiles, encodeRecords, formatFiles, readFormat, recordBytes, type CifarFormat } from "./cifar-binary.js";

export const TRAIN_FILES = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
export const TEST_FILE = "test_batch.bin";

export const CIFAR10: CifarFormat = { name: "CIFAR-10", trainFiles: TRAIN_FILES, testFile: TEST_FILE, labels: [{ name: "label", classes: 10 }] };

export const RECORD = recordBytes(CIFAR10);

/** Every file of the set in `dir`, training batches first. */
export function cifarFiles(dir: string): string[] {
  return formatFiles(CIFAR10, dir);
}

/**
 * A problem with the files, found from their sizes alone (before anything runs), or
 * undefined: each file present and whole records, and holding the `train` and `test` images
 * asked for (when they are known numbers). Labels are checked when the records are read.
 */
export function checkCifarFiles(dir: string, train?: unknown, test?: unknown): string | undefined {
  return checkFormatFiles(CIFAR10, dir, train, test);
}

/** The first `train` training and `test` test images, as [n, 32, 32, 3] bytes (channels last) and labels. */
export function readCifar(dir: string, train: number, test: number) {
  return readFormat(CIFAR10, dir, train, test);
}

/** Writes a small CIFAR-10 set (for tests and fixtures): records with the given labels and pixels from `pixel`. */
export function encodeCifarBatch(labels: readonly number[], pixel: (record: number, offset: number) => number): Uint8Array {
  return encodeRecords(CIFAR10, labels.map((label) => [label]), pixel);
}
