// The runtime's ops, called directly with hand-built contexts: what init, prune, rewind,
// reinit, shuffle_mask, mask_distance, the datasets, train and evaluate promise
// (the op table, dsl/ops.ts), on nets small enough to check by hand, on the cpu and wasm backends.

import { beforeAll, describe, expect, it } from "vitest";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import { sparsity, type HistoryPoint, type NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { evaluate, train } from "../../runtime/methods/training.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { mnist, synthetic } from "../../runtime/ops/datasets.js";
import { init, reinit, rewind, shuffleMask } from "../../runtime/methods/nets.js";
import { maskDistance } from "../../runtime/methods/distances.js";
import type { ParamValue } from "../../compiler/stage.js";
import { alive, aliveValues, bytes, ctx, data, masksOf, net, nonzeroPruned, pruned, prunedIndexes, withMasks, withWeights, trainParams } from "./nets-fixture.js";

/** Runs `f`, which must fail with an OpFailure (a message for the user) matching `message`. */
function expectFailure(f: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected an OpFailure").toBeInstanceOf(OpFailure);
  expect((caught as Error).message).toMatch(message);
}

const point: HistoryPoint = { step: 42, epoch: 3, accuracy: 0.5, loss: 1.25, trainLoss: 1.5 };

/** A net as training leaves it: some steps and a history (the ops on nets must carry or reset them). */
function seasoned(n: NetValue): NetValue {
  return { ...n, steps: 42, history: [point] };
}

const d = data();
const base = net(d);
/** 4 features, 2 classes: small enough to choose every weight by hand. */
const tiny = data({ features: 4, classes: 2 });

describe("init", () => {
  it("builds one [out, in] layer per width, from the dataset's features to its classes", () => {
    expect(base.layers.map((l) => [l.name, l.outputs, l.inputs, l.activation])).toEqual([
      ["fc1", 16, 8, "relu"],
      ["fc2", 8, 16, "relu"],
      ["fc3", 3, 8, "none"],
    ]);
    for (const l of base.layers) {
      expect(l.weight).toHaveLength(l.outputs * l.inputs);
      expect(l.mask).toHaveLength(l.outputs * l.inputs);
      expect(l.bias!).toHaveLength(l.outputs);
    }
    expect(base.inputShape).toEqual([8]);
    expect(base.classes).toBe(3);
    expect(base.scheme).toBe("glorot");
  });

  it("is dense, with zero biases, no steps and no history", () => {
    for (const l of base.layers) {
      expect(l.mask.every((m) => m === 1)).toBe(true);
      expect(l.bias!.every((b) => b === 0)).toBe(true);
    }
    expect(sparsity(base).map((s) => s.remaining)).toEqual([128, 128, 24]);
    expect(base.steps).toBe(0);
    expect(base.history).toEqual([]);
  });

  it("gives the same bytes for the same seed, and another initialisation for another seed", () => {
    expect(bytes(net(d)).equals(bytes(base))).toBe(true);
    const other = net(d, { seed: 8 });
    expect(other.init).not.toBe(base.init);
    expect(bytes(other).equals(bytes(base))).toBe(false);
    expect(net(d, { scheme: "he" }).init).not.toBe(base.init);
  });

  it("draws glorot weights uniformly within ±sqrt(6 / (in + out))", () => {
    for (const l of base.layers) {
      const limit = Math.sqrt(6 / (l.inputs + l.outputs));
      const biggest = Math.max(...Array.from(l.weight, Math.abs));
      expect(biggest).toBeLessThanOrEqual(limit);
      expect(biggest).toBeGreaterThan(0.8 * limit);
      expect(new Set(l.weight).size).toBe(l.weight.length);
    }
  });

  it("draws he weights with mean 0 and standard deviation about sqrt(2 / in)", () => {
    const he = net(d, { hidden: [256], scheme: "he" });
    expect(he.scheme).toBe("he");
    for (const l of he.layers) {
      const w = Array.from(l.weight);
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      const expected = Math.sqrt(2 / l.inputs);
      expect(Math.abs(mean)).toBeLessThan(0.1 * expected);
      expect(std).toBeGreaterThan(0.9 * expected);
      expect(std).toBeLessThan(1.1 * expected);
    }
  });

  it("refuses a conv net for data that are not images, saying what the data are", () => {
    expectFailure(() => init(ctx({ arch: { arch: "conv2", width: 1 }, scheme: "glorot", seed: 0 }, { data: d })), /conv2 needs images .* 8 features/);
  });
});

describe("prune, layerwise by magnitude", () => {
  // fc1 [3, 4] and the output layer fc2 [2, 3].
  const fc1 = [0.5, -0.1, 0.9, 0.05, -0.7, 0.3, -0.02, 0.8, 0.6, -0.4, 0.2, 1.0];
  const fc2 = [0.3, -0.9, 0.1, 0.6, -0.2, 0.8];
  const hand = withWeights(net(tiny, { hidden: [3] }), [fc1, fc2]);

  it("a layer-wise 20% prune leaves 80% of each hidden layer, and the output layer loses output_rate", () => {
    const p = pruned(base, { rate: 0.2, output_rate: 0.1 });
    expect(alive(p)).toEqual([128 - Math.round(0.2 * 128), 128 - Math.round(0.2 * 128), 24 - Math.round(0.1 * 24)]);
    expect(alive(p)).toEqual([102, 102, 22]);
    expect(pruned(base, { rate: 0.2 }).layers.map((l) => l.mask.reduce((a, b) => a + b, 0))).toEqual([102, 102, 19]);
  });

  it("removes exactly the smallest |w| of each layer", () => {
    const p = pruned(hand, { rate: 0.25, output_rate: 0.5 });
    expect(prunedIndexes(p.layers[0]!)).toEqual([1, 3, 6]); // |-0.1|, 0.05, |-0.02|
    expect(prunedIndexes(p.layers[1]!)).toEqual([0, 2, 4]); // 0.3, 0.1, |-0.2|
  });

  it("sets pruned weights to exactly 0 and leaves the others, and the biases, untouched", () => {
    const withBiases: NetValue = { ...hand, layers: hand.layers.map((l) => ({ ...l, bias: l.bias!.map((_, i) => 0.1 * (i + 1)) })) };
    const p = pruned(withBiases, { rate: 0.25, output_rate: 0.5 });
    expect(Array.from(p.layers[0]!.weight)).toEqual(Array.from(Float32Array.from(fc1), (w, i) => ([1, 3, 6].includes(i) ? 0 : w)));
    expect(Array.from(p.layers[1]!.weight)).toEqual(Array.from(Float32Array.from(fc2), (w, i) => ([0, 2, 4].includes(i) ? 0 : w)));
    p.layers.forEach((l, i) => expect(Array.from(l.bias!)).toEqual(Array.from(withBiases.layers[i]!.bias!)));
    expect(nonzeroPruned(pruned(base, { rate: 0.5 }))).toBe(0);
  });

  it("carries the initialisation, the steps and the history over", () => {
    const p = pruned(seasoned(base), { rate: 0.2 });
    expect(p.init).toBe(base.init);
    expect(p.steps).toBe(42);
    expect(p.history).toEqual([point]);
    expect(p.scheme).toBe(base.scheme);
    expect(p.arch).toEqual(base.arch);
  });

  it("a second prune removes rate of the weights that remain, never reviving one", () => {
    const once = pruned(base, { rate: 0.2, output_rate: 0.1 });
    const twice = pruned(once, { rate: 0.2, output_rate: 0.1 });
    expect(alive(twice)).toEqual([102 - Math.round(0.2 * 102), 102 - Math.round(0.2 * 102), 22 - Math.round(0.1 * 22)]);
    expect(alive(twice)).toEqual([82, 82, 20]);
    twice.layers.forEach((l, i) => l.mask.forEach((m, j) => expect(m <= once.layers[i]!.mask[j]!).toBe(true)));
    // By hand: after fc1 loses 1, 3 and 6, the smallest remaining are 0.2 (10) and 0.3 (5).
    const again = pruned(pruned(hand, { rate: 0.25, output_rate: 0 }), { rate: 0.25, output_rate: 0 });
    expect(prunedIndexes(again.layers[0]!)).toEqual([1, 3, 5, 6, 10]);
    expect(prunedIndexes(again.layers[1]!)).toEqual([]);
  });

  it("0% prunes nothing and 100% prunes all of a layer", () => {
    expect(bytes(pruned(base, { rate: 0 })).equals(bytes(base))).toBe(true);
    const all = pruned(base, { rate: 1, output_rate: 0 });
    expect(alive(all)).toEqual([0, 0, 24]);
    expect(all.layers[0]!.weight.every((w) => w === 0)).toBe(true);
    expect(alive(pruned(base, { rate: 0, output_rate: 1 }))).toEqual([128, 128, 0]);
  });

  it("breaks ties by position, so equal weights prune the same way everywhere", () => {
    const flat = withWeights(net(tiny, { hidden: [3] }), [new Array<number>(12).fill(0.5), new Array<number>(6).fill(-0.5)]);
    const p = pruned(flat, { rate: 0.25, output_rate: 0.5 });
    expect(prunedIndexes(p.layers[0]!)).toEqual([0, 1, 2]);
    expect(prunedIndexes(p.layers[1]!)).toEqual([0, 1, 2]);
  });
});

describe("prune, global by magnitude", () => {
  // fc1 [3, 4] mostly large, fc2 [2, 3] all small, the output layer fc3 [2, 2].
  const fc1 = [0.9, 0.03, 0.8, 0.7, 0.05, 0.6, 0.5, 0.07, 0.4, 0.95, 0.85, 0.75];
  const fc2 = [0.01, -0.02, 0.04, -0.06, 0.08, 0.09];
  const fc3 = [0.5, -0.1, 0.3, 0.2];
  const hand = withWeights(net(tiny, { hidden: [3, 2] }), [fc1, fc2, fc3]);

  it("ranks the hidden layers together: one threshold takes more from the layer of small weights", () => {
    // 50% of the 18 hidden weights is 9: all six of fc2 and fc1's three below 0.1.
    const g = pruned(hand, { rate: 0.5, scope: "global", output_rate: 0.25 });
    expect(prunedIndexes(g.layers[0]!)).toEqual([1, 4, 7]);
    expect(prunedIndexes(g.layers[1]!)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(alive(g)).toEqual([9, 0, 3]);
    const l = pruned(hand, { rate: 0.5, scope: "layerwise", output_rate: 0.25 });
    expect(alive(l)).toEqual([6, 3, 3]);
  });

  it("still prunes the output layer on its own, at output_rate", () => {
    const g = pruned(hand, { rate: 0.5, scope: "global", output_rate: 0.25 });
    expect(prunedIndexes(g.layers[2]!)).toEqual([1]);
    const big = pruned(base, { rate: 0.2, scope: "global", output_rate: 0.5 });
    expect(alive(big)[2]).toBe(12);
    expect(alive(big)[0]! + alive(big)[1]!).toBe(256 - Math.round(0.2 * 256));
    expect(nonzeroPruned(big)).toBe(0);
  });

  it("removes rate of the weights that remain in the hidden layers together", () => {
    const once = pruned(base, { rate: 0.5, scope: "global", output_rate: 0 });
    const twice = pruned(once, { rate: 0.5, scope: "global", output_rate: 0 });
    expect(alive(twice)[0]! + alive(twice)[1]!).toBe(64);
  });
});

describe("prune at random", () => {
  it("reaches the same per-layer sparsity as magnitude pruning at the same rate", () => {
    for (const scope of ["layerwise", "global"] as const) {
      const byMagnitude = pruned(base, { rate: 0.5, scope, output_rate: 0.25 });
      const atRandom = pruned(base, { rate: 0.5, scope, output_rate: 0.25, criterion: "random", seed: 1 });
      if (scope === "layerwise") expect(alive(atRandom)).toEqual(alive(byMagnitude));
      else expect(alive(atRandom).reduce((a, b) => a + b, 0)).toBe(alive(byMagnitude).reduce((a, b) => a + b, 0));
      expect(alive(atRandom)[2]).toBe(18);
      expect(nonzeroPruned(atRandom)).toBe(0);
    }
  });

  it("is seeded: the same seed gives the same mask, another seed another", () => {
    const a = pruned(base, { rate: 0.5, criterion: "random", seed: 1 });
    expect(bytes(pruned(base, { rate: 0.5, criterion: "random", seed: 1 })).equals(bytes(a))).toBe(true);
    expect(masksOf(pruned(base, { rate: 0.5, criterion: "random", seed: 2 }))).not.toEqual(masksOf(a));
  });

  it("does not pick the smallest weights", () => {
    const atRandom = pruned(base, { rate: 0.5, criterion: "random", seed: 1 });
    const byMagnitude = pruned(base, { rate: 0.5 });
    const distance = maskDistance(ctx({}, { a: atRandom, b: byMagnitude }));
    expect(distance).toBeGreaterThan(0.25);
  });

  it("only removes weights that are still alive", () => {
    const once = pruned(base, { rate: 0.5, criterion: "random", seed: 1 });
    const twice = pruned(once, { rate: 0.5, criterion: "random", seed: 1 });
    expect(alive(twice)).toEqual([32, 32, 6]);
    twice.layers.forEach((l, i) => l.mask.forEach((m, j) => expect(m <= once.layers[i]!.mask[j]!).toBe(true)));
  });
});

describe("rewind", () => {
  // A net from base's initialisation that has moved on: other weights and biases, steps, history.
  const later: NetValue = {
    ...seasoned(base),
    layers: base.layers.map((l) => ({ ...l, weight: l.weight.map((w) => 2 * w + 0.01), bias: l.bias!.map((_, i) => 0.5 + i) })),
  };
  const ticket = pruned(later, { rate: 0.5, output_rate: 0.25 });

  it("gives the weights of `to` exactly where the mask is alive and 0 elsewhere", () => {
    const r = rewind(ctx({}, { net: ticket, to: base }));
    r.layers.forEach((l, i) => {
      expect(Array.from(l.mask)).toEqual(Array.from(ticket.layers[i]!.mask));
      expect(Array.from(l.weight)).toEqual(Array.from(base.layers[i]!.weight, (w, j) => (l.mask[j] ? w : 0)));
    });
    expect(nonzeroPruned(r)).toBe(0);
  });

  it("takes the biases, steps and history of `to`", () => {
    const r = rewind(ctx({}, { net: pruned(base, { rate: 0.5 }), to: later }));
    r.layers.forEach((l, i) => expect(Array.from(l.bias!)).toEqual(Array.from(later.layers[i]!.bias!)));
    expect(r.steps).toBe(42);
    expect(r.history).toEqual([point]);
    expect(r.init).toBe(base.init);
    const back = rewind(ctx({}, { net: ticket, to: base }));
    expect(back.steps).toBe(0);
    expect(back.history).toEqual([]);
    expect(back.layers.every((l) => l.bias!.every((b) => b === 0))).toBe(true);
  });

  it("refuses nets of different initialisations", () => {
    expectFailure(() => rewind(ctx({}, { net: ticket, to: net(d, { seed: 8 }) })), /same initialisation/);
    const control = reinit(ctx({ seed: 99 }, { net: ticket }));
    expectFailure(() => rewind(ctx({}, { net: control, to: base })), /same initialisation/);
  });

  it("refuses nets of different architectures", () => {
    expectFailure(() => rewind(ctx({}, { net: ticket, to: net(d, { hidden: [16, 4] }) })), /same architecture/);
  });
});

describe("reinit", () => {
  const ticket = seasoned(pruned(base, { rate: 0.5, output_rate: 0.25 }));
  const control = reinit(ctx({ seed: 99 }, { net: ticket }));

  it("keeps the mask and draws new weights under it, zero where pruned", () => {
    expect(masksOf(control)).toEqual(masksOf(ticket));
    expect(nonzeroPruned(control)).toBe(0);
    control.layers.forEach((l, i) => {
      const old = ticket.layers[i]!;
      const same = Array.from(l.weight).filter((w, j) => l.mask[j] && w === old.weight[j]).length;
      expect(same).toBe(0);
      expect(l.bias!.every((b) => b === 0)).toBe(true);
    });
  });

  it("starts a new initialisation: new identity, no history, no steps", () => {
    expect(control.init).not.toBe(ticket.init);
    expect(control.history).toEqual([]);
    expect(control.steps).toBe(0);
    expect(control.scheme).toBe(ticket.scheme);
  });

  it("is seeded, and draws the way the net was initialised", () => {
    expect(bytes(reinit(ctx({ seed: 99 }, { net: ticket }))).equals(bytes(control))).toBe(true);
    expect(masksOf(reinit(ctx({ seed: 98 }, { net: ticket }))).every((m, i) => m.length === control.layers[i]!.mask.length)).toBe(true);
    expect(reinit(ctx({ seed: 98 }, { net: ticket })).init).not.toBe(control.init);
    // A he net's reinit draws what init with that seed and scheme draws, under the mask.
    const he = pruned(net(d, { scheme: "he" }), { rate: 0.5 });
    const fresh = net(d, { scheme: "he", seed: 5 });
    const r = reinit(ctx({ seed: 5 }, { net: he }));
    r.layers.forEach((l, i) => expect(Array.from(l.weight)).toEqual(Array.from(fresh.layers[i]!.weight, (w, j) => (l.mask[j] ? w : 0))));
  });
});

describe("shuffle_mask", () => {
  const ticket = seasoned(pruned(base, { rate: 0.5, output_rate: 0.25 }));
  const shuffled = shuffleMask(ctx({ seed: 5 }, { net: ticket }));

  it("keeps each layer's sparsity but moves the mask", () => {
    expect(alive(shuffled)).toEqual(alive(ticket));
    shuffled.layers.forEach((l, i) => expect(Array.from(l.mask)).not.toEqual(Array.from(ticket.layers[i]!.mask)));
    expect(maskDistance(ctx({}, { a: shuffled, b: ticket }))).toBeGreaterThan(0.25);
  });

  it("moves the live weights with their mask entries", () => {
    shuffled.layers.forEach((l, i) => expect(aliveValues(l)).toEqual(aliveValues(ticket.layers[i]!)));
    expect(nonzeroPruned(shuffled)).toBe(0);
    shuffled.layers.forEach((l, i) => expect(Array.from(l.bias!)).toEqual(Array.from(ticket.layers[i]!.bias!)));
  });

  it("is seeded", () => {
    expect(bytes(shuffleMask(ctx({ seed: 5 }, { net: ticket }))).equals(bytes(shuffled))).toBe(true);
    expect(masksOf(shuffleMask(ctx({ seed: 6 }, { net: ticket })))).not.toEqual(masksOf(shuffled));
  });

  it("keeps the initialisation, so the random-sparsity control can be rewound to the initial net", () => {
    expect(shuffled.init).toBe(ticket.init);
    const control = rewind(ctx({}, { net: shuffled, to: base }));
    expect(masksOf(control)).toEqual(masksOf(shuffled));
    control.layers.forEach((l, i) => expect(Array.from(l.weight)).toEqual(Array.from(base.layers[i]!.weight, (w, j) => (l.mask[j] ? w : 0))));
  });
});

describe("mask_distance", () => {
  const small = net(tiny, { hidden: [3] }); // 12 + 6 mask entries

  it("is 0 between identical masks", () => {
    expect(maskDistance(ctx({}, { a: base, b: base }))).toBe(0);
    const p = pruned(base, { rate: 0.5 });
    expect(maskDistance(ctx({}, { a: p, b: rewind(ctx({}, { net: p, to: base })) }))).toBe(0);
  });

  it("is the share of all mask entries that differ, and symmetric", () => {
    const ones12 = new Array<number>(12).fill(1);
    const ones6 = new Array<number>(6).fill(1);
    const flipped = withMasks(small, [ones12.map((m, i) => ([0, 5, 11].includes(i) ? 0 : m)), ones6.map((m, i) => (i === 2 ? 0 : m))]);
    expect(maskDistance(ctx({}, { a: small, b: flipped }))).toBeCloseTo(4 / 18, 12);
    expect(maskDistance(ctx({}, { a: flipped, b: small }))).toBeCloseTo(4 / 18, 12);
    // A 50% prune of the dense net differs in exactly the pruned half.
    expect(maskDistance(ctx({}, { a: base, b: pruned(base, { rate: 0.5 }) }))).toBe(0.5);
    const a = pruned(base, { rate: 0.5, criterion: "random", seed: 1 });
    const b = pruned(base, { rate: 0.3 });
    expect(maskDistance(ctx({}, { a, b }))).toBe(maskDistance(ctx({}, { a: b, b: a })));
  });

  it("refuses masks of different architectures", () => {
    expectFailure(() => maskDistance(ctx({}, { a: base, b: net(d, { hidden: [16, 4] }) })), /same architecture/);
    expectFailure(() => maskDistance(ctx({}, { a: base, b: net(tiny) })), /same architecture/);
  });
});

describe("mnist", () => {
  const m = mnist(ctx({ train: 100, test: 50, seed: 1 }));
  const rows = (x: Uint8Array | Float32Array, n: number) =>
    Array.from({ length: n }, (_, i) => Buffer.from(x.buffer, x.byteOffset + i * 784 * x.BYTES_PER_ELEMENT, 784 * x.BYTES_PER_ELEMENT).toString("base64"));

  it("holds 28×28×1 digit images as bytes, scaled by 1/255, in 10 classes", () => {
    expect(m.inputShape).toEqual([28, 28, 1]);
    expect(m.classes).toBe(10);
    expect(m.scale).toBeCloseTo(1 / 255, 15);
    expect(m.train.n).toBe(100);
    expect(m.test.n).toBe(50);
    expect(m.train.x).toBeInstanceOf(Uint8Array);
    expect(m.train.x).toHaveLength(100 * 784);
    expect(m.test.x).toHaveLength(50 * 784);
    expect(Math.max(...m.train.x)).toBeGreaterThan(200);
  });

  it("has labels 0..9, shuffled so that even 100 digits hold every class", () => {
    for (const y of [m.train.y, m.test.y]) expect(y.every((v) => Number.isInteger(v) && v >= 0 && v <= 9)).toBe(true);
    expect(new Set(m.train.y).size).toBe(10);
  });

  it("splits disjointly: no image is in both train and test", () => {
    const train = new Set(rows(m.train.x, m.train.n));
    expect(train.size).toBe(100);
    const test = rows(m.test.x, m.test.n);
    expect(new Set(test).size).toBe(50);
    expect(test.filter((r) => train.has(r))).toEqual([]);
  });

  it("is seeded: the same seed gives the same bytes, another seed another split", () => {
    expect(bytes(mnist(ctx({ train: 100, test: 50, seed: 1 }))).equals(bytes(m))).toBe(true);
    const other = mnist(ctx({ train: 100, test: 50, seed: 2 }));
    const mine = new Set(rows(m.train.x, m.train.n));
    expect(rows(other.train.x, other.train.n).filter((r) => mine.has(r)).length).toBeLessThan(10);
  });

  it("sizes the first layer of an init'ed net at 784 inputs and 10 outputs", () => {
    const n = net(m, { hidden: [4] });
    expect(n.layers.map((l) => [l.outputs, l.inputs])).toEqual([
      [4, 784],
      [10, 4],
    ]);
  });
});

describe("synthetic", () => {
  it("is seeded: the same seed gives the same bytes, another seed others", () => {
    expect(bytes(data()).equals(bytes(d))).toBe(true);
    expect(bytes(data({ seed: 4 })).equals(bytes(d))).toBe(false);
  });

  it("splits n examples 80/20 into train and test", () => {
    expect(d.train.n).toBe(160);
    expect(d.test.n).toBe(40);
    expect(d.train.x).toHaveLength(160 * 8);
    expect(d.test.x).toHaveLength(40 * 8);
    expect(d.inputShape).toEqual([8]);
    expect(d.classes).toBe(3);
    expect(d.scale).toBe(1);
    for (const y of [d.train.y, d.test.y]) expect(y.every((v) => v >= 0 && v < 3)).toBe(true);
    expect(new Set(d.train.y).size).toBe(3);
    const odd = data({ n: 7 });
    expect([odd.train.n, odd.test.n]).toEqual([6, 1]);
  });

  it("draws each example around its class's centre, `noise` apart", () => {
    const exact = synthetic(ctx({ n: 50, features: 4, classes: 3, seed: 1, noise: 0 }));
    const centre = new Map<number, string>();
    for (let i = 0; i < exact.train.n; i++) {
      const row = Array.from(exact.train.x.subarray(i * 4, i * 4 + 4)).join(",");
      const c = exact.train.y[i]!;
      expect(centre.get(c) ?? row).toBe(row);
      centre.set(c, row);
    }
    expect(new Set(centre.values()).size).toBe(centre.size);
  });

  it("round-trips through its artifact bytes", () => {
    const back = decodeArtifact("Dataset", encodeArtifact({ kind: "Dataset", dataset: d }), "d.safetensors");
    expect(back.kind === "Dataset" && Buffer.from(encodeArtifact(back)).equals(bytes(d))).toBe(true);
  });
});

const LR = { sgd: 0.1, momentum: 0.05, adam: 0.01 } as const;

for (const backend of ["cpu", "wasm"] as const) {
  describe(`train and evaluate on the ${backend} backend`, () => {
    let engine: Engine;
    const run = (n: NetValue, over: Record<string, ParamValue> = {}, dataset: DatasetValue = d) => train(ctx(trainParams(over), { net: n, data: dataset }), engine);
    const measure = (n: NetValue, dataset: DatasetValue = d) => evaluate(ctx({}, { net: n, data: dataset }), engine);
    const ticket = pruned(base, { rate: 0.5 });

    beforeAll(async () => {
      engine = await loadEngine(backend);
      await engine.tf.setBackend(backend);
      expect(engine.tf.getBackend()).toBe(backend);
    });

    it.each(["sgd", "momentum", "adam"] as const)("with %s and weight decay, pruned weights stay exactly 0 and the mask is held fixed", (optimizer) => {
      const t = run(ticket, { optimizer, lr: LR[optimizer], weight_decay: 0.01 });
      expect(masksOf(t)).toEqual(masksOf(ticket));
      expect(nonzeroPruned(t)).toBe(0);
      // It did train: every layer's live weights moved.
      t.layers.forEach((l, i) => expect(Array.from(l.weight)).not.toEqual(Array.from(ticket.layers[i]!.weight)));
      expect(t.layers.some((l) => l.bias!.some((b) => b !== 0))).toBe(true);
    });

    it.each(["sgd", "momentum", "adam"] as const)("with %s, a half-pruned net learns well above chance", (optimizer) => {
      const t = run(ticket, { optimizer, lr: LR[optimizer] });
      const last = t.history[t.history.length - 1]!;
      expect(last.accuracy).toBeGreaterThan(0.6);
      expect(measure(ticket).accuracy).toBeLessThan(last.accuracy);
    });

    it("leaves no tensors behind after train and evaluate", () => {
      run(ticket, { optimizer: "adam", lr: 0.01 });
      const before = engine.tf.memory().numTensors;
      const t = run(ticket, { optimizer: "momentum", lr: 0.05, weight_decay: 0.01 });
      expect(engine.tf.memory().numTensors).toBe(before);
      measure(t);
      expect(engine.tf.memory().numTensors).toBe(before);
    });

    it("gives byte-identical nets for the same parameters", () => {
      const params = { optimizer: "adam", lr: 0.01, weight_decay: 0.01 };
      expect(bytes(run(ticket, params)).equals(bytes(run(ticket, params)))).toBe(true);
      expect(bytes(run(ticket, { ...params, seed: 1 })).equals(bytes(run(ticket, params)))).toBe(false);
    });

    it("records one history point per epoch, with steps since the initialisation", () => {
      const t = run(base);
      expect(t.steps).toBe(15);
      expect(t.history.map((h) => [h.step, h.epoch])).toEqual([
        [5, 1],
        [10, 2],
        [15, 3],
      ]);
      for (const h of t.history) {
        // A share of the test examples: a whole number of them, between none and all.
        expect(h.accuracy * d.test.n).toBeCloseTo(Math.round(h.accuracy * d.test.n), 6);
        expect(Math.round(h.accuracy * d.test.n)).toBeGreaterThanOrEqual(0);
        expect(Math.round(h.accuracy * d.test.n)).toBeLessThanOrEqual(d.test.n);
        expect(Number.isFinite(h.loss)).toBe(true);
        expect(Number.isFinite(h.trainLoss)).toBe(true);
      }
    });

    it("records a last point at the end of a length that is not a whole number of epochs", () => {
      const t = run(base, { length: { steps: 12 } });
      expect(t.steps).toBe(12);
      expect(t.history.map((h) => [h.step, h.epoch])).toEqual([
        [5, 1],
        [10, 2],
        [12, 2.4],
      ]);
    });

    it("adds the steps of further training to the net's, and continues its history", () => {
      const first = run(base);
      const more = run(first, { length: { steps: 12 } });
      expect(more.steps).toBe(15 + 12);
      expect(more.history.slice(0, 3)).toEqual(first.history);
      expect(more.history.slice(3).map((h) => [h.step, h.epoch])).toEqual([
        [20, 4],
        [25, 5],
        [27, 5.4],
      ]);
    });

    it("continues a rewound net's history from its target's", () => {
      const early = run(base, { length: { steps: 5 } });
      const late = run(early, { length: { epochs: 2 } });
      const rewound = rewind(ctx({}, { net: pruned(late, { rate: 0.5 }), to: early }));
      expect(rewound.steps).toBe(5);
      expect(rewound.history).toEqual(early.history);
      const retrained = run(rewound, { length: { epochs: 1 } });
      expect(retrained.steps).toBe(10);
      expect(retrained.history).toHaveLength(2);
      expect(retrained.history[0]).toEqual(early.history[0]);
      expect([retrained.history[1]!.step, retrained.history[1]!.epoch]).toEqual([10, 2]);
      expect(nonzeroPruned(retrained)).toBe(0);
    });

    it("runs a cosine schedule and a warmup, each changing the result", () => {
      const constant = run(ticket);
      const variants: Record<string, ParamValue>[] = [{ schedule: "cosine" }, { warmup: { steps: 3 } }, { schedule: "cosine", warmup: { epochs: 1 } }];
      for (const over of variants) {
        const t = run(ticket, over);
        expect(masksOf(t)).toEqual(masksOf(ticket));
        expect(nonzeroPruned(t)).toBe(0);
        expect(t.history.every((h) => Number.isFinite(h.loss))).toBe(true);
        expect(t.history[t.history.length - 1]!.accuracy).toBeGreaterThan(0.6);
        expect(bytes(t).equals(bytes(constant))).toBe(false);
      }
    });

    it("refuses a dataset whose features or classes do not match the net", () => {
      const wide = data({ features: 5 });
      expectFailure(() => run(base, {}, wide), /inputs of 8 .* has 5 inputs/);
      expectFailure(() => measure(base, wide), /inputs of 8 .* has 5 inputs/);
      expectFailure(() => run(base, {}, data({ classes: 4 })), /3 classes.*4 classes/);
    });

    it("evaluates to an accuracy in [0, 1] and a finite loss, agreeing with the trained net's last history point", () => {
      const t = run(ticket, { optimizer: "adam", lr: 0.01 });
      const m = measure(t);
      expect(m.accuracy * d.test.n).toBeCloseTo(Math.round(m.accuracy * d.test.n), 6);
      // Trained on well-separated classes, it does better than chance.
      expect(m.accuracy).toBeGreaterThan(1 / 3);
      expect(Number.isFinite(m.loss)).toBe(true);
      const last = t.history[t.history.length - 1]!;
      expect(Math.abs(m.accuracy - last.accuracy)).toBeLessThan(1e-6);
      expect(Math.abs(m.loss - last.loss)).toBeLessThan(1e-6);
    });

    it("survives its artifact bytes: a decoded trained net encodes and evaluates the same", () => {
      const t = run(ticket);
      const back = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: t }), "t.safetensors");
      if (back.kind !== "Net") throw new Error("not a net");
      expect(bytes(back.net).equals(bytes(t))).toBe(true);
      expect(measure(back.net)).toEqual(measure(t));
    });

    it("reports progress up to the last step", () => {
      const reports: { step: number; steps: number; accuracy?: number }[] = [];
      train({ ...ctx(trainParams({ length: { steps: 12 } }), { net: base, data: d }), progress: (p) => reports.push(p) }, engine);
      expect(reports.length).toBeGreaterThanOrEqual(3);
      expect(reports[reports.length - 1]).toMatchObject({ step: 12, steps: 12 });
      expect(reports.filter((r) => r.accuracy !== undefined).map((r) => r.step)).toEqual([5, 10, 12]);
    });
  });
}
