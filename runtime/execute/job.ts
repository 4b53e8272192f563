// What a batch job and the run that submitted it share (oneshot.ts, slurm.ts): the job file
// it reads and the exit marker it writes, both JSON on the shared filesystem.

import { renameSync, writeFileSync } from "node:fs";
import type { BackendChoice } from "../engine/backend.js";
import type { ArtifactRef } from "../store/store.js";
import type { StageTask } from "./task.js";

/** What the submitting run writes for a job to read. Paths are absolute, on the shared filesystem. */
export interface JobFile {
  readonly task: StageTask;
  readonly store: string;
  readonly backend: BackendChoice;
  readonly threads: number;
  /** Where the job writes its exit marker (`JobMarker`). */
  readonly marker: string;
  /** Where it writes its latest training progress (one `TrainingProgress` as JSON). */
  readonly progress: string;
  /** Its own temp folder in the store, relative to the root (`Store`'s `temp`). */
  readonly temp: string;
}

/** A job's exit marker: written last, whole or absent. */
export type JobMarker =
  | { readonly ok: true; readonly ref: ArtifactRef; readonly seconds: number; readonly backend: string; readonly host: string }
  | { readonly ok: false; readonly message: string; readonly repeats: boolean; readonly seconds: number; readonly backend: string | null; readonly host: string };

/** Writes `value` as JSON to `path` whole: a reader sees the old file or the new one. */
export function writeWhole(path: string, value: unknown): void {
  const temp = `${path}.${process.pid}.part`;
  writeFileSync(temp, `${JSON.stringify(value)}\n`, { flush: true });
  renameSync(temp, path);
}

