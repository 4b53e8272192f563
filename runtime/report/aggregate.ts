// Replicates summarised as the field reports them (Frankle & Carbin's figures, OpenLTH's
// tables): over the replicates of one net, or position by position over the replicates of a
// list (one IMP run per replicate), the mean, the sample standard deviation (n − 1), the
// minimum and the maximum of test accuracy (final, and at the early-stopping point where
// every replicate has one) and of the share of weights remaining; of a number, its value.

import { earlyStopOf, measurement, sparsity, type EarlyStop, type NetValue } from "../core/net.js";
import { netFlops } from "../core/cost.js";

/** Mean, sample standard deviation (0 for one value), minimum and maximum. */
export interface Stats {
  readonly mean: number;
  readonly std: number;
  readonly min: number;
  readonly max: number;
}

export function stats(xs: readonly number[]): Stats {
  if (xs.length === 0) throw new Error("internal: stats of nothing");
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.length > 1 ? xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1) : 0;
  return { mean, std: Math.sqrt(variance), min: Math.min(...xs), max: Math.max(...xs) };
}

/** What one replicate's item says, as `show --json` prints an item. */
export type Item = { readonly [key: string]: unknown };

/**
 * The figures of a net that `show --json` prints and the aggregate reads: its test accuracy
 * (null unless measured on exactly these parameters), its weights alive of all, and its
 * early-stopping point (only when the training that made these parameters recorded one).
 */
export interface NetFigures {
  readonly accuracy: number | null;
  readonly loss: number | null;
  readonly measured: boolean;
  readonly weights: { readonly total: number; readonly remaining: number };
  /** Multiply-adds of one forward pass of one example (`netFlops`). */
  readonly flops: { readonly total: number; readonly remaining: number };
  readonly earlyStop?: Omit<EarlyStop, "parameters">;
}

export function netFigures(net: NetValue): NetFigures {
  const layers = sparsity(net);
  // Only a measurement of these very parameters: a pruned net's inherited history is its parent's.
  const measured = measurement(net);
  const early = earlyStopOf(net);
  return {
    accuracy: measured?.accuracy ?? null,
    loss: measured?.loss ?? null,
    measured: measured !== undefined,
    weights: { total: layers.reduce((a, l) => a + l.total, 0), remaining: layers.reduce((a, l) => a + l.remaining, 0) },
    // Multiply-adds of one forward pass of one example, of the dense net and of the weights still in use.
    flops: netFlops(net),
    ...(early ? { earlyStop: early } : {}),
  };
}

/** The aggregate of replicates of a net (or a number); undefined fields where some replicate lacks the figure. */
export interface Aggregate {
  readonly accuracy?: Stats;
  readonly earlyStopAccuracy?: Stats;
  readonly remaining?: Stats;
  readonly value?: Stats;
}

/** Replicates of lists: one entry per position, null where some replicate's item lacks the figure. */
export interface ListAggregate {
  readonly accuracy: (Stats | null)[];
  readonly earlyStopAccuracy?: (Stats | null)[];
  readonly remaining: (Stats | null)[];
  /** Lists of numbers (an instability per round): their values. */
  readonly value?: (Stats | null)[];
}

function numbers(items: readonly Item[], pick: (item: Item) => unknown): number[] | undefined {
  const xs = items.map(pick);
  return xs.every((x): x is number => typeof x === "number" && Number.isFinite(x)) ? xs : undefined;
}

/** The figures of one position: nets (accuracy, early stop, weights remaining), metrics (accuracy) or numbers. */
function aggregateOf(items: readonly Item[]): Aggregate {
  const accuracy = numbers(items, (i) => i["accuracy"]);
  const early = numbers(items, (i) => (i["earlyStop"] as { testAccuracy?: number } | undefined)?.testAccuracy);
  const remaining = numbers(items, (i) => {
    const w = i["weights"] as { total: number; remaining: number } | undefined;
    return w && w.total > 0 ? w.remaining / w.total : undefined;
  });
  const value = items.every((i) => i["type"] === "Number") ? numbers(items, (i) => i["value"]) : undefined;
  return {
    ...(accuracy ? { accuracy: stats(accuracy) } : {}),
    ...(early ? { earlyStopAccuracy: stats(early) } : {}),
    ...(remaining ? { remaining: stats(remaining) } : {}),
    ...(value ? { value: stats(value) } : {}),
  };
}

/** Whether an aggregate is of replicates of lists (position by position). */
export function isListAggregate(a: Aggregate | ListAggregate): a is ListAggregate {
  return Array.isArray(a.accuracy);
}

/**
 * The aggregate of `items`, one per replicate: of nets or numbers directly, of lists position
 * by position (every replicate's list must be as long). Null at a position where some
 * replicate's net has no measurement (`accuracy: null` in `show`).
 */
export function aggregate(items: readonly Item[]): Aggregate | ListAggregate {
  if (items.length === 0) throw new Error("internal: a replicate block has at least one replicate");
  // A replicate block nested in another yields Replicates: aggregated position by position, as lists.
  if (!items.every((i) => i["type"] === "List" || i["type"] === "Replicates")) return aggregateOf(items);
  const lists = items.map((i) => i["items"] as Item[]);
  const length = lists[0]!.length;
  const uneven = lists.findIndex((l) => l.length !== length);
  if (uneven >= 0) {
    throw new Error(
      `replicate ${uneven + 1} yields a list of ${lists[uneven]!.length}, replicate 1 one of ${length}: replicates of lists are aggregated position by position, so every replicate's list must be as long`,
    );
  }
  const positions = Array.from({ length }, (_, k) => aggregateOf(lists.map((l) => l[k]!)));
  const early = positions.map((p) => p.earlyStopAccuracy ?? null);
  const value = positions.map((p) => p.value ?? null);
  return {
    accuracy: positions.map((p) => p.accuracy ?? null),
    ...(early.some((e) => e !== null) ? { earlyStopAccuracy: early } : {}),
    remaining: positions.map((p) => p.remaining ?? null),
    ...(value.some((v) => v !== null) ? { value } : {}),
  };
}
