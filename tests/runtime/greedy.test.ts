// Greedy forward selection (Ye et al., ICML 2020): on a net where one hidden unit does all the
// work it keeps exactly that unit and stops; the record matches the channel masks; the returned
// net (unselected units masked, N/|S| folded into the next layer) is as accurate on the
// evaluation subset as the selection was, within tolerance of the full net; runs are
// byte-identical; conv filters are units too; no tensors leak.

import { beforeAll, describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { greedy } from "../../runtime/methods/greedy.js";
import { testMetrics } from "../../runtime/engine/train.js";
import { train } from "../../runtime/methods/training.js";
import { mnist } from "../../runtime/ops/datasets.js";
import { init } from "../../runtime/methods/nets.js";
import { Random } from "../../runtime/core/random.js";
import { bytes, ctx, data, net, nonzeroPruned, trainParams, withWeights } from "./nets-fixture.js";

/** Two features, two classes: class 1 exactly when the first feature is positive (|x0| ≥ 0.5). */
function halves(): DatasetValue {
  const random = new Random(5, "greedy/halves");
  const split = (n: number) => {
    const x = new Float32Array(2 * n);
    const y = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = i % 2;
      x[2 * i] = (y[i] ? 1 : -1) * (0.5 + random.next());
      x[2 * i + 1] = 2 * random.next() - 1;
    }
    return { n, x, y };
  };
  return { name: "halves", inputShape: [2], classes: 2, scale: 1, mean: [0], std: [1], train: split(80), test: split(20) };
}

/**
 * 2 → 4 → 2. Unit 0 is relu(3·x0), the only input of class 1's logit (weight 4); units 1–3
 * see random directions and feed class 0's logit a little (0.1). Class 1 wins exactly when
 * x0 > 0, so the full net is 100% right, and unit 0 alone (scaled by N/|S| = 4) is too.
 */
function oneUnitNet(d: DatasetValue): NetValue {
  const n = net(d, { hidden: [4] });
  // Stored layout [out, in].
  const fc1 = [3, 0, 0.3, -0.7, -0.5, 0.4, 0.2, 0.9];
  const fc2 = [0, 0.1, 0.1, 0.1, 4, 0, 0, 0];
  return withWeights(n, [fc1, fc2]);
}

const run = (engine: Engine, n: NetValue, d: DatasetValue, over: Record<string, ParamValue> = {}) =>
  greedy(ctx({ tolerance: 0.02, candidates: 50, batch: 128, eval: 1000, seed: 0, ...over }, { net: n, data: d }), engine);

/** Units kept per layer according to the channel masks (all of a layer without one). */
const keptByMask = (n: NetValue) => n.layers.map((l) => (l.channels ? l.channels.reduce((a, c) => a + c, 0) : l.outputs));

/** Accuracy on the training split, the evaluation subset when `eval` covers it. */
const trainAccuracy = (engine: Engine, n: NetValue, d: DatasetValue) => testMetrics(engine, n, { ...d, test: d.train }).accuracy;

/** Every weight, bias, γ and β of a channel-masked unit is exactly 0. */
function maskedUnitsEmpty(l: Layer): boolean {
  if (!l.channels) return true;
  const filter = l.weight.length / l.outputs;
  return Array.from(l.channels).every(
    (c, u) => c === 1 || (l.weight.subarray(u * filter, (u + 1) * filter).every((w) => w === 0) && (l.bias?.[u] ?? 0) === 0 && (l.norm?.gamma[u] ?? 0) === 0 && (l.norm?.beta[u] ?? 0) === 0),
  );
}

const blobs = data({ n: 300, features: 8, classes: 4, noise: 0.9, seed: 4 });
const digits = mnist(ctx({ train: 120, test: 60, seed: 3 }));

for (const backend of ["wasm", "cpu"] as const) {
  describe(`greedy forward selection on the ${backend} backend`, () => {
    let engine: Engine;
    let trained: NetValue;
    beforeAll(async () => {
      engine = await loadEngine(backend);
      await engine.tf.setBackend(backend);
      trained = train(ctx(trainParams({ length: { epochs: 4 }, optimizer: "adam", lr: 0.01 }), { net: net(blobs, { hidden: [24, 12] }), data: blobs }), engine);
    });

    it("keeps exactly the one unit that does the work, and stops there", () => {
      const d = halves();
      const g = run(engine, oneUnitNet(d), d);
      expect(g.records?.greedy!.layers).toEqual([{ name: "fc1", kept: 1, total: 4, accuracy: 1 }]);
      expect(g.records?.greedy!.full).toBe(1);
      const [fc1, fc2] = g.layers;
      expect(Array.from(fc1!.channels!)).toEqual([1, 0, 0, 0]);
      // Units 1–3 are gone, their incoming weights and the next layer's weights from them masked.
      expect(Array.from(fc1!.mask)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
      expect(Array.from(fc1!.weight)).toEqual([3, 0, 0, 0, 0, 0, 0, 0]);
      // Unit 0 stands for all 4: its outgoing weights are multiplied by N/|S| = 4.
      expect(Array.from(fc2!.mask)).toEqual([1, 0, 0, 0, 1, 0, 0, 0]);
      expect(Array.from(fc2!.weight)).toEqual([0, 0, 0, 0, 16, 0, 0, 0]);
      expect(fc2!.channels).toBeUndefined();
      expect(trainAccuracy(engine, g, d)).toBe(1);
    });

    it("reports per layer what the masks keep, and the returned net is as accurate as the selection, within tolerance of the full net", () => {
      const tolerance = 0.05;
      const g = run(engine, trained, blobs, { tolerance, candidates: 6, batch: 32, eval: 10_000 });
      const record = g.records?.greedy!;
      expect(record.layers.map((l) => l.name)).toEqual(["fc1", "fc2"]);
      expect(record.layers.map((l) => l.kept)).toEqual(keptByMask(g).slice(0, -1));
      expect(record.layers.map((l) => l.total)).toEqual([24, 12]);
      expect(record.eval).toBe(blobs.train.n);
      expect(g.layers[2]!.channels).toBeUndefined();
      for (const l of record.layers) expect(l.kept).toBeGreaterThan(0);
      expect(record.layers.some((l) => l.kept < l.total)).toBe(true);
      const full = trainAccuracy(engine, trained, blobs);
      expect(record.full).toBeCloseTo(full, 10);
      const selected = trainAccuracy(engine, g, blobs);
      expect(Math.abs(selected - record.layers[1]!.accuracy)).toBeLessThanOrEqual(1 / blobs.train.n);
      expect(selected).toBeGreaterThanOrEqual((1 - tolerance) * full - 1 / blobs.train.n);
      expect(nonzeroPruned(g)).toBe(0);
      expect(g.layers.every(maskedUnitsEmpty)).toBe(true);
      // The last history point is the pruned net's test accuracy, as `show` reads it.
      expect(g.history[g.history.length - 1]!.accuracy).toBe(testMetrics(engine, g, blobs).accuracy);
      expect(g.history.length).toBe(trained.history.length);
    });

    it("offers only live units of a layer whose channels are already masked", () => {
      const dead = new Set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 20]);
      const channels = Uint8Array.from({ length: 24 }, (_, u) => (dead.has(u) ? 0 : 1));
      const fc1 = trained.layers[0]!;
      const partial: NetValue = { ...trained, layers: [{ ...fc1, channels, mask: Uint8Array.from(fc1.mask, (m, j) => m & channels[Math.floor(j / fc1.inputs)]!) }, ...trained.layers.slice(1)] };
      const g = run(engine, partial, blobs, { tolerance: 0, candidates: 4, batch: 32, eval: 10_000 });
      const kept = g.layers[0]!.channels!;
      for (const u of dead) expect(kept[u]).toBe(0);
      // Tolerance 0 may need every live unit, never a dead one.
      expect(g.records?.greedy!.layers[0]!.kept).toBeLessThanOrEqual(24 - dead.size);
      expect(g.records?.greedy!.layers[0]!.kept).toBe(kept.reduce((a, c) => a + c, 0));
    });

    it("gives byte-identical nets for the same parameters, and another selection for another seed", () => {
      const params = { tolerance: 0.01, candidates: 3, batch: 16 };
      const a = run(engine, trained, blobs, params);
      const b = run(engine, trained, blobs, params);
      expect(bytes(a).equals(bytes(b))).toBe(true);
      const c = run(engine, trained, blobs, { ...params, seed: 1 });
      expect(bytes(a).equals(bytes(c))).toBe(false);
    });

    // The plain CPU backend's convolutions take about 90 s here (the same selection as wasm's when measured): wasm only.
    it.skipIf(backend === "cpu")("selects a quarter-width Conv-2's filters as units, and leaves no tensors behind", () => {
      const conv = init(ctx({ arch: { arch: "conv2", width: 0.25 }, scheme: "glorot", seed: 1 }, { data: digits }));
      const warm = train(ctx(trainParams({ length: { epochs: 1 }, optimizer: "adam", lr: 1e-3, batch: 40 }), { net: conv, data: digits }), engine);
      const before = engine.tf.memory().numTensors;
      const g = run(engine, warm, digits, { tolerance: 0.2, candidates: 4, batch: 16, eval: 60 });
      expect(engine.tf.memory().numTensors).toBe(before);
      const record = g.records?.greedy!;
      expect(record.layers.map((l) => [l.name, l.total])).toEqual([
        ["conv1", 16],
        ["conv2", 16],
        ["fc1", 256],
        ["fc2", 256],
      ]);
      expect(record.layers.map((l) => l.kept)).toEqual(keptByMask(g).slice(0, -1));
      for (const l of record.layers) expect(l.kept).toBeGreaterThanOrEqual(1);
      expect(g.layers.every(maskedUnitsEmpty)).toBe(true);
      expect(nonzeroPruned(g)).toBe(0);
      // fc1 takes conv2's 16 channels flattened channel-major: 196 inputs per channel, masked with it.
      const fc1 = g.layers[2]!;
      const conv2 = g.layers[1]!.channels!;
      for (let j = 0; j < fc1.mask.length; j++) if (!conv2[Math.floor((j % fc1.inputs) / 196)]) expect(fc1.mask[j]).toBe(0);
      const selected = testMetrics(engine, g, { ...digits, test: { ...digits.train, n: 60 } });
      expect(Number.isFinite(selected.loss)).toBe(true);
    });

    it("leaves no tensors behind on dense nets", () => {
      run(engine, trained, blobs, { candidates: 4, batch: 32 });
      const before = engine.tf.memory().numTensors;
      run(engine, trained, blobs, { candidates: 4, batch: 32 });
      expect(engine.tf.memory().numTensors).toBe(before);
    });
  });
}

describe("the greedy record", () => {
  it("is stored in the net's metadata and read back; a net without one has no such key", () => {
    const d = halves();
    const n = oneUnitNet(d);
    const record = { tolerance: 0.02, full: 1, eval: 80, layers: [{ name: "fc1", kept: 1, total: 4, accuracy: 1 }] };
    const back = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: { ...n, records: { greedy: record } } }), "x.safetensors");
    expect(back.kind === "Net" && back.net.records?.greedy).toEqual(record);
    const plain = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: n }), "y.safetensors");
    expect(plain.kind === "Net" && "greedy" in plain.net).toBe(false);
    expect(Buffer.from(encodeArtifact({ kind: "Net", net: n })).includes("greedy")).toBe(false);
  });
});
