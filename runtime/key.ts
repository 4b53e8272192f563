// The stage key: the hash of everything that can change a stage's output, and of nothing
// else. Each field below says why it is in the key; what is left out is as deliberate.

import type { ParamValue, Stage } from "../compiler/stage.js";
import { sha256, type Digest, type StageKey } from "./store/store.js";

/**
 * Bumped when the store's encodings change (artifact layout, this key's shape): every key
 * changes with it, so nothing written by an older lth is mistaken for a current result.
 */
export const KEY_FORMAT = 2;

export interface KeyInputs {
  /** Content digest of each input artifact, by parameter (the dataset among them). */
  readonly inputs: Readonly<Record<string, Digest>>;
  /** Content digest of each file a path parameter names (`idx`'s images). */
  readonly files: Readonly<Record<string, string>>;
  /** Content digest of data the package ships and the op reads (`mnist`'s digits). */
  readonly sources: Readonly<Record<string, string>>;
}

/** The fields of a key, in the form that is hashed (also kept for `plan`'s reasons). */
export interface Fingerprint {
  readonly format: number;
  /** Which computation: the op's name... */
  readonly op: string;
  /** ...and its version, bumped whenever the op's output for the same inputs may change. */
  readonly version: number;
  /**
   * Every parameter with defaults applied and units normalised (`20%` is 0.2, `0 epochs` is
   * `0 steps`), so writing a default out, or moving it to a `defaults` block, reruns nothing.
   * Binding names, comments, whitespace and line order never reach a stage, so they are not here.
   */
  readonly params: Readonly<Record<string, ParamValue>>;
  /**
   * Inputs by content, not by the key of the stage that made them: a stage that reruns and
   * produces the same bytes leaves its dependants' keys alone (early cutoff).
   */
  readonly inputs: Readonly<Record<string, Digest>>;
  /** Files by content, not by path: moving a dataset reruns nothing; editing one reruns its readers. */
  readonly files: Readonly<Record<string, string>>;
  readonly sources: Readonly<Record<string, string>>;
  // Not here: the backend. A result is served to any backend and records which one made it;
  // determinism is promised per key on one backend, not bit-equality across backends.
}

export function fingerprint(stage: Stage, k: KeyInputs): Fingerprint {
  return { format: KEY_FORMAT, op: stage.op, version: stage.version, params: stage.params, inputs: k.inputs, files: k.files, sources: k.sources };
}

export function stageKey(f: Fingerprint): StageKey {
  return sha256(canonicalJson(f)) as StageKey;
}

/** JSON with object keys sorted at every level: the same value always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`cannot hash the number ${value}`);
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
