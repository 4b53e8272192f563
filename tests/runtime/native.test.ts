// The native backend: the wasm backend with oneDNN's kernels (runtime/engine/kernels/native).
// Each kernel it replaces agrees with the plain CPU backend on randomised shapes; the fused
// optimizer update agrees with the kernels it replaces; training on native is as accurate as
// on wasm; and a stage gives the same bytes twice at the thread count it runs with.
//
// Where oneDNN's headers are installed the addon must have been built (npm install builds
// it): a machine that could have native and does not is a failure here, not a skip.

import { spawnSync } from "node:child_process";
import type * as TF from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { Random } from "../../runtime/core/random.js";
import { loadEngine, type Engine } from "../../runtime/engine/backend.js";
import { loadNativeAddon } from "../../runtime/engine/kernels/native.js";
import { BATCH_NORM_TRAINING, BIAS_RELU } from "../../runtime/engine/model.js";
import { crossEntropy } from "../../runtime/engine/train.js";
import { Optimizer, type OptimizerKind } from "../../runtime/engine/optimizer.js";
import { Rig } from "./rig.js";

/** Whether this machine can build the addon: a C++ compiler that finds oneDNN's headers. */
const buildable = spawnSync("c++", ["-E", "-x", "c++", "-"], { input: "#include <dnnl.hpp>\n", stdio: ["pipe", "ignore", "ignore"] }).status === 0;
const addon = loadNativeAddon();

describe("the native addon", () => {
  it("is built wherever it can be", () => {
    if (buildable) expect(typeof addon === "string" ? addon : "built").toBe("built");
    else expect(addon).toMatch(/apt-get install -y g\+\+ libdnnl-dev/);
  });
});

describe.skipIf(typeof addon === "string")("native kernels against the cpu backend", () => {
  let engine: Engine;
  let tf: typeof TF;
  beforeAll(async () => {
    engine = await loadEngine("native", { threads: 2 });
    tf = engine.tf;
    await import("@tensorflow/tfjs-backend-cpu");
    expect(engine.backend).toBe("native");
  });

  const random = new Random(17, "native.test");
  const values = (n: number) => Float32Array.from({ length: n }, () => 2 * random.next() - 1);

  /** f on cpu and on native: each output's largest difference relative to the largest value of the cpu's. */
  async function compare(f: () => TF.Tensor | TF.Tensor[]): Promise<number[]> {
    const on = async (name: string) => {
      await tf.setBackend(name);
      return tf.tidy(() => [f()].flat().map((t) => Float32Array.from(t.dataSync())));
    };
    const cpu = await on("cpu");
    const native = await on("wasm");
    return cpu.map((c, i) => {
      const n = native[i]!;
      expect(n.length).toBe(c.length);
      const scale = c.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      let worst = 0;
      for (let j = 0; j < c.length; j++) worst = Math.max(worst, Math.abs(c[j]! - n[j]!) / scale);
      return worst;
    });
  }

  // [batch, height, width, channels, filters, kernel, stride, padding]: batch 1, odd channel counts, non-square inputs.
  const convs: [number, number, number, number, number, number, number, "same" | "valid"][] = [
    [2, 9, 7, 3, 5, 3, 1, "same"],
    [1, 8, 8, 4, 6, 3, 2, "same"],
    [3, 10, 6, 5, 7, 3, 2, "valid"],
    [2, 7, 7, 3, 4, 1, 1, "valid"],
    [1, 5, 9, 2, 3, 5, 2, "same"],
    [4, 12, 12, 16, 32, 3, 1, "same"],
    [1, 11, 13, 1, 9, 3, 2, "valid"],
  ];

  it("convolution forward, and its gradients to the input and to the filter", async () => {
    for (const [n, h, w, c, f, k, s, pad] of convs) {
      const x = values(n * h * w * c);
      const filter = values(k * k * c * f);
      const worst = await compare(() => {
        const xt = tf.tensor4d(x, [n, h, w, c]);
        const ft = tf.tensor4d(filter, [k, k, c, f]);
        const y = tf.conv2d(xt, ft, s, pad);
        // A loss whose gradient is not constant, so both backward kernels see real values.
        const [dx, dw] = tf.grads((a: TF.Tensor, b: TF.Tensor) => tf.sum(tf.square(tf.conv2d(a as TF.Tensor4D, b as TF.Tensor4D, s, pad))))([xt, ft]);
        return [y, dx!, dw!];
      });
      expect(worst).toHaveLength(3);
      for (const d of worst) expect(d, `conv ${[n, h, w, c, f, k, s, pad].join(" ")}`).toBeLessThan(1e-4);
    }
  });

  it("max pooling and its gradient", async () => {
    for (const [n, h, w, c, , , s, pad] of convs) {
      const x = values(n * h * w * c);
      const worst = await compare(() => {
        const xt = tf.tensor4d(x, [n, h, w, c]);
        const dx = tf.grad((a: TF.Tensor) => tf.sum(tf.square(tf.maxPool(a as TF.Tensor4D, 2, s, pad))))(xt);
        return [tf.maxPool(xt, 2, s, pad), dx];
      });
      for (const d of worst) expect(d, `pool ${[n, h, w, c, s, pad].join(" ")}`).toBeLessThan(1e-4);
    }
  });

  it("matrix products: plain, transposed either way, fused with bias and ReLU, and their gradients", async () => {
    for (const [m, k, n] of [[60, 784, 300], [7, 5, 3], [1, 1, 1], [33, 17, 65]] as const) {
      for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
        const a = values(m * k);
        const b = values(k * n);
        const bias = values(n);
        const worst = await compare(() => {
          const at = tf.tensor2d(a, ta ? [k, m] : [m, k]);
          const bt = tf.tensor2d(b, tb ? [n, k] : [k, n]);
          const biasT = tf.tensor1d(bias);
          const fused = (p: TF.Tensor, q: TF.Tensor) => tf.fused.matMul({ a: p as TF.Tensor2D, b: q as TF.Tensor2D, transposeA: ta, transposeB: tb, bias: biasT, activation: "relu" });
          const [da, db] = tf.grads((p: TF.Tensor, q: TF.Tensor) => tf.sum(tf.square(fused(p, q))))([at, bt]);
          return [tf.matMul(at, bt, ta, tb), fused(at, bt), da!, db!];
        });
        for (const d of worst) expect(d, `matmul ${m}×${k}×${n} ${ta} ${tb}`).toBeLessThan(1e-4);
      }
    }
  });

  it("sums over leading axes (bias gradients), with and without kept dimensions", async () => {
    for (const [shape, axes, keep] of [[[4, 5, 6, 7], [0, 1, 2], false], [[60, 300], [0], false], [[3, 9], [0], true], [[2, 3, 4], [1, 0], false]] as const) {
      const x = values(shape.reduce((a, b) => a * b, 1));
      const worst = await compare(() => tf.sum(tf.tensor(x, [...shape]), [...axes], keep));
      for (const d of worst) expect(d, `sum ${shape} over ${axes}`).toBeLessThan(1e-5);
    }
  });

  it("batch norm in training, as one kernel with its gradients, against moments and batchNorm on cpu", async () => {
    for (const [n, h, w, c] of [[6, 5, 4, 3], [1, 3, 3, 7], [8, 2, 6, 16]] as const) {
      const x = values(n * h * w * c);
      const gamma = values(c);
      const beta = values(c);
      const dyValues = values(n * h * w * c);
      const worst = await compare(() => {
        const [xt, gt, bt, dy] = [tf.tensor4d(x, [n, h, w, c]), tf.tensor1d(gamma), tf.tensor1d(beta), tf.tensor4d(dyValues, [n, h, w, c])];
        const fused = tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) !== undefined;
        const norm = (a: TF.Tensor, g: TF.Tensor, b: TF.Tensor): TF.Tensor[] => {
          if (fused) return tf.engine().runKernel(BATCH_NORM_TRAINING, { x: a, gamma: g, beta: b }, { epsilon: 1e-5 }) as unknown as TF.Tensor[];
          const { mean, variance } = tf.moments(a, [0, 1, 2]);
          return [tf.batchNorm(a as TF.Tensor4D, mean, variance, b as TF.Tensor1D, g as TF.Tensor1D, 1e-5), mean, variance];
        };
        const [y, mean, variance] = norm(xt, gt, bt);
        const grads = tf.grads((a: TF.Tensor, g: TF.Tensor, b: TF.Tensor) => tf.sum(tf.mul(norm(a, g, b)[0]!, dy)))([xt, gt, bt]);
        return [y!, mean!, variance!, ...grads];
      });
      expect(worst).toHaveLength(6);
      for (const d of worst) expect(d, `batch norm ${[n, h, w, c]}`).toBeLessThan(1e-4);
    }
  });

  it("the softmax cross-entropy loss and its gradient", async () => {
    for (const [n, k] of [[60, 10], [1, 3], [7, 100]] as const) {
      const logits = Float32Array.from(values(n * k), (v) => 8 * v);
      const labels = Int32Array.from({ length: n }, (_, i) => (i * 7) % k);
      const worst = await compare(() => {
        const z = tf.tensor2d(logits, [n, k]);
        const y = tf.tensor1d(labels, "int32");
        const loss = (a: TF.Tensor) => crossEntropy(tf, a, y, k);
        return [loss(z), tf.grad(loss)(z)];
      });
      for (const d of worst) expect(d, `cross-entropy ${n}×${k}`).toBeLessThan(1e-5);
    }
  });

  it("tiles tensors of any rank, as batch norm's gradient spreads its statistics", async () => {
    for (const [shape, reps] of [[[1, 1, 1, 5], [3, 4, 2, 1]], [[2, 3], [2, 2]], [[7], [3]], [[2, 1, 3, 1], [1, 4, 1, 2]]] as const) {
      const x = values((shape as readonly number[]).reduce((a, b) => a * b, 1));
      expect(await compare(() => tf.tile(tf.tensor(x, [...shape]), [...reps]))).toEqual([0]);
    }
  });

  it("gathers a batch of rows, and leaves an index out of range to the wasm kernel's error", async () => {
    const x = values(50 * 12);
    const worst = await compare(() => tf.gather(tf.tensor2d(x, [50, 12]), tf.tensor1d([3, 49, 0, 3, 17], "int32")));
    expect(worst).toEqual([0]);
    await tf.setBackend("wasm");
    expect(() => tf.gather(tf.tensor2d(x, [50, 12]), tf.tensor1d([50], "int32")).dataSync()).toThrow();
  });

  it("element-wise sums, products, ReLU and step, with a bias repeated over the last axes", async () => {
    const x = values(4 * 5 * 6 * 7);
    const y = values(4 * 5 * 6 * 7);
    const b = values(7);
    const b2 = values(6 * 7);
    const worst = await compare(() => {
      const xt = tf.tensor4d(x, [4, 5, 6, 7]);
      const yt = tf.tensor4d(y, [4, 5, 6, 7]);
      const bt = tf.tensor1d(b);
      return [
        tf.add(xt, bt),
        tf.add(bt, xt),
        tf.add(xt, yt),
        tf.add(xt, tf.tensor3d(b2, [1, 6, 7])),
        tf.mul(xt, yt),
        tf.mul(tf.reshape(bt, [1, 7]), xt),
        tf.relu(xt),
        tf.step(xt, 0.3),
        // Broadcasts over a leading axis are wasm's own: still right.
        tf.add(tf.tensor2d(x.subarray(0, 20), [4, 5]), tf.tensor2d(b.subarray(0, 4), [4, 1])),
        tf.mul(tf.tensor1d(b.subarray(0, 3)), tf.tensor2d(x.subarray(0, 6), [2, 3])),
      ];
    });
    expect(worst).toHaveLength(10);
    // Single float operations, as on cpu: the same values exactly.
    for (const [i, d] of worst.entries()) expect(d, `element-wise case ${i}`).toBe(0);
  });

  it("a layer's bias and ReLU as one kernel each way, against Add and Relu on cpu", async () => {
    for (const shape of [[6, 5, 4, 3], [60, 300], [1, 1], [3, 17]] as const) {
      const n = (shape as readonly number[]).reduce((a, b) => a * b, 1);
      const c = shape[shape.length - 1]!;
      const x = values(n);
      const bias = values(c);
      const dyValues = values(n);
      const worst = await compare(() => {
        const fused = tf.getKernel(BIAS_RELU, tf.getBackend()) !== undefined;
        const layer = (a: TF.Tensor, b: TF.Tensor) => (fused ? (tf.engine().runKernel(BIAS_RELU, { x: a, bias: b }, {}) as TF.Tensor) : tf.relu(tf.add(a, b)));
        const [xt, bt, dy] = [tf.tensor(x, [...shape]), tf.tensor1d(bias), tf.tensor(dyValues, [...shape])];
        const [dx, db] = tf.grads((a: TF.Tensor, b: TF.Tensor) => tf.sum(tf.mul(layer(a, b), dy)))([xt, bt]);
        // Second order, as GraSP takes it: the gradient of a product of the layer's gradient with a fixed direction.
        const w = tf.tensor(dyValues.map((v) => v * 0.5 + 0.25), [...shape]);
        const [ddy] = tf.grads((g: TF.Tensor) => {
          const [inner] = tf.grads((a: TF.Tensor) => tf.sum(tf.mul(layer(a, bt), g)))([xt]);
          return tf.sum(tf.mul(inner!, w));
        })([dy]);
        return [layer(xt, bt), dx!, db!, ddy!];
      });
      expect(worst).toHaveLength(4);
      expect(worst[3], `second order ${shape}`).toBe(0);
      expect(worst[0], `relu(x + b) ${shape}`).toBe(0);
      expect(worst[1], `its gradient to x ${shape}`).toBe(0);
      expect(worst[2], `its gradient to the bias ${shape}`).toBeLessThan(1e-5);
    }
  });

  it("copies contiguous slices within the heap, and leaves other slices to wasm's kernel", async () => {
    const x = values(50 * 12);
    const ints = Int32Array.from({ length: 24 }, (_, i) => i * 3 - 7);
    const worst = await compare(() => {
      const xt = tf.tensor2d(x, [50, 12]);
      return [tf.slice(xt, [10, 0], [25, -1]), tf.slice(xt, [0, 3], [50, 4]), tf.slice(xt, [49, 0], [1, 12]), tf.slice(xt, [7, 0], [0, 12]), tf.cast(tf.slice(tf.tensor3d(ints, [4, 3, 2]), [1, 0, 0], [2, 3, 2]), "float32")];
    });
    expect(worst).toEqual([0, 0, 0, 0, 0]);
  });

  it("shares memory for Identity and same-dtype Cast, and the in-place update leaves a sharer's values alone", async () => {
    await tf.setBackend("wasm");
    const start = values(64);
    const v = tf.variable(tf.tensor1d(start));
    const copy = tf.clone(v);
    const cast = tf.cast(v, "float32");
    const optimizer = new Optimizer(tf, "adam", 0, 0, 0, [{ variable: v }], engine.fusedUpdate);
    tf.tidy(() => optimizer.step(0.1, [tf.ones([64])]));
    expect(Array.from(copy.dataSync())).toEqual(Array.from(start));
    expect(Array.from(cast.dataSync())).toEqual(Array.from(start));
    // The variable moved, by Adam's first step of lr against a gradient of ones.
    const moved = v.dataSync();
    for (let i = 0; i < 64; i++) expect(moved[i]).toBeCloseTo(start[i]! - 0.1, 5);
    optimizer.dispose();
    tf.dispose([v, copy, cast]);
  });

  it("updates a variable in one fused call as the optimizer's element-wise kernels do", async () => {
    await tf.setBackend("wasm");
    // With and without each term: the fused update has a loop for each combination.
    const cases = (["sgd", "momentum", "adam"] as OptimizerKind[]).flatMap((kind) => [
      { kind, decay: 1e-3, l1: 1e-2, masked: true },
      { kind, decay: 0, l1: 0, masked: false },
      { kind, decay: 1e-3, l1: 0, masked: false },
      { kind, decay: 0, l1: 1e-2, masked: true },
    ]);
    for (const { kind, decay, l1, masked } of cases) {
      const start = values(1000);
      const mask = Float32Array.from({ length: 1000 }, (_, i) => (masked && i % 3 === 0 ? 0 : 1));
      const grads = [values(1000), values(1000), values(1000)];
      const trained = (fused: boolean) => {
        const v = tf.variable(tf.tensor1d(start));
        const m = tf.tensor1d(mask);
        const optimizer = new Optimizer(tf, kind, 0.9, decay, l1, [{ variable: v, ...(masked ? { mask: m } : {}), scale: true }], fused ? engine.fusedUpdate : undefined);
        for (const g of grads) tf.tidy(() => optimizer.step(0.05, [tf.tensor1d(g)]));
        const out = Float32Array.from(v.dataSync());
        optimizer.dispose();
        tf.dispose([v, m]);
        return out;
      };
      const fused = trained(true);
      const kernels = trained(false);
      for (let i = 0; i < fused.length; i++) {
        expect(Math.abs(fused[i]! - kernels[i]!), `${kind} (decay ${decay}, l1 ${l1}, mask ${masked}) at ${i}`).toBeLessThan(1e-5);
        // A masked weight does not move.
        if (mask[i] === 0) expect(fused[i]).toBe(start[i]);
      }
    }
  });
});

describe.skipIf(typeof addon === "string")("training on native", () => {
  const pipeline = `let digits = mnist(train: 1200, test: 400, seed: 1)
let lenet0 = init(mlp(hidden: [300, 100]), digits, seed: 1)
let lenet = train(lenet0, digits, 2 epochs, batch: 60, optimizer: adam, lr: 0.0012)
let conv0 = init(conv2(width: 0.25), digits, seed: 1)
let conv = train(conv0, digits, 2 epochs, batch: 60, optimizer: adam, lr: 0.001)
`;
  const accuracy = async (rig: Rig, name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { accuracy: number; backend: string };
  /** Each stage's key and the digest of what it wrote, in a run on `backend` with one worker (all cores for its kernels). */
  const run = async (rig: Rig, backend: string) => {
    const r = await rig.run(["--backend", backend, "--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    return Object.fromEntries(r.stages.map((s) => [s.id, `${s.key} ${s.output}`]));
  };

  it("reaches wasm's accuracy on LeNet-300-100 and Conv-2 within noise, and gives the same bytes twice at its thread count", async () => {
    const wasm = new Rig(pipeline);
    const native = new Rig(pipeline);
    const again = new Rig(pipeline);
    const onWasm = await run(wasm, "wasm");
    const onNative = await run(native, "native");
    const nativeAgain = await run(again, "native");
    for (const name of ["lenet", "conv"]) {
      const w = await accuracy(wasm, name);
      const n = await accuracy(native, name);
      expect(w.backend).toBe("wasm");
      expect(n.backend).toBe("native");
      // 400 test digits: one standard error of an accuracy near 0.9 is 1.5 points.
      expect(Math.abs(n.accuracy - w.accuracy), `${name}: native ${n.accuracy}, wasm ${w.accuracy}`).toBeLessThan(0.05);
      expect(n.accuracy).toBeGreaterThan(0.8);
    }
    // The backend is not in the key: the same keys on both. On native the same bytes twice
    // (one worker, so the same threads); the trained nets' bytes differ from wasm's.
    expect(Object.keys(onNative).sort()).toEqual(["conv", "conv0", "digits", "lenet", "lenet0"]);
    for (const id of Object.keys(onNative)) expect(onNative[id]!.split(" ")[0]).toBe(onWasm[id]!.split(" ")[0]);
    expect(nativeAgain).toEqual(onNative);
    expect(onNative["lenet"]).not.toBe(onWasm["lenet"]);
  });
});
