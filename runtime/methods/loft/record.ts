// What a `loft` pretraining records about its run: how it was dealt out and what it sent.

import type { MethodRecord } from "../record.js";

/** How a `loft` pretraining ran (Wang et al. 2023): its workers, and the bytes of parameters it and data-parallel training send. */
export interface LoftRecord {
  readonly workers: number;
  readonly localSteps: number;
  /** Syncs: each one deals out fresh filter partitions. */
  readonly rounds: number;
  /** The conv layers whose filters were dealt out. */
  readonly partitioned: readonly string[];
  /** Parameter bytes actually sent between the coordinator and the workers, both ways. */
  readonly bytesExchanged: number;
  /** What synchronous data-parallel training would send for the same steps: each step, each worker's gradient up and the averaged one down. */
  readonly dataParallelBytes: number;
}

declare module "../../core/net.js" {
  interface MethodRecords {
    loft: LoftRecord;
  }
}

const megabytes = (b: number) => `${(b / 1e6).toFixed(1)} MB`;

/** The record describes how the weights were trained, so `rewind` keeps the one of the weights' net. */
export const loftRecord: MethodRecord<"loft", { [K in keyof LoftRecord]: LoftRecord[K] }> = {
  name: "loft",
  followsMask: false,
  json: (r) => ({ ...r }),
  lines: (r) => [
    `loft: ${r.workers} workers, ${r.rounds} syncs of ${r.localSteps} steps, ${r.partitioned.join(", ")} partitioned; sent ${megabytes(r.bytesExchanged)}, data-parallel would send ${megabytes(r.dataParallelBytes)}`,
  ],
};
