// The k lowest / k highest of a score array, ties going to the earlier position: checked by
// hand on the edge cases and against a plain stable sort on seeded random arrays.

import { describe, expect, it } from "vitest";
import { highest, lowest, type Scores } from "../../runtime/core/select.js";
import { Random } from "../../runtime/core/random.js";

/** The reference: the first `k` of a stable sort (ascending, or descending for `high`), as positions in increasing order. */
function reference(scores: Scores, k: number, high: boolean): number[] {
  const xs = Array.from(scores);
  const order = xs.map((_, i) => i).sort((a, b) => (high ? cmp(xs[b]!, xs[a]!) : cmp(xs[a]!, xs[b]!)));
  return order.slice(0, Math.max(0, k)).sort((a, b) => a - b);
}
const cmp = (x: number, y: number) => (x < y ? -1 : x > y ? 1 : 0);

const f32 = (...xs: number[]) => Float32Array.from(xs);

describe("lowest", () => {
  it("takes the k smallest in increasing position, ties going to the earlier position", () => {
    expect([...lowest(f32(3, 1, 2, 1, 0.5), 2)]).toEqual([1, 4]);
    expect([...lowest(f32(3, 1, 2, 1, 0.5), 3)]).toEqual([1, 3, 4]);
    expect([...lowest(f32(2, 1, 1, 1, 2), 2)]).toEqual([1, 2]);
  });

  it("clamps k: 0 or less gives none, n or more gives every position", () => {
    const s = f32(5, 4, 3);
    expect([...lowest(s, 0)]).toEqual([]);
    expect([...lowest(s, -2)]).toEqual([]);
    expect([...lowest(s, 3)]).toEqual([0, 1, 2]);
    expect([...lowest(s, 7)]).toEqual([0, 1, 2]);
    expect([...lowest(new Float32Array(0), 1)]).toEqual([]);
  });

  it("all equal: the first k", () => {
    expect([...lowest(new Float32Array(9).fill(0.25), 4)]).toEqual([0, 1, 2, 3]);
  });

  it("-0 and +0 are equal: a tie by position, whichever sign comes first", () => {
    expect([...lowest(f32(1, 0, -0, 2), 1)]).toEqual([1]);
    expect([...lowest(f32(1, -0, 0, 2), 1)]).toEqual([1]);
    expect([...lowest(f32(0, -0, -0, 0), 2)]).toEqual([0, 1]);
  });

  it("leaves its input as it was", () => {
    const s = f32(4, 1, 3, 1, 2);
    lowest(s, 3);
    expect([...s]).toEqual([4, 1, 3, 1, 2]);
  });

  it("a NaN throws by default; under `last` it comes after every number", () => {
    expect(() => lowest(f32(1, NaN, 0), 1)).toThrow(/NaN/);
    expect([...lowest(f32(1, NaN, 0, NaN), 2, "last")]).toEqual([0, 2]);
    expect([...lowest(f32(1, NaN, 0, NaN), 3, "last")]).toEqual([0, 1, 2]);
    expect([...lowest(f32(NaN, NaN), 1, "last")]).toEqual([0]);
  });
});

describe("highest", () => {
  it("takes the k largest in increasing position, ties going to the earlier position (not the later)", () => {
    expect([...highest(f32(0.5, 3, 2, -2, 9, 0.1), 2)]).toEqual([1, 4]);
    expect([...highest(f32(1, 1, 1, 1), 2)]).toEqual([0, 1]);
    expect([...highest(f32(1, 2, 1, 2, 1), 3)]).toEqual([0, 1, 3]);
  });

  it("clamps k and treats -0 as +0", () => {
    expect([...highest(f32(1, 2), 0)]).toEqual([]);
    expect([...highest(f32(1, 2), 5)]).toEqual([0, 1]);
    expect([...highest(f32(-1, -0, 0, -2), 1)]).toEqual([1]);
    expect([...highest(f32(-1, 0, -0, -2), 2)]).toEqual([1, 2]);
  });

  it("ranks float64 scores at full precision", () => {
    // Equal as float32, apart as float64.
    expect([...highest(Float64Array.from([1, 1 + 2 ** -40, 1]), 1)]).toEqual([1]);
    expect([...lowest(Float64Array.from([1 + 2 ** -40, 1, 1]), 2)]).toEqual([1, 2]);
  });

  it("a NaN throws by default; under `last` it comes after every number", () => {
    expect(() => highest(f32(1, NaN), 1)).toThrow(/NaN/);
    expect([...highest(f32(NaN, 1, NaN, 2), 2, "last")]).toEqual([1, 3]);
    expect([...highest(f32(NaN, 1, NaN, 2), 3, "last")]).toEqual([0, 1, 3]);
  });
});

describe("against a stable sort", () => {
  it("agrees on seeded random arrays (few distinct values, signed zeros, infinities), float32 and float64", () => {
    const random = new Random(7, "select/test");
    for (let trial = 0; trial < 400; trial++) {
      const n = random.int(60);
      const spread = 1 + random.int(trial % 2 ? 4 : 1000);
      const xs = Array.from({ length: n }, () => {
        const v = random.int(spread) - Math.floor(spread / 2);
        if (v === 0) return random.int(2) ? -0 : 0;
        if (random.int(40) === 0) return v > 0 ? Infinity : -Infinity;
        return v * (trial % 3 ? 1 : random.next());
      });
      for (const scores of [Float32Array.from(xs), Float64Array.from(xs)]) {
        for (const k of [0, 1, random.int(n + 1), n - 1, n, n + 3]) {
          expect([...lowest(scores, k)]).toEqual(reference(scores, k, false));
          expect([...highest(scores, k)]).toEqual(reference(scores, k, true));
        }
      }
    }
  });
});
