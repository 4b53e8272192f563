// The aggregate of a `replicate` block, on hand-made values: mean, sample standard deviation
// (n − 1), min and max of test accuracy (final and at the early-stopping point) and of weights
// remaining, over nets, position by position over lists, and over numbers; and how the report
// page draws and tabulates it, with a net's early-stopping point in its own column.

import { describe, expect, it } from "vitest";
import { parametersDigest, withMeasurement, type EarlyStop, type NetValue } from "../../runtime/core/net.js";
import { aggregate, isListAggregate, netFigures, stats, type Item, type Stats } from "../../runtime/report/aggregate.js";
import type { NetSummary, ReplicateSummary } from "../../runtime/report/charts.js";
import { renderReport } from "../../runtime/report/report.js";
import { data, net, pruned } from "./nets-fixture.js";

const d = data();

/** A net measured at `accuracy`, with an early-stopping point recorded for exactly its parameters when `early` is given. */
function trained(seed: number, accuracy: number, early?: { step: number; testAccuracy: number }, rate = 0): NetValue {
  const base = rate > 0 ? pruned(net(d, { seed }), { rate }) : net(d, { seed });
  const measured = withMeasurement(base, { accuracy, loss: 1 - accuracy });
  if (!early) return measured;
  const point: EarlyStop = { ...early, epoch: early.step / 10, validationLoss: 0.5, validationAccuracy: 0.8, testLoss: 0.4, parameters: parametersDigest(measured) };
  return { ...measured, earlyStop: point };
}

const item = (n: NetValue): Item => ({ type: "Net", ...netFigures(n) });

describe("stats", () => {
  it("is the mean, the sample standard deviation (n − 1), the minimum and the maximum", () => {
    const s = stats([0.9, 0.8, 0.7, 1]);
    expect(s.mean).toBeCloseTo(0.85, 12);
    // Deviations ±0.05, ±0.15: (2·0.0025 + 2·0.0225) / 3.
    expect(s.std).toBeCloseTo(Math.sqrt(0.05 / 3), 12);
    expect([s.min, s.max]).toEqual([0.7, 1]);
  });

  it("is a standard deviation of 0 for one replicate, and refuses none", () => {
    expect(stats([0.42])).toEqual({ mean: 0.42, std: 0, min: 0.42, max: 0.42 });
    expect(() => stats([])).toThrow();
  });
});

describe("a net's figures", () => {
  it("are its measured accuracy, its weights alive, and its early-stopping point without the digest", () => {
    const n = trained(1, 0.9, { step: 30, testAccuracy: 0.88 });
    const f = netFigures(n);
    expect(f.accuracy).toBe(0.9);
    expect(f.weights.remaining).toBe(f.weights.total);
    expect(f.earlyStop).toEqual({ step: 30, epoch: 3, validationLoss: 0.5, validationAccuracy: 0.8, testAccuracy: 0.88, testLoss: 0.4 });
  });

  it("leave out an early-stopping point and a measurement that belong to other parameters", () => {
    const n = trained(1, 0.9, { step: 30, testAccuracy: 0.88 });
    const after = pruned(n, { rate: 0.5 });
    const f = netFigures(after);
    expect(f.accuracy).toBeNull();
    expect(f.measured).toBe(false);
    expect(f).not.toHaveProperty("earlyStop");
    expect(f.weights.remaining).toBeLessThan(f.weights.total);
  });
});

describe("the aggregate of replicates", () => {
  const check = (got: Stats | null | undefined, xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(got!.mean).toBeCloseTo(mean, 12);
    expect(got!.std).toBeCloseTo(Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)), 12);
    expect([got!.min, got!.max]).toEqual([Math.min(...xs), Math.max(...xs)]);
  };

  it("of nets: accuracy, accuracy at early stop and weights remaining", () => {
    const nets = [trained(1, 0.9, { step: 10, testAccuracy: 0.91 }), trained(2, 0.8, { step: 20, testAccuracy: 0.85 }), trained(3, 0.95, { step: 30, testAccuracy: 0.9 })];
    const a = aggregate(nets.map(item));
    expect(isListAggregate(a)).toBe(false);
    if (isListAggregate(a)) return;
    check(a.accuracy, [0.9, 0.8, 0.95]);
    check(a.earlyStopAccuracy, [0.91, 0.85, 0.9]);
    expect(a.remaining).toEqual({ mean: 1, std: 0, min: 1, max: 1 });
    expect(a).not.toHaveProperty("value");
  });

  it("of nets: no accuracy at early stop unless every replicate has one", () => {
    const a = aggregate([trained(1, 0.9, { step: 10, testAccuracy: 0.91 }), trained(2, 0.8)].map(item));
    expect(a).toHaveProperty("accuracy");
    expect(a).not.toHaveProperty("earlyStopAccuracy");
  });

  it("of lists (one IMP run per replicate): position by position, null where a net is not measured", () => {
    const run = (seed: number, accuracies: number[]): Item => ({
      type: "List",
      items: [item(trained(seed, accuracies[0]!, { step: 5, testAccuracy: accuracies[0]! - 0.01 })), item(trained(seed, accuracies[1]!, undefined, 0.5)), item(pruned(net(d, { seed }), { rate: 0.75 }))],
    });
    const a = aggregate([run(1, [0.9, 0.85]), run(2, [0.8, 0.83]), run(3, [0.95, 0.8])]);
    expect(isListAggregate(a)).toBe(true);
    if (!isListAggregate(a)) return;
    expect(a.accuracy).toHaveLength(3);
    check(a.accuracy[0], [0.9, 0.8, 0.95]);
    check(a.accuracy[1], [0.85, 0.83, 0.8]);
    expect(a.accuracy[2]).toBeNull();
    check(a.earlyStopAccuracy![0], [0.89, 0.79, 0.94]);
    expect(a.earlyStopAccuracy!.slice(1)).toEqual([null, null]);
    expect(a.remaining[0]).toEqual({ mean: 1, std: 0, min: 1, max: 1 });
    expect(a.remaining[1]!.mean).toBeCloseTo(0.5, 1);
    expect(a.remaining[2]!.mean).toBeLessThan(a.remaining[1]!.mean);
    expect(a).not.toHaveProperty("value");
  });

  it("of replicate blocks nested in one: position by position, as lists", () => {
    const inner = (xs: number[]): Item => ({ type: "Replicates", count: xs.length, items: xs.map((x, k) => item(trained(k + 1, x))) });
    const a = aggregate([inner([0.9, 0.8]), inner([0.7, 0.6])]);
    if (!isListAggregate(a)) throw new Error("not a list aggregate");
    check(a.accuracy[0], [0.9, 0.7]);
    check(a.accuracy[1], [0.8, 0.6]);
  });

  it("of lists of unequal length is an error that says which replicate", () => {
    const list = (n: number): Item => ({ type: "List", items: Array.from({ length: n }, () => ({ type: "Number", value: 1 })) });
    expect(() => aggregate([list(2), list(2), list(3)])).toThrow("replicate 3 yields a list of 3, replicate 1 one of 2");
  });

  it("of numbers, and of lists of numbers, under value (not accuracy)", () => {
    const a = aggregate([0.1, 0.3, 0.2].map((value) => ({ type: "Number", value })));
    if (isListAggregate(a)) throw new Error("a list aggregate");
    check(a.value, [0.1, 0.3, 0.2]);
    expect(a).not.toHaveProperty("accuracy");
    const lists = aggregate([
      { type: "List", items: [{ type: "Number", value: 1 }, { type: "Number", value: 4 }] },
      { type: "List", items: [{ type: "Number", value: 3 }, { type: "Number", value: 6 }] },
    ]);
    if (!isListAggregate(lists)) throw new Error("not a list aggregate");
    expect(lists.accuracy).toEqual([null, null]);
    expect(lists.value).toEqual([stats([1, 3]), stats([4, 6])]);
  });
});

describe("the report page", () => {
  const summary = (name: string, accuracy: number, early?: { step: number; testAccuracy: number }): NetSummary => ({
    name,
    series: name,
    remaining: 1,
    accuracy,
    best: { accuracy, step: 40 },
    history: [{ step: 40, accuracy }],
    ...(early ? { earlyStop: early } : {}),
  });

  it("gives each net an 'at early stop' column: the test accuracy there and its step, blank without one", async () => {
    const html = await renderReport("p.lth", [{ title: "t", nets: [summary("a", 0.9, { step: 20, testAccuracy: 0.875 }), summary("b", 0.8)] }]);
    expect(html).toContain("<th>at early stop</th>");
    expect(html).toContain("<tr><td>a</td><td>100.0%</td><td>90.00%</td><td>90.00%</td><td>40</td><td>87.50% (step 20)</td><td>–</td></tr>");
    expect(html).toContain("<tr><td>b</td><td>100.0%</td><td>80.00%</td><td>80.00%</td><td>40</td><td>–</td><td>–</td></tr>");
  });

  it("draws replicates of lists as the mean line with a shaded ± std band and tables the aggregate", async () => {
    const point = (k: number, remaining: number, xs: number[]) => ({ label: `imp[·][${k}]`, remaining: stats([remaining]), accuracy: stats(xs), earlyStopAccuracy: null });
    const imp: ReplicateSummary = { name: "imp", count: 3, points: [point(0, 1, [0.9, 0.92, 0.91]), point(1, 0.8, [0.93, 0.9, 0.92]), point(2, 0.64, [0.88, 0.9, 0.86])] };
    const html = await renderReport("p.lth", [{ title: "IMP", nets: [], replicates: [imp] }]);
    expect(html).toContain("Test accuracy against weights remaining");
    expect(html).toContain("imp (mean ± std of 3)");
    // The band is an area mark between mean − std and mean + std.
    expect(html).toMatch(/aria-roledescription="area mark"/);
    const s = stats([0.93, 0.9, 0.92]);
    expect(html).toContain(`<tr><td>imp[·][1]</td><td>3</td><td>80.0%</td><td>${(100 * s.mean).toFixed(2)}% ± ${(100 * s.std).toFixed(2)} [90.00, 93.00]</td><td>–</td></tr>`);
  });

  it("draws replicates of a net as a point with error bars, and lists its accuracy at early stop", async () => {
    const runs: ReplicateSummary = { name: "runs", count: 2, points: [{ label: "runs", remaining: stats([1, 1]), accuracy: stats([0.9, 0.8]), earlyStopAccuracy: stats([0.88, 0.86]) }] };
    const html = await renderReport("p.lth", [{ title: "seeds", nets: [], replicates: [runs] }]);
    expect(html).toContain("runs (mean ± std of 2)");
    // Two error bars: min to max, and a thick one from mean − std to mean + std.
    expect(html.match(/aria-roledescription="rule mark"/g)).toHaveLength(2);
    expect(html).not.toMatch(/aria-roledescription="area mark"/);
    expect(html).toContain(`<td>${(100 * 0.85).toFixed(2)}% ± ${(100 * stats([0.9, 0.8]).std).toFixed(2)} [80.00, 90.00]</td><td>87.00% ± ${(100 * stats([0.88, 0.86]).std).toFixed(2)} [86.00, 88.00]</td>`);
  });
});
