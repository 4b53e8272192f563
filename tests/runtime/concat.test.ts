// `concat` (Chen, Wang & Kyrillidis 2021): training inputs joined in ordered pairs, each
// labelled with the average of its two one-hot labels; test inputs each joined with itself.
// Called directly, then the loss it trains on, then an MLP and a conv net through the CLI.

import { describe, expect, it } from "vitest";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { choosePairs, concat } from "../../runtime/ops/concat.js";
import { synthetic } from "../../runtime/ops/datasets.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { EngineNet, features } from "../../runtime/engine/model.js";
import { crossEntropy, trainStep } from "../../runtime/engine/train.js";
import { Optimizer } from "../../runtime/engine/optimizer.js";
import { init } from "../../runtime/methods/nets.js";
import { ctx, opFailure } from "./nets-fixture.js";
import { Rig } from "./rig.js";

/** `n` images of 2×3×`c` bytes: example i's pixel p of channel k is 10·i + 2·p + k (mod 256); label i mod 3. */
function images(n: number, c = 1): DatasetValue {
  const size = 2 * 3 * c;
  const x = Uint8Array.from({ length: n * size }, (_, j) => (10 * Math.floor(j / size) + 2 * Math.floor((j % size) / c) + (j % c)) % 256);
  const y = Int32Array.from({ length: n }, (_, i) => i % 3);
  const test = { n: 2, x: x.slice(0, 2 * size), y: y.slice(0, 2) };
  return { name: "tiny", inputShape: [2, 3, c], classes: 3, scale: 1 / 255, mean: Array(c).fill(0.5), std: Array(c).fill(0.25), train: { n, x, y }, test, validation: test };
}

const pair = (data: DatasetValue, pairs: number, seed = 0) => concat(ctx({ pairs, seed }, { data }));

const failure = opFailure;

describe("the pairs concat draws", () => {
  const codes = (p: { firsts: Uint32Array; seconds: Uint32Array }) => [...p.firsts].map((a, i) => `${a},${p.seconds[i]}`);

  it("start with each input paired with itself, then distinct ordered pairs of two, the same for a seed", () => {
    for (const pairs of [5, 12, 20, 25]) {
      const p = codes(choosePairs(5, pairs, 1));
      expect(p.slice(0, 5)).toEqual(["0,0", "1,1", "2,2", "3,3", "4,4"]);
      expect(new Set(p).size).toBe(pairs);
      for (const c of p.slice(5)) expect(c.split(",")[0]).not.toBe(c.split(",")[1]);
      expect(codes(choosePairs(5, pairs, 1))).toEqual(p);
    }
    // n² is every ordered pair.
    expect(new Set(codes(choosePairs(5, 25, 3))).size).toBe(25);
    expect(codes(choosePairs(30, 200, 1))).not.toEqual(codes(choosePairs(30, 200, 2)));
  });
});

describe("concat", () => {
  it("joins two images side by side, row by row, labelled with both inputs' labels", () => {
    const data = images(4, 2);
    const out = pair(data, 10);
    expect(out.inputShape).toEqual([2, 6, 2]);
    expect(out.train.n).toBe(10);
    const { firsts, seconds } = choosePairs(4, 10, 0);
    const size = 12;
    for (let i = 0; i < 10; i++) {
      const [a, b] = [firsts[i]!, seconds[i]!];
      const ex = out.train.x.subarray(i * 2 * size, (i + 1) * 2 * size);
      for (let r = 0; r < 2; r++) {
        // Row r: image a's row (3 pixels × 2 channels), then image b's.
        expect([...ex.subarray(r * 12, r * 12 + 6)]).toEqual([...data.train.x.subarray(a * size + r * 6, a * size + r * 6 + 6)]);
        expect([...ex.subarray(r * 12 + 6, r * 12 + 12)]).toEqual([...data.train.x.subarray(b * size + r * 6, b * size + r * 6 + 6)]);
      }
      expect(out.train.y[i]).toBe(data.train.y[a]);
      expect(out.train.y2![i]).toBe(data.train.y[b]);
    }
    // Test and validation inputs each joined with themselves, one label, no second.
    for (const split of [out.test, out.validation!]) {
      expect(split.n).toBe(2);
      expect(split.y2).toBeUndefined();
      expect([...split.y]).toEqual([...data.test.y]);
      for (let i = 0; i < 2; i++)
        for (let r = 0; r < 2; r++) {
          const row = [...data.test.x.subarray(i * size + r * 6, i * size + r * 6 + 6)];
          expect([...split.x.subarray(i * 24 + r * 12, i * 24 + r * 12 + 12)]).toEqual([...row, ...row]);
        }
    }
    // The standardisation is the original's.
    expect([out.mean, out.std]).toEqual([data.mean, data.std]);
  });

  it("puts flat features one after the other", () => {
    const data = synthetic(ctx({ n: 20, features: 3, classes: 2, seed: 3, noise: 0.1 }));
    const n = data.train.n;
    const out = pair(data, 20, 4);
    expect(out.inputShape).toEqual([6]);
    const { firsts, seconds } = choosePairs(n, 20, 4);
    for (let i = 0; i < 20; i++) {
      expect([...out.train.x.subarray(i * 6, i * 6 + 3)]).toEqual([...data.train.x.subarray(firsts[i]! * 3, firsts[i]! * 3 + 3)]);
      expect([...out.train.x.subarray(i * 6 + 3, i * 6 + 6)]).toEqual([...data.train.x.subarray(seconds[i]! * 3, seconds[i]! * 3 + 3)]);
    }
  });

  it("refuses pairs outside n … n², and pairs of pairs, naming the numbers", () => {
    const data = images(4);
    expect(failure(() => pair(data, 3)).message).toContain("pairs must be from 4 (each input with itself) to 16 (every ordered pair)");
    expect(failure(() => pair(data, 17)).message).toContain("pairs is 17");
    expect(failure(() => pair(pair(data, 8), 8)).message).toContain("already made of concatenated pairs");
  });
});

describe("training on concatenated pairs", () => {
  it("minimises the mean of the cross-entropies against the two labels (the averaged one-hot target)", async () => {
    const { tf } = await loadEngine("cpu");
    const data = pair(images(6), 20, 1);
    const net = init(ctx({ arch: { arch: "mlp", hidden: [5] }, scheme: "glorot", seed: 2 }, { data }));
    const model = new EngineNet(tf, net);
    const x = features(tf, data, data.train);
    const y = tf.tensor1d(data.train.y, "int32");
    const y2 = tf.tensor1d(data.train.y2!, "int32");
    const idx = Int32Array.from({ length: 20 }, (_, i) => i);
    const logits = model.forward(x, false);
    const expected = (crossEntropy(tf, logits, y, 3).dataSync()[0]! + crossEntropy(tf, logits, y2, 3).dataSync()[0]!) / 2;
    const trainables = model.trainables();
    const optimizer = new Optimizer(tf, "sgd", 0, 0, 0, trainables);
    const loss = trainStep(tf, model, x, y, idx, trainables.map((t) => t.variable), optimizer, 0.1, undefined, undefined, y2);
    expect(loss.dataSync()[0]).toBeCloseTo(expected, 5);
    // Against one label only it would be another number.
    expect(Math.abs(crossEntropy(tf, logits, y, 3).dataSync()[0]! - expected)).toBeGreaterThan(1e-3);
    optimizer.dispose();
    model.dispose();
  });

  it("trains an MLP and a conv net through the command line, pairs drawn once and cached", async () => {
    const rig = new Rig(`let data = mnist(train: 300, test: 200, seed: 1)
let pairs = concat(data, pairs: 3000, seed: 2)
let wide = train(init(mlp([64]), pairs, seed: 1), pairs, 2 epochs)
let conv = train(init(conv2(width: 0.25), pairs, seed: 1), pairs, 2 epochs)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ["wide", "conv"]) {
      const shown = JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { accuracy: number };
      // Ten classes: chance is 10%.
      expect(shown.accuracy, name).toBeGreaterThan(0.5);
    }
    const again = await rig.run(["--jobs", "1"]);
    expect(again.summary.ran).toBe(0);
    rig.write(`let data = mnist(train: 300, test: 200, seed: 1)
let pairs = concat(data, pairs: 100, seed: 2)
`);
    const bad = await rig.run(["--jobs", "1"]);
    expect(bad.exitCode).not.toBe(0);
    expect(JSON.stringify(bad.lines) + bad.stderr).toContain("pairs must be from 300");
  });
});
