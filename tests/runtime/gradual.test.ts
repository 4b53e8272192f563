// Pruning during training (gmp, dpf) and train's start and stop: the schedule by hand, the
// masks by hand, the sparsity they end at, and a run split in two that equals the whole run.

import type * as TF from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { NetValue } from "../../runtime/core/net.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { cubicSparsity, dpf, gmp, magnitudeMasks } from "../../runtime/methods/gradual.js";
import { testMetrics } from "../../runtime/engine/train.js";
import { train } from "../../runtime/methods/training.js";
import { alive, bytes, ctx, data, net, nonzeroPruned, trainParams, withMasks } from "./nets-fixture.js";

describe("the cubic schedule (Zhu & Gupta)", () => {
  it("is 0 before the ramp, final at and after its end, and final·(1 − (1 − p)³) between", () => {
    expect(cubicSparsity(0, 10, 110, 0.9)).toBe(0);
    expect(cubicSparsity(10, 10, 110, 0.9)).toBe(0);
    expect(cubicSparsity(60, 10, 110, 0.9)).toBeCloseTo(0.9 * (1 - 0.5 ** 3), 12);
    expect(cubicSparsity(35, 10, 110, 0.9)).toBeCloseTo(0.9 * (1 - 0.75 ** 3), 12);
    expect(cubicSparsity(110, 10, 110, 0.9)).toBe(0.9);
    expect(cubicSparsity(500, 10, 110, 0.9)).toBe(0.9);
  });
});

describe("magnitudeMasks", () => {
  const w = [Float32Array.from([0.1, -0.5, 0.3, 0.05]), Float32Array.from([0.2, -0.01, 0.4, 0.6])];
  const all = [new Uint8Array(4).fill(1), new Uint8Array(4).fill(1)];

  it("layerwise: removes the smallest |w| of each layer", () => {
    expect(magnitudeMasks(w, all, 0.5, "layerwise").map((m) => [...m])).toEqual([
      [0, 1, 1, 0],
      [0, 0, 1, 1],
    ]);
  });

  it("global: one ranking across layers", () => {
    // Sizes 0.01, 0.05, 0.1, 0.2 | 0.3, 0.4, 0.5, 0.6: the four smallest go, two from each layer here.
    expect(magnitudeMasks(w, all, 0.5, "global").map((m) => [...m])).toEqual([
      [0, 1, 1, 0],
      [0, 0, 1, 1],
    ]);
    expect(magnitudeMasks(w, all, 0.75, "global").map((m) => [...m])).toEqual([
      [0, 1, 0, 0],
      [0, 0, 0, 1],
    ]);
  });

  it("never revives a weight outside `allowed`, counts sparsity over all weights, and breaks ties by position", () => {
    const allowed = [Uint8Array.from([1, 0, 1, 1]), Uint8Array.from([1, 1, 1, 1])];
    // Layer 0 keeps round(0.5·4) = 2 of its three allowed: 0.3 and 0.1.
    expect([...magnitudeMasks(w, allowed, 0.5, "layerwise")[0]!]).toEqual([1, 0, 1, 0]);
    const ties = [Float32Array.from([1, 1, 1, 1])];
    expect([...magnitudeMasks(ties, [all[0]!], 0.5, "layerwise")[0]!]).toEqual([0, 0, 1, 1]);
  });
});

describe("gmp, dpf and train's start and stop on the wasm backend", () => {
  let engine: Engine;
  let tf: typeof TF;
  const d = data({ n: 400, classes: 3 });
  const net0 = net(d, { hidden: [32, 16] });
  const schedule = (over: Record<string, unknown> = {}) => ctx({ ...trainParams({ length: { epochs: 6 } }), final: 0.9, start: { steps: 0 }, scope: "layerwise", ...over } as never, { net: net0, data: d });

  beforeAll(async () => {
    engine = await loadEngine("wasm");
    tf = engine.tf;
    await tf.setBackend("wasm");
  });

  const sizes = net0.layers.map((l) => l.weight.length);

  it("gmp ends at exactly the final sparsity in every layer, pruned weights exactly 0, above chance, the same bytes twice", () => {
    const before = tf.memory().numTensors;
    const a = gmp(schedule(), engine);
    expect(alive(a)).toEqual(sizes.map((n) => Math.round(0.1 * n)));
    expect(nonzeroPruned(a)).toBe(0);
    expect(testMetrics(engine, a, d).accuracy).toBeGreaterThan(0.6);
    expect(bytes(gmp(schedule(), engine)).equals(bytes(a))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("gmp keeps pruned weights at exactly 0 under momentum and Adam too (their state is masked with the weights)", () => {
    for (const optimizer of ["momentum", "adam"]) {
      const a = gmp(schedule({ optimizer, lr: optimizer === "adam" ? 1e-3 : 0.05 }), engine);
      expect(nonzeroPruned(a), optimizer).toBe(0);
      expect(alive(a)).toEqual(sizes.map((n) => Math.round(0.1 * n)));
    }
  });

  it("gmp with global scope leaves 10% of all weights, in whatever layers they are", () => {
    const a = gmp(schedule({ scope: "global" }), engine);
    const total = sizes.reduce((x, y) => x + y, 0);
    expect(alive(a).reduce((x, y) => x + y, 0)).toBe(Math.round(0.1 * total));
  });

  it("gmp keeps what an already-pruned input removed, and refuses a final sparsity below it", () => {
    const half = withMasks(net0, net0.layers.map((l) => Array.from(l.mask, (_, j) => (j % 2 === 0 ? 1 : 0))));
    const a = gmp(ctx({ ...trainParams({ length: { epochs: 6 } }), final: 0.9, start: { steps: 0 }, scope: "layerwise" }, { net: half, data: d }), engine);
    a.layers.forEach((l, i) => l.mask.forEach((m, j) => m && expect(half.layers[i]!.mask[j]).toBe(1)));
    expect(() => gmp(ctx({ ...trainParams(), final: 0.3, start: { steps: 0 }, scope: "layerwise" }, { net: half, data: d }), engine)).toThrow(
      "the net already has 50.0% of its weights pruned, more than final (30.0%)",
    );
  });

  it("gmp refuses a ramp that ends past training or starts at its end", () => {
    expect(() => gmp(schedule({ end: { epochs: 7 } }), engine)).toThrow("end (step 70) is past the end of training (step 60)");
    expect(() => gmp(schedule({ start: { steps: 20 }, end: { steps: 20 } }), engine)).toThrow("start (step 20) must come before end (step 20)");
  });

  it("dpf ends at exactly the final sparsity, its pruned weights exactly 0, above chance, the same bytes twice, no tensor left behind", () => {
    const before = tf.memory().numTensors;
    const a = dpf(schedule({ every: { steps: 4 } }), engine);
    expect(alive(a)).toEqual(sizes.map((n) => Math.round(0.1 * n)));
    expect(nonzeroPruned(a)).toBe(0);
    expect(testMetrics(engine, a, d).accuracy).toBeGreaterThan(0.6);
    expect(bytes(dpf(schedule({ every: { steps: 4 } }), engine)).equals(bytes(a))).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("dpf lets pruned weights back: its final mask is not the one magnitude pruning along the way would allow", () => {
    // gmp can only shrink its mask; dpf re-ranks the dense weights, so some of its survivors were out at an earlier refresh.
    const g = gmp(schedule({ every: { steps: 4 } }), engine);
    const p = dpf(schedule({ every: { steps: 4 } }), engine);
    const differ = p.layers.reduce((n, l, i) => n + l.mask.reduce((a, m, j) => a + (m !== g.layers[i]!.mask[j] ? 1 : 0), 0), 0);
    expect(differ).toBeGreaterThan(0);
  });

  it("train from 0 to stop, then from start to the end, is the whole run to the byte (SGD, cosine)", () => {
    const whole = (over: Record<string, unknown>, from: NetValue) => train(ctx(trainParams({ length: { epochs: 4 }, schedule: "cosine", ...over } as never), { net: from, data: d }), engine);
    const full = whole({}, net0);
    const first = whole({ stop: { steps: 23 } }, net0);
    expect(first.steps).toBe(23);
    const rest = whole({ start: { steps: 23 } }, first);
    expect(rest.steps).toBe(full.steps);
    rest.layers.forEach((l, i) => expect(Buffer.from(l.weight.buffer).equals(Buffer.from(full.layers[i]!.weight.buffer))).toBe(true));
  });

  it("train refuses a start at or after its stop, and a stop past the schedule", () => {
    const t = (over: Record<string, unknown>) => train(ctx(trainParams({ length: { steps: 30 }, ...over } as never), { net: net0, data: d }), engine);
    expect(() => t({ start: { steps: 30 } })).toThrow("start (step 30) must come before stop (step 30)");
    expect(() => t({ stop: { steps: 31 } })).toThrow("stop (step 31) is past the end of the schedule (step 30); stop at most at length");
  });
});
