// Every method record, in the order `show` prints them. A method that records something about
// its net adds one line here (see runtime/README.md, "Adding a method").

import type { MethodRecords, NetValue } from "../core/net.js";
import { earlybirdRecord } from "./earlybird.js";
import { greedyRecord } from "./greedy.js";
import { loftRecord } from "./loft/record.js";
import type { MethodRecord, RecordFigure } from "./record.js";

type AnyRecord = { [K in keyof MethodRecords]: MethodRecord<K, any> }[keyof MethodRecords]; // eslint-disable-line @typescript-eslint/no-explicit-any

export const RECORDS: readonly AnyRecord[] = [earlybirdRecord, greedyRecord, loftRecord];

/** The names of the records that describe a net's mask rather than its weights. */
export const MASK_RECORDS: ReadonlySet<string> = new Set(RECORDS.filter((r) => r.followsMask).map((r) => r.name));

/** A net's known records as `show` presents them: name, JSON and lines, in `RECORDS` order. */
export function presentRecords(net: Pick<NetValue, "records">): { name: string; json: Record<string, unknown>; lines: string[] }[] {
  return RECORDS.flatMap((r) => {
    const record = net.records?.[r.name];
    if (record === undefined) return [];
    const json = (r.json as (x: unknown) => Record<string, unknown>)(record);
    return [{ name: r.name, json, lines: (r.lines as (j: Record<string, unknown>) => string[])(json) }];
  });
}

/** The lines for records already in `show`'s JSON form (as `presentRecords` made them). */
export function recordLines(json: Readonly<Record<string, unknown>>): string[] {
  return RECORDS.flatMap((r) => (json[r.name] === undefined ? [] : (r.lines as (j: unknown) => string[])(json[r.name])));
}

/** The figures the records of a report section's nets ask for, in `RECORDS` order. */
export function recordFigures(nets: readonly { readonly name: string; readonly records?: Readonly<Partial<MethodRecords>> }[]): RecordFigure[] {
  return RECORDS.flatMap((r) => {
    if (!r.figure) return [];
    const having = nets.flatMap((n) => (n.records?.[r.name] === undefined ? [] : [{ name: n.name, record: n.records[r.name] }]));
    const figure = having.length ? (r.figure as (xs: typeof having) => RecordFigure | undefined)(having) : undefined;
    return figure ? [figure] : [];
  });
}
