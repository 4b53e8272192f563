// Convolutional nets as Frankle & Carbin and You et al. use them: Conv-2/4/6 and VGG build
// for digits and CIFAR images alike, train on every backend (wasm through the conv gradients
// lth supplies), prune per conv layer, and yield early-bird tickets with whole channels masked.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as TF from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import type { NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import { sparsity } from "../../runtime/core/net.js";
import { cifarFiles, encodeCifarBatch, RECORD } from "../../runtime/data/cifar10.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { channelMask, earlybird } from "../../runtime/methods/earlybird.js";
import { train } from "../../runtime/methods/training.js";
import { planNet } from "../../runtime/core/architectures.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { cifar10, mnist } from "../../runtime/ops/datasets.js";
import { init, rewind, shuffleMask } from "../../runtime/methods/nets.js";
import { ctx, pruned, trainParams } from "./nets-fixture.js";
import type { ParamValue } from "../../compiler/stage.js";
import { Rig } from "./rig.js";

const digits = mnist(ctx({ train: 1500, test: 500, seed: 1 }));
const small = mnist(ctx({ train: 300, test: 200, seed: 2 }));
const tiny = mnist(ctx({ train: 40, test: 20, seed: 3 }));
const build = (arch: Record<string, number | string | boolean>, d: DatasetValue = digits, seed = 1): NetValue =>
  init(ctx({ arch: { width: 1, ...arch }, scheme: "glorot", seed }, { data: d }));

/** Conv nets here train with Adam 1e-3 in batches of 60 for two epochs unless a test says otherwise. */
const convTraining = (over: Record<string, ParamValue> = {}) => trainParams({ length: { epochs: 2 }, lr: 1e-3, batch: 60, optimizer: "adam", ...over });

describe("the architectures", () => {
  it("Conv-2, 4 and 6 are 64-64 / +128-128 / +256-256 3×3 convs, a pool after each pair, then FC 256-256-10", () => {
    for (const [arch, convs] of [["conv2", [64, 64]], ["conv4", [64, 64, 128, 128]], ["conv6", [64, 64, 128, 128, 256, 256]]] as const) {
      const plan = planNet({ arch, width: 1 }, [32, 32, 3], 10);
      if ("problem" in plan) throw new Error(plan.problem);
      const conv = plan.layers.filter((l) => l.kind === "conv");
      expect(conv.map((l) => l.outputs)).toEqual(convs);
      expect(conv.map((l) => l.pool)).toEqual(convs.map((_, i) => i % 2 === 1));
      const side = 32 / 2 ** (convs.length / 2);
      expect(plan.layers.filter((l) => l.kind === "dense").map((l) => [l.inputs, l.outputs])).toEqual([
        [convs[convs.length - 1]! * side * side, 256],
        [256, 256],
        [256, 10],
      ]);
    }
  });

  it("scales every conv layer's channels by width, and takes the input shape from the dataset", () => {
    const n = build({ arch: "conv2", width: 0.25 });
    expect(n.layers.map((l) => [l.name, l.inputs, l.outputs])).toEqual([
      ["conv1", 1, 16],
      ["conv2", 16, 16],
      ["fc1", 16 * 14 * 14, 256],
      ["fc2", 256, 256],
      ["fc3", 256, 10],
    ]);
  });

  it("VGG pools four times and averages the last map (OpenLTH's 2×2 average pool on CIFAR images)", () => {
    const cifar = planNet({ arch: "vgg", depth: 16, width: 0.5, batchnorm: false }, [32, 32, 3], 10);
    if ("problem" in cifar) throw new Error(cifar.problem);
    expect(cifar.head).toBe("average");
    expect(cifar.layers.filter((l) => l.kind === "conv")).toHaveLength(13);
    expect(cifar.layers.filter((l) => l.pool)).toHaveLength(4);
    expect(cifar.layers.every((l) => !l.batchnorm)).toBe(true);
    expect(cifar.layers[cifar.layers.length - 1]).toMatchObject({ kind: "dense", inputs: 256, outputs: 10 });
  });

  it("leaves out a pool that would shrink a map below 1×1, so small images work too", () => {
    for (const [side, pools] of [[28, 4], [8, 3]] as const) {
      const plan = planNet({ arch: "vgg", depth: 11, width: 1, batchnorm: true }, [side, side, 1], 10);
      if ("problem" in plan) throw new Error(plan.problem);
      expect(plan.layers.filter((l) => l.pool)).toHaveLength(pools);
    }
  });

  it("stores conv weights as [out, in, 3, 3] with a same-shaped mask, batch norm beside them", () => {
    const n = build({ arch: "vgg", depth: 11, width: 0.125, batchnorm: true }, small);
    const back = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: n }), "n.safetensors");
    if (back.kind !== "Net") throw new Error("not a net");
    expect(Buffer.from(encodeArtifact(back)).equals(Buffer.from(encodeArtifact({ kind: "Net", net: n })))).toBe(true);
    const conv1 = back.net.layers[0]!;
    expect([conv1.kind, conv1.weight.length, conv1.mask.length, conv1.bias, conv1.norm?.gamma.length]).toEqual(["conv", 8 * 9, 8 * 9, undefined, 8]);
  });
});

describe("pruning conv nets", () => {
  it("a layer-wise 20% prune leaves every conv layer at 80% ±1%, the output layer at output_rate", () => {
    const p = pruned(build({ arch: "conv4", width: 0.25 }), { rate: 0.2, output_rate: 0.1 });
    for (const l of sparsity(p)) {
      const share = l.remaining / l.total;
      if (l.name === "fc3") expect(share).toBeCloseTo(0.9, 2);
      else expect(Math.abs(share - 0.8)).toBeLessThan(0.01);
    }
  });

  it("a global prune ranks conv and dense weights together", () => {
    const p = pruned(build({ arch: "conv2", width: 0.25 }), { rate: 0.5, scope: "global", output_rate: 0 });
    const layers = sparsity(p);
    const hidden = layers.slice(0, -1);
    expect(hidden.reduce((a, l) => a + l.remaining, 0) / hidden.reduce((a, l) => a + l.total, 0)).toBeCloseTo(0.5, 3);
    expect(new Set(hidden.map((l) => (l.remaining / l.total).toFixed(2))).size).toBeGreaterThan(1);
    expect(layers[layers.length - 1]!.remaining).toBe(layers[layers.length - 1]!.total);
  });
});

describe("cifar10", () => {
  const dir = mkdtempSync(join(tmpdir(), "lth-cifar-"));
  const value = (record: number, offset: number) => (record * 7 + offset) & 0xff;
  // Four records in each training batch (numbered on across batches), six in the test batch.
  const write = (into: string) =>
    cifarFiles(into).forEach((file, b) => {
      const first = b < 5 ? b * 4 : 100;
      const count = b < 5 ? 4 : 6;
      writeFileSync(file, encodeCifarBatch(Array.from({ length: count }, (_, r) => (first + r) % 10), (r, i) => value(first + r, i)));
    });
  write(dir);
  const read = (train: number, test: number, from = dir) => cifar10({ ...ctx({ train, test }), files: { dir: from } });

  it("reads the batches in order into 32×32×3 images, channels last, with their labels", () => {
    const d = read(10, 6);
    expect([d.train.n, d.test.n, d.inputShape, d.classes]).toEqual([10, 6, [32, 32, 3], 10]);
    expect(Array.from(d.train.y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Image 5 is record 1 of data_batch_2; pixel 37's green byte sat at 1,024 + 37 in its record.
    expect(d.train.x[(5 * 1024 + 37) * 3 + 1]).toBe(value(5, 1024 + 37));
    expect(d.test.x[(2 * 1024 + 3) * 3 + 2]).toBe(value(102, 2048 + 3));
    expect(d.mean).toHaveLength(3);
  });

  it("is an error naming the files when they hold fewer images than asked for", () => {
    expect(() => read(21, 6)).toThrow(OpFailure);
    expect(() => read(21, 6)).toThrow(/asked for 21 images, but .*data_batch_1\.bin.* hold 20/);
  });

  it("refuses a missing or truncated batch before anything runs, naming the file", async () => {
    for (const damage of ["missing", "truncated"] as const) {
      const other = mkdtempSync(join(tmpdir(), "lth-cifar-"));
      write(other);
      const file = join(other, "data_batch_3.bin");
      if (damage === "missing") rmSync(file);
      else writeFileSync(file, Buffer.alloc(RECORD * 2 - 5));
      const rig = new Rig(`let d = cifar10("${other}", train: 8, test: 2)\nlet n = train(init(conv2(width: 0.25), d), d, 1 epoch)\n`);
      const r = await rig.lth(["run", rig.file]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(damage === "missing" ? `${file}: no such file` : `${file}: ${RECORD * 2 - 5} bytes is not a whole number`);
      expect(r.stdout).not.toMatch(/ran/);
    }
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  describe(`conv nets on the ${backend} backend`, () => {
    let engine: Engine;
    let tf: typeof TF;
    beforeAll(async () => {
      engine = await loadEngine(backend);
      tf = engine.tf;
      await tf.setBackend(backend);
    });

    it("computes conv gradients that agree with the CPU backend's to 1e-4", async () => {
      const cases: [number[], number[], number, "same" | "valid"][] = [
        [[3, 9, 9, 4], [3, 3, 4, 5], 1, "same"],
        [[2, 8, 8, 3], [3, 3, 3, 2], 1, "valid"],
        [[2, 9, 9, 3], [3, 3, 3, 4], 2, "same"],
      ];
      for (const [xShape, wShape, stride, pad] of cases) {
        const x = Float32Array.from({ length: xShape.reduce((a, b) => a * b) }, (_, i) => Math.sin(i * 0.37));
        const w = Float32Array.from({ length: wShape.reduce((a, b) => a * b) }, (_, i) => Math.cos(i * 0.91));
        const gradients = async (name: string) => {
          await tf.setBackend(name);
          const [gx, gw] = tf.grads((a: TF.Tensor, b: TF.Tensor) => {
            const y = tf.conv2d(a as TF.Tensor4D, b as TF.Tensor4D, stride, pad);
            return tf.sum(tf.mul(y, tf.sin(tf.range(0, y.size).reshape(y.shape))));
          })([tf.tensor(x, xShape), tf.tensor(w, wShape)]);
          return [await gx!.data(), await gw!.data()];
        };
        const reference = await gradients("cpu");
        const ours = await gradients(backend);
        for (let k = 0; k < 2; k++) {
          let worst = 0;
          reference[k]!.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - ours[k]![i]!) / Math.max(1, Math.abs(v)))));
          expect(worst).toBeLessThan(1e-4);
        }
      }
      await tf.setBackend(backend);
    });

    // The plain CPU backend runs convolutions in JavaScript, some fifty times slower than wasm:
    // there it trains a small net on a few digits; the accuracy claim is checked on wasm.
    const job = backend === "wasm" ? { data: digits, width: 0.25, epochs: 2, accuracy: 0.8, batch: 60 } : { data: tiny, width: 0.0625, epochs: 1, accuracy: 0, batch: 20 };

    it(`trains a ${job.width}-width Conv-2 (past ${job.accuracy * 100}% on ${job.data.train.n} digits in ${job.epochs} epoch${job.epochs > 1 ? "s" : ""}), pruned weights staying 0`, () => {
      const start = pruned(build({ arch: "conv2", width: job.width }, job.data), { rate: 0.2 });
      const t = train(ctx(convTraining({ length: { epochs: job.epochs }, batch: job.batch }), { net: start, data: job.data }), engine);
      expect(t.history[t.history.length - 1]!.accuracy).toBeGreaterThan(job.accuracy);
      t.layers.forEach((l, i) => expect(Array.from(l.weight)).not.toEqual(Array.from(start.layers[i]!.weight)));
      t.layers.forEach((l, i) => {
        expect(Array.from(l.mask)).toEqual(Array.from(start.layers[i]!.mask));
        l.mask.forEach((m, j) => m === 0 && expect(l.weight[j]).toBe(0));
      });
    });

    it.skipIf(backend === "cpu")("finds an early-bird ticket: emergence within the budget, `rate` of channels masked, whole filters zero", () => {
      const vgg = build({ arch: "vgg", depth: 11, width: 0.125, batchnorm: true }, small);
      const eb = earlybird(ctx({ rate: 0.3, eps: 0.1, window: 2, max: { epochs: 4 }, l1: 1e-4, lr: 0.05, batch: 64 }, { net: vgg, data: small }), engine);
      const bird = eb.records?.earlybird!;
      expect(bird.epoch).toBeGreaterThanOrEqual(2);
      expect(bird.epoch).toBeLessThanOrEqual(4);
      const channels = eb.layers.filter((l) => l.norm).reduce((a, l) => a + l.outputs, 0);
      expect(bird.channelSparsity).toBeCloseTo(Math.round(0.3 * channels) / channels, 10);
      for (const l of eb.layers.filter((x) => x.channels)) {
        const filter = l.weight.length / l.outputs;
        l.channels!.forEach((keep, c) => {
          if (keep) return;
          expect(l.norm!.gamma[c]).toBe(0);
          expect(l.norm!.beta[c]).toBe(0);
          for (let j = c * filter; j < (c + 1) * filter; j++) expect([l.weight[j], l.mask[j]]).toEqual([0, 0]);
        });
      }
      // A shuffled mask moves weights only within the kept channels' filters.
      const shuffled = shuffleMask(ctx({ seed: 5 }, { net: eb }));
      shuffled.layers.forEach((l) => {
        const filter = l.weight.length / l.outputs;
        l.channels?.forEach((keep, c) => {
          if (!keep) for (let j = c * filter; j < (c + 1) * filter; j++) expect([l.mask[j], l.weight[j]]).toEqual([0, 0]);
        });
      });
      expect(sparsity(shuffled).map((l) => l.remaining)).toEqual(sparsity(eb).map((l) => l.remaining));
      // Rewound to its initial weights, the ticket keeps its channels and says where its mask came from.
      const rewound = rewind(ctx({}, { net: eb, to: vgg }));
      expect(rewound.records?.earlybird).toEqual(eb.records?.earlybird);
      expect(rewound.layers.map((l) => l.channels && Array.from(l.channels))).toEqual(eb.layers.map((l) => l.channels && Array.from(l.channels)));
      // Later training and pruning honour the channel mask.
      const later = pruned(train(ctx(convTraining({ length: { epochs: 1 }, optimizer: "momentum", lr: 0.05 }), { net: eb, data: small }), engine), { rate: 0.2 });
      later.layers.forEach((l, i) => {
        const before = eb.layers[i]!;
        before.channels?.forEach((keep, c) => {
          if (keep) return;
          expect([l.norm!.gamma[c], l.norm!.beta[c]]).toEqual([0, 0]);
          const filter = l.weight.length / l.outputs;
          for (let j = c * filter; j < (c + 1) * filter; j++) expect(l.weight[j]).toBe(0);
        });
      });
    });

    it("refuses early-bird search on a net without batch norm", () => {
      const plain = build({ arch: "conv2", width: 0.125 }, small);
      expect(() => earlybird(ctx({ rate: 0.3, eps: 0.1, window: 2, max: { epochs: 2 }, l1: 1e-4, lr: 0.05, batch: 64 }, { net: plain, data: small }), engine)).toThrow(/no batch norm/);
    });
  });
}

describe("the early-bird channel mask", () => {
  it("masks the `rate` smallest |γ| under one threshold across all layers, ties by position", () => {
    const mask = channelMask([Float32Array.from([0.5, -0.1, 0.3]), Float32Array.from([0.05, 0.9, -0.3, 0.3])], 3 / 7);
    expect(Array.from(mask)).toEqual([1, 0, 0, 0, 1, 1, 1]);
  });
});
