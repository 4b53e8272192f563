// Replicates summarised as the field reports them (Frankle & Carbin's figures, OpenLTH's
// tables): over the replicates of one net, or position by position over the replicates of a
// list (one IMP run per replicate), the mean, the sample standard deviation (n − 1), the
// minimum and the maximum of test accuracy (final, and at the early-stopping point where
// every replicate has one) and of the share of weights remaining; of a number, its value.

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

/** The aggregate of replicates of a net (or a number); undefined fields where no replicate has the figure. */
export interface Aggregate {
  readonly accuracy?: Stats;
  readonly earlyStopAccuracy?: Stats;
  readonly remaining?: Stats;
  readonly value?: Stats;
}

/** Replicates of lists: one aggregate per position. */
export interface ListAggregate {
  readonly accuracy: (Stats | null)[];
  readonly earlyStopAccuracy?: (Stats | null)[];
  readonly remaining: (Stats | null)[];
}

function numbers(items: readonly Item[], pick: (item: Item) => unknown): number[] | undefined {
  const xs = items.map(pick);
  return xs.every((x): x is number => typeof x === "number") ? xs : undefined;
}

/** The figures of one position: nets (accuracy, early stop, weights remaining) or numbers. */
function aggregateOf(items: readonly Item[]): Aggregate {
  const accuracy = numbers(items, (i) => i["accuracy"]);
  const early = numbers(items, (i) => (i["earlyStop"] as { testAccuracy?: number } | undefined)?.testAccuracy);
  const remaining = numbers(items, (i) => {
    const w = i["weights"] as { total: number; remaining: number } | undefined;
    return w ? w.remaining / w.total : undefined;
  });
  const value = items.every((i) => i["type"] === "Number") ? numbers(items, (i) => i["value"]) : undefined;
  return {
    ...(accuracy ? { accuracy: stats(accuracy) } : {}),
    ...(early ? { earlyStopAccuracy: stats(early) } : {}),
    ...(remaining ? { remaining: stats(remaining) } : {}),
    ...(value ? { value: stats(value) } : {}),
  };
}

/**
 * The aggregate of `items`, one per replicate: of nets or numbers directly, of lists position
 * by position (every replicate's list must be as long). Null at a position where some
 * replicate's net has no measurement (`accuracy: null` in `show`).
 */
export function aggregate(items: readonly Item[]): Aggregate | ListAggregate {
  if (items.length === 0) throw new Error("internal: a replicate block has at least one replicate");
  if (!items.every((i) => i["type"] === "List")) return aggregateOf(items);
  const lists = items.map((i) => i["items"] as Item[]);
  const length = lists[0]!.length;
  const uneven = lists.findIndex((l) => l.length !== length);
  if (uneven >= 0) throw new Error(`internal: replicate ${uneven + 1} yields a list of ${lists[uneven]!.length}, replicate 1 one of ${length}: replicates of lists are aggregated position by position, so every replicate's list must be as long`);
  const positions = Array.from({ length }, (_, k) => aggregateOf(lists.map((l) => l[k]!)));
  const early = positions.map((p) => p.earlyStopAccuracy ?? null);
  return {
    accuracy: positions.map((p) => p.accuracy ?? p.value ?? null),
    ...(early.some((e) => e !== null) ? { earlyStopAccuracy: early } : {}),
    remaining: positions.map((p) => p.remaining ?? null),
  };
}
