// OpenLTH's CIFAR ResNets (`resnet(depth, width)`): the architecture layer by layer, its
// forward pass and gradients held to PyTorch's on every backend (reference.json, written by
// tests/fixtures/resnet/reference.py from the weights in net.safetensors), and every op that
// takes a conv net run on one, or refusing it with a reason.

import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type * as TF from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { decodeArtifact } from "../../runtime/artifacts.js";
import { knownArch, planNet } from "../../runtime/core/architectures.js";
import type { NetValue } from "../../runtime/core/net.js";
import { loadEngine, type BackendChoice, type Engine } from "../../runtime/engine/backend.js";
import { loadNativeAddon } from "../../runtime/engine/kernels/native.js";
import { EngineNet } from "../../runtime/engine/model.js";
import { crossEntropy } from "../../runtime/engine/train.js";
import { cifarFiles, encodeCifarBatch } from "../../runtime/data/cifar10.js";
import { Random } from "../../runtime/core/random.js";
import { Rig } from "./rig.js";

const fixtures = join(import.meta.dirname, "../fixtures/resnet");

describe("resnet(depth, width): OpenLTH's cifar_resnet_D_W", () => {
  it("is a 3×3 conv, three stages of 6n + 2 convs of W, 2W, 4W channels, 1×1 shortcuts where the shape changes, and one linear layer", () => {
    const plan = planNet({ arch: "resnet", depth: 20, width: 16 }, [32, 32, 3], 10);
    if ("problem" in plan) throw new Error(plan.problem);
    const convs = plan.layers.filter((l) => l.kind === "conv");
    // 1 + 3 stages × 3 blocks × 2 convs, and two shortcuts.
    expect(convs.filter((l) => !l.shortcut)).toHaveLength(19);
    expect(convs.filter((l) => l.shortcut).map((l) => [l.name, l.inputs, l.outputs, l.kernel, l.stride])).toEqual([
      ["blocks.3.shortcut", 16, 32, 1, 2],
      ["blocks.6.shortcut", 32, 64, 1, 2],
    ]);
    expect(convs.filter((l) => l.stride === 2).map((l) => l.name)).toEqual(["blocks.3.conv1", "blocks.3.shortcut", "blocks.6.conv1", "blocks.6.shortcut"]);
    expect(convs.every((l) => l.batchnorm)).toBe(true);
    expect(plan.head).toBe("average");
    expect(plan.layers.at(-1)).toMatchObject({ name: "fc", kind: "dense", inputs: 64, outputs: 10 });
    // Frankle et al.'s "271K" weights: every conv and linear weight of ResNet-20.
    expect(plan.layers.reduce((n, l) => n + l.inputs * l.outputs * l.kernel * l.kernel, 0)).toBe(270_896);
    const wide = planNet({ arch: "resnet", depth: 56, width: 32 }, [32, 32, 3], 100);
    if ("problem" in wide) throw new Error(wide.problem);
    expect(wide.layers.filter((l) => l.kind === "conv" && !l.shortcut)).toHaveLength(55);
    expect(wide.layers.at(-1)).toMatchObject({ inputs: 128, outputs: 100 });
  });

  it("refuses a depth that is not 6n + 2, in the checker with the nearest depths and at run time", () => {
    const r = checkProgram("/p/main.lth", new ModuleLoader(memoryHost({ "/p/main.lth": "let d = mnist()\nlet n = init(resnet(depth: 21), d)\n" })));
    if ("problem" in r) throw new Error(r.problem);
    expect(r.ok).toBe(false);
    const d = r.diagnostics[0]!;
    expect(d.message).toContain("found 21, nearest 20 or 26");
    // On the second line, at the depth.
    expect(d.range.start).toBe("let d = mnist()\nlet n = init(resnet(depth: 21), d)\n".indexOf("21"));
    expect(knownArch({ arch: "resnet", depth: 22 })).toContain("not 6n + 2");
    expect(knownArch({ arch: "resnet", depth: 20 })).toBeUndefined();
  });
});

interface Reference {
  x: number[][];
  labels: number[];
  evaluation: number[][];
  training: number[][];
  loss: number;
  gradients: Record<string, number[]>;
}

/** Largest |a − b| over the largest |b|: a relative error that ignores tiny entries' noise. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}

const addon = loadNativeAddon();
const backends: BackendChoice[] = ["cpu", "wasm", ...(typeof addon === "string" ? [] : (["native"] as const))];

describe.each(backends)("a ResNet's forward pass and gradients on %s equal PyTorch's", (backend) => {
  const reference = JSON.parse(readFileSync(join(fixtures, "reference.json"), "utf8")) as Reference;
  const decoded = decodeArtifact("Net", readFileSync(join(fixtures, "net.safetensors")), "net.safetensors");
  const net = (decoded as { net: NetValue }).net;
  let engine: Engine;
  let tf: typeof TF;
  let model: EngineNet;
  let x: TF.Tensor;
  beforeAll(async () => {
    engine = await loadEngine(backend, { threads: 1 });
    tf = engine.tf;
    model = new EngineNet(tf, net);
    x = tf.tensor2d(reference.x.flat(), [reference.x.length, reference.x[0]!.length]);
  });
  afterAll(() => {
    model.dispose();
    x.dispose();
  });

  it("the fixture is a pruned ResNet with strided convs and a projection shortcut", () => {
    expect(net.layers.some((l) => l.shortcut && l.stride === 2)).toBe(true);
    expect(net.layers.some((l) => l.mask.includes(0))).toBe(true);
    expect(net.inputShape).toEqual([28, 28, 1]);
  });

  it("in evaluation (running statistics) and in training (the batch's statistics)", () => {
    const evaluation = tf.tidy(() => model.forward(x, false).dataSync());
    expect(relativeError(evaluation, reference.evaluation.flat())).toBeLessThan(1e-4);
    const training = tf.tidy(() => model.forward(x, true, []).dataSync());
    expect(relativeError(training, reference.training.flat())).toBeLessThan(1e-4);
  });

  it("the loss and its gradient with respect to every conv and linear weight", () => {
    const labels = tf.tensor1d(reference.labels, "int32");
    const weights = model.params.map((p) => p.weight);
    const { value, grads } = tf.variableGrads(() => crossEntropy(tf, model.forward(x, true, []), labels, net.classes), weights);
    expect(value.dataSync()[0]).toBeCloseTo(reference.loss, 4);
    for (const [i, p] of model.params.entries()) {
      const l = p.layer;
      // The engine's layout is [k, k, in, out]; PyTorch's [out, in, k, k].
      const g = grads[weights[i]!.name]!.dataSync() as Float32Array;
      const ours = new Float32Array(g.length);
      const k = l.kernel;
      for (let o = 0; o < l.outputs; o++)
        for (let n = 0; n < l.inputs; n++)
          for (let y = 0; y < k; y++) for (let z = 0; z < k; z++) ours[((o * l.inputs + n) * k + y) * k + z] = g[((y * k + z) * l.inputs + n) * l.outputs + o]!;
      expect(relativeError(ours, reference.gradients[l.name]!), l.name).toBeLessThan(1e-3);
    }
    tf.dispose([value, labels, ...Object.values(grads)]);
  });
});

describe("the ops that take a conv net, on a ResNet", () => {
  const PRELUDE = `let d = mnist(train: 120, test: 60, seed: 4)
let n0 = init(arch: resnet(depth: 8, width: 4), data: d, scheme: he, seed: 1)
`;

  it("train (step schedule, Nesterov), global and layer-wise pruning with every criterion, rewind, the controls, earlybird and instability", async () => {
    const rig = new Rig(`${PRELUDE}let t = train(n0, d, 2 epochs, lr: 0.1, batch: 30, optimizer: momentum, nesterov: true, weight_decay: 0.0001, schedule: step, milestones: [1 epochs])
let g = prune(t, rate: 40%, scope: global)
let l = prune(t, rate: 40%)
let s = prune(n0, rate: 40%, scope: global, criterion: snip, data: d)
let gr = prune(n0, rate: 40%, scope: global, criterion: grasp, data: d)
let sf = prune(n0, rate: 40%, scope: global, criterion: synflow)
let ticket = train(rewind(g, to: n0), d, 1 epochs, batch: 30)
let control = reinit(g, seed: 9)
let shuffled = shuffle_mask(g, seed: 9)
let eb = earlybird(n0, d, rate: 30%, max: 2 epochs, window: 2, batch: 30)
let barrier = instability(t, d, 1 epochs, batch: 30)
let distance = filter_distance(t, n0)
`);
    const run = await rig.run();
    expect(run.summary.failed, run.stderr).toBe(0);
    const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Record<string, unknown>;
    const layers = (json: Record<string, unknown>) => json["layers"] as { name: string; total: number; remaining: number }[];
    const global = layers(await show("g"));
    expect(global.map((x) => x.name)).toContain("blocks.1.shortcut");
    const all = global.reduce((a, x) => a + x.total, 0);
    const kept = global.reduce((a, x) => a + x.remaining, 0);
    expect(kept / all).toBeCloseTo(0.6, 2);
    // One ranking across layers: the shortcuts are pruned too, and not all at the same rate.
    expect(global.find((x) => x.name === "blocks.1.shortcut")!.remaining).toBeLessThan(global.find((x) => x.name === "blocks.1.shortcut")!.total);
    expect(new Set(global.map((x) => (x.remaining / x.total).toFixed(2))).size).toBeGreaterThan(1);
    for (const x of layers(await show("l"))) expect(x.remaining / x.total, x.name).toBeCloseTo(0.6, 1);
    for (const name of ["s", "gr", "sf"]) {
      const ls = layers(await show(name));
      expect(ls.reduce((a, x) => a + x.remaining, 0) / ls.reduce((a, x) => a + x.total, 0), name).toBeCloseTo(0.6, 2);
    }
    const ticket = await show("ticket");
    expect(ticket["accuracy"]).toEqual(expect.any(Number));
    expect(layers(ticket)).toEqual(global);
    expect(layers(await show("control"))).toEqual(global);
    expect(layers(await show("shuffled"))).toEqual(global);
    expect(JSON.stringify(await show("eb"))).toContain("earlybird");
    expect((await show("barrier"))["value"]).toEqual(expect.any(Number));
    expect((await show("distance"))["value"]).toEqual(expect.any(Number));
  });

  it("greedy and loft refuse it, saying why", async () => {
    const rig = new Rig(`${PRELUDE}let gr = greedy(n0, d)
let lo = loft(n0, d, 1 epochs, workers: 2)
`);
    const run = await rig.run();
    const failed = new Map(run.stages.filter((s) => s.status === "failed").map((s) => [s.id, s.message ?? ""]));
    expect(failed.get("gr")).toMatch(/greedy grows each layer .* residual blocks \(resnet\(depth: 8, width: 4\)\)/);
    expect(failed.get("lo")).toMatch(/loft partitions .* residual blocks/);
  });
});

describe("OpenLTH's CIFAR recipe on CIFAR-format files", () => {
  it("ResNet-20 with the step schedule, Nesterov momentum and crop_flip trains, prunes globally and retrains rewound", async () => {
    const rig = new Rig("");
    const dir = join(rig.dir, "cifar");
    mkdirSync(dir);
    // 40 images a batch file (200 training, 40 test), each class a colour cast over noise.
    const random = new Random(11, "resnet.test/cifar");
    for (const file of cifarFiles(dir)) {
      const labels = Array.from({ length: 40 }, () => random.int(10));
      writeFileSync(file, encodeCifarBatch(labels, (r, offset) => (random.nextU32() & 63) + 20 * ((labels[r]! + Math.floor(offset / 1024)) % 10)));
    }
    rig.write(`let data = cifar10("cifar", train: 200, test: 40)
let net0 = init(resnet(depth: 20), data, scheme: he, seed: 3)
defaults train { lr: 0.1, batch: 50, optimizer: momentum, nesterov: true, weight_decay: 0.0001, schedule: step, milestones: [2 epochs, 3 epochs], augment: crop_flip }
let early = train(net0, data, 4 epochs, stop: 1 epoch)
let dense = train(net0, data, 4 epochs)
let ticket = prune(dense, rate: 20%, scope: global) |> rewind(to: early) |> train(data, 4 epochs, start: 1 epoch)
`);
    const run = await rig.run();
    expect(run.summary.failed, run.stderr).toBe(0);
    const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { accuracy: number; weights: { total: number; remaining: number }; layers: { name: string }[] };
    const dense = await show("dense");
    const ticket = await show("ticket");
    expect(dense.weights.total).toBe(270_896);
    expect(ticket.weights.remaining).toBe(Math.round(0.8 * 270_896));
    expect(dense.layers.map((l) => l.name)).toEqual(expect.arrayContaining(["blocks.3.shortcut", "blocks.6.shortcut", "fc"]));
    // Three classes of colour cast are learnable: above chance (10%) for both.
    expect(dense.accuracy).toBeGreaterThan(0.2);
    expect(ticket.accuracy).toBeGreaterThan(0.2);
    // The same key draws the same crops, flips and batches: a second store computes the same bytes.
    const again = new Rig(readFileSync(rig.file, "utf8"));
    mkdirSync(join(again.dir, "cifar"));
    for (const file of cifarFiles(dir)) writeFileSync(join(again.dir, "cifar", file.slice(dir.length + 1)), readFileSync(file));
    const second = await again.run();
    expect(second.keys.get("ticket")).toBe(run.keys.get("ticket"));
    expect(second.stages.find((s) => s.id === "ticket")!.output).toBe(run.stages.find((s) => s.id === "ticket")!.output);
  });
});
