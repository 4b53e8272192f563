// The pruning testbed through the command line, as a researcher's file uses it: every new op
// in one pipeline, on an MLP and on a conv net, with the sparsity each must leave and the
// accuracy it must reach.

import { describe, expect, it } from "vitest";
import { Rig } from "./rig.js";

interface Shown {
  accuracy: number;
  weights: { total: number; remaining: number };
  greedy?: { layers: { name: string; kept: number; total: number }[] };
}

describe("the pruning testbed on MNIST digits", () => {
  it("SNIP, SynFlow and GMP at 90% leave 10% of the weights and train past 60% in two epochs; instability is an error difference, 0 for one data order", async () => {
    const rig = new Rig(`let data = mnist(train: 2000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 1)
defaults train { lr: 1.2e-3, optimizer: adam }
let snip = prune(net0, 90%, criterion: snip, data: data) |> train(data, 2 epochs)
let synflow = prune(net0, 90%, criterion: synflow) |> train(data, 2 epochs)
let grasp = prune(net0, 90%, criterion: grasp, data: data) |> train(data, 2 epochs)
let gradual = gmp(net0, data, 2 epochs, final: 90%, lr: 1.2e-3, optimizer: adam)
let feedback = dpf(net0, data, 2 epochs, final: 90%, lr: 1.2e-3, optimizer: adam)
let barrier = instability(net0, data, 1 epoch)
let same = instability(net0, data, 50 steps, seed_a: 3, seed_b: 3)
`);
    const r = await rig.run();
    expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ["snip", "synflow", "grasp", "gradual", "feedback"]) {
      const shown = JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Shown;
      expect(shown.weights.remaining / shown.weights.total, name).toBeCloseTo(0.1, 2);
      expect(shown.accuracy, name).toBeGreaterThan(0.6);
    }
    const shownNumber = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { type: string; value: number };
    const barrier = await shownNumber("barrier");
    expect(barrier.type).toBe("Number");
    // Test errors on 500 images are multiples of 1/500, so the barrier, a maximum error less the
    // mean of two, is a multiple of 1/1000 (a loss or an accuracy would not be).
    expect(Math.abs(barrier.value * 1000 - Math.round(barrier.value * 1000))).toBeLessThan(1e-6);
    expect(barrier.value).toBeLessThan(1);
    // Two copies trained on the same data order are the same net: no barrier at all.
    expect(await shownNumber("same")).toMatchObject({ type: "Number", value: 0 });
    // The saliency prunes ran in workers (they need gradients), on the backend the run chose
    // and announced (wasm here, tensorflow where tfjs-node loads); the data op needs none.
    const chosen = r.lines.find((l) => l["type"] === "backend")?.["backend"];
    expect(typeof chosen).toBe("string");
    expect(r.stages.find((s) => s.id === "snip/prune")?.backend).toBe(chosen);
    expect(r.stages.find((s) => s.id === "data")?.backend).toBeNull();
  });

  it("every new op runs on a conv net too", async () => {
    const rig = new Rig(`let data = mnist(train: 300, test: 100)
let net0 = init(conv2(width: 0.125), data, seed: 1)
let trained = train(net0, data, 1 epoch, lr: 1e-3, optimizer: adam)
let snip = prune(net0, 80%, criterion: snip, data: data)
let grasp = prune(net0, 80%, criterion: grasp, data: data)
let synflow = prune(net0, 80%, criterion: synflow)
let gradual = gmp(net0, data, 1 epoch, final: 80%)
let feedback = dpf(net0, data, 1 epoch, final: 80%, every: 2 steps)
let learned = supermask(net0, data, 1 epoch, 50%)
let chosen = greedy(trained, data, tolerance: 20%, candidates: 4, eval: 100)
let barrier = instability(net0, data, 1 epoch)
`);
    const r = await rig.run();
    expect(r.exitCode, r.stderr).toBe(0);
    for (const name of ["snip", "grasp", "synflow", "gradual", "feedback"]) {
      const shown = JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Shown;
      // 80% of every layer (layerwise, the output layer at output_rate = rate too), or of all weights (dpf's global).
      expect(shown.weights.remaining / shown.weights.total, name).toBeCloseTo(0.2, 2);
    }
    const learned = JSON.parse((await rig.lth(["show", rig.file, "learned", "--json"])).stdout) as Shown;
    expect(learned.weights.remaining / learned.weights.total).toBeCloseTo(0.5, 2);
    const chosen = JSON.parse((await rig.lth(["show", rig.file, "chosen", "--json"])).stdout) as Shown;
    expect(chosen.greedy!.layers.map((l) => l.name)).toEqual(["conv1", "conv2", "fc1", "fc2"]);
    for (const l of chosen.greedy!.layers) expect(l.kept).toBeGreaterThan(0);
  });
});
