// CIFAR-100's binary version: train.bin (50,000 images) and test.bin (10,000), each a run of
// 3,074-byte records: the coarse label (one of 20 superclasses), the fine label (one of 100
// classes), then 1,024 red, 1,024 green and 1,024 blue bytes of a 32×32 image, as CIFAR-10's
// records but with two label bytes. The reading is cifar-binary.ts's, shared with CIFAR-10.

import { checkFormatFiles, encodeRecords, formatFiles, readFormat, recordBytes, type CifarFormat } from "./cifar-binary.js";

export const TRAIN_FILE = "train.bin";
export const TEST_FILE = "test.bin";

export const CIFAR100: CifarFormat = {
  name: "CIFAR-100",
  trainFiles: [TRAIN_FILE],
  testFile: TEST_FILE,
  labels: [
    { name: "coarse label", classes: 20 },
    { name: "fine label", classes: 100 },
  ],
};

export const RECORD = recordBytes(CIFAR100);

/** Which label a `cifar100` stage learns: its byte in each record and the number of classes. */
export const LABELS = { coarse: { byte: 0, classes: 20 }, fine: { byte: 1, classes: 100 } } as const;

/** Both files of the set in `dir`, the training file first. */
export function cifar100Files(dir: string): string[] {
  return formatFiles(CIFAR100, dir);
}

/** A problem with the files found from their sizes (before anything runs), or undefined; as checkCifarFiles. */
export function checkCifar100Files(dir: string, train?: unknown, test?: unknown): string | undefined {
  return checkFormatFiles(CIFAR100, dir, train, test);
}

/** The first `train` training and `test` test images, as [n, 32, 32, 3] bytes (channels last), with their fine or coarse labels. */
export function readCifar100(dir: string, train: number, test: number, labels: keyof typeof LABELS) {
  return readFormat(CIFAR100, dir, train, test, LABELS[labels].byte);
}

/** Writes a small CIFAR-100 file (for tests and fixtures): records with the given coarse and fine labels and pixels from `pixel`. */
export function encodeCifar100Batch(coarse: readonly number[], fine: readonly number[], pixel: (record: number, offset: number) => number): Uint8Array {
  if (coarse.length !== fine.length) throw new Error(`encodeCifar100Batch: ${coarse.length} coarse labels but ${fine.length} fine ones`);
  return encodeRecords(CIFAR100, coarse.map((c, r) => [c, fine[r]!]), pixel);
}
