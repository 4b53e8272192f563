// What a method records about the net it made (`earlybird`'s emergence, `greedy`'s kept
// units, `loft`'s traffic), and how `show` and the report present it. A method with a record
// declares its type in `MethodRecords` (core/net.ts) and one `MethodRecord` beside its code;
// `records.ts` lists them. The net's file stores each record as JSON under the method's name,
// so neither the codec nor `show` nor the report changes when a method is added.

import type { MethodRecords } from "../core/net.js";

/** A figure for the report: a Vega-Lite title and layers (data inline); the report adds size, fonts and the schema. */
export interface RecordFigure {
  readonly title: string;
  readonly layer: readonly Record<string, unknown>[];
}

export interface MethodRecord<K extends keyof MethodRecords, J extends Record<string, unknown> = Record<string, unknown>> {
  /** The method's name: the record's key in the net and in its file's metadata. */
  readonly name: K;
  /**
   * The record describes the net's mask, not its weights: `rewind`, which takes the weights of
   * one net and the mask of another, keeps it from the mask's net (and drops the other's).
   */
  readonly followsMask: boolean;
  /** The record as `lth show --json` gives it. */
  json(record: MethodRecords[K]): J;
  /** The lines `lth show` prints for it under the net (without indentation). */
  lines(json: J): string[];
  /** A figure over every net of a report section that has the record, if the record has one. */
  figure?(nets: readonly { readonly name: string; readonly record: MethodRecords[K] }[]): RecordFigure | undefined;
}

/** A share as people read it: `12.50%`. */
export const percent = (x: number): string => `${(100 * x).toFixed(2)}%`;
