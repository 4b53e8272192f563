// LoFT: the partitions, the slices that travel, a one-worker run that is plain training to
// the byte, and a two-worker run through the command line with its communication counted.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeArtifact } from "../../runtime/artifacts.js";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import { deal, dealtTo, partitionedLayers, putInputs, putOutputs, subnetwork, takeInputs, takeOutputs } from "../../runtime/methods/loft/slices.js";
import { netCost } from "../../runtime/core/cost.js";
import { Rig } from "./rig.js";

describe("LoFT's partitions", () => {
  it("partition the first conv of each pair of convs, and nothing in an MLP", () => {
    const kinds = (ks: string) => [...ks].map((k) => ({ kind: k === "c" ? ("conv" as const) : ("dense" as const) }));
    expect(partitionedLayers(kinds("ccccddd"))).toEqual([0, 2]);
    expect(partitionedLayers(kinds("ccccccddd"))).toEqual([0, 2, 4]);
    expect(partitionedLayers(kinds("ccddd"))).toEqual([0]);
    expect(partitionedLayers(kinds("cddd"))).toEqual([]);
    expect(partitionedLayers(kinds("ddd"))).toEqual([]);
  });

  it("deal every filter to exactly one worker at every sync, a fresh shuffle each time, the same on every run", () => {
    const seen = new Set<string>();
    for (let round = 0; round < 20; round++) {
      const parts = deal(10, 3, 7, round, 0);
      expect(parts.map((p) => p.length)).toEqual([4, 3, 3]);
      expect([...parts.flatMap((p) => [...p])].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      expect(deal(10, 3, 7, round, 0)).toEqual(parts);
      seen.add(JSON.stringify(parts.map((p) => [...p])));
    }
    expect(seen.size).toBeGreaterThan(15);
    expect(deal(5, 1, 0, 0, 2)[0]!.length).toBe(5);
  });

  it("cut a filter's rows and the next layer's input channels out and put them back where they were", () => {
    const l = { outputs: 3, inputs: 4, kernel: 2 };
    const weight = Float32Array.from({ length: 3 * 4 * 4 }, (_, i) => i);
    const rows = takeOutputs(weight, 16, Int32Array.from([2, 0]));
    expect([...rows.subarray(0, 16)]).toEqual([...weight.subarray(32, 48)]);
    expect([...rows.subarray(16)]).toEqual([...weight.subarray(0, 16)]);
    const cols = takeInputs(weight, l, Int32Array.from([1, 3]));
    // Output 0, input 1 is weights 4..7; output 0, input 3 is 12..15; output 1 starts at 16.
    expect([...cols.subarray(0, 8)]).toEqual([4, 5, 6, 7, 12, 13, 14, 15]);
    expect(cols.length).toBe(3 * 2 * 4);
    const back = new Float32Array(weight.length);
    putOutputs(back, 16, Int32Array.from([2, 0]), rows);
    putInputs(back, l, Int32Array.from([1, 3]), cols);
    back.forEach((x, i) => {
      const [o, c] = [Math.floor(i / 16), Math.floor(i / 4) % 4];
      expect(x).toBe(o === 0 || o === 2 || c === 1 || c === 3 ? weight[i] : 0);
    });
  });
});

/** The net a stage computed, read from the store. */
async function stored(rig: Rig, name: string): Promise<NetValue> {
  const shown = JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { artifact: string };
  return (decodeArtifact("Net", readFileSync(shown.artifact), shown.artifact) as { net: NetValue }).net;
}

const bytes = (l: Layer) => l.weight.byteLength + (l.bias?.byteLength ?? 0);

describe("LoFT's sub-networks", () => {
  const layer = (name: string, kind: "conv" | "dense", inputs: number, outputs: number, kernel: number, norm = false): Layer => {
    const n = outputs * inputs * kernel * kernel;
    const vec = (f: (i: number) => number) => Float32Array.from({ length: outputs }, (_, i) => f(i));
    return {
      name, kind, inputs, outputs, kernel, activation: "relu", pool: false,
      weight: Float32Array.from({ length: n }, (_, i) => i),
      mask: Uint8Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1)),
      ...(norm ? { norm: { gamma: vec((i) => i), beta: vec((i) => -i), mean: vec((i) => 10 + i), variance: vec((i) => 20 + i) } } : { bias: vec((i) => 100 + i) }),
    };
  };

  it("cut each partitioned layer to its filters and the next layer to the matching inputs, masks and batch norm with them", () => {
    const layers = [layer("conv1", "conv", 3, 4, 3, true), layer("conv2", "conv", 4, 5, 3), layer("fc", "dense", 20, 2, 1)];
    const sub = subnetwork(layers, { 0: Int32Array.from([1, 3]) });
    expect(sub.map((l) => [l.inputs, l.outputs])).toEqual([[3, 2], [2, 5], [20, 2]]);
    const per = 3 * 9;
    expect([...sub[0]!.weight]).toEqual([...layers[0]!.weight.subarray(per, 2 * per), ...layers[0]!.weight.subarray(3 * per, 4 * per)]);
    expect([...sub[0]!.mask]).toEqual([...layers[0]!.mask.subarray(per, 2 * per), ...layers[0]!.mask.subarray(3 * per, 4 * per)]);
    expect(sub[0]!.mask).toBeInstanceOf(Uint8Array);
    expect([...sub[0]!.norm!.gamma]).toEqual([1, 3]);
    expect([...sub[0]!.norm!.variance]).toEqual([21, 23]);
    // conv2's filter o reads input channels 1 and 3 only.
    for (let o = 0; o < 5; o++)
      for (const [j, c] of [1, 3].entries())
        for (let k = 0; k < 9; k++) {
          expect(sub[1]!.weight[(o * 2 + j) * 9 + k]).toBe(layers[1]!.weight[(o * 4 + c) * 9 + k]);
          expect(sub[1]!.mask[(o * 2 + j) * 9 + k]).toBe(layers[1]!.mask[(o * 4 + c) * 9 + k]);
        }
    expect(sub[1]!.bias).toBe(layers[1]!.bias);
    expect(sub[2]).toBe(layers[2]);
    // One worker's slice is every filter: its sub-network is the net.
    const whole = subnetwork(layers, { 0: deal(4, 1, 0, 0, 0)[0]! });
    whole.forEach((l, i) => expect([...l.weight]).toEqual([...layers[i]!.weight]));
    expect([0, 1, 2].map((w) => dealtTo(10, 3, w))).toEqual([4, 3, 3]);
  });

  it("count what the full net and a narrower one hold and compute, from their shapes", () => {
    // conv 3→8 on 8×8 (pooled to 4×4), conv 8→8, dense 128→10.
    const net = { inputShape: [8, 8, 3], layers: [{ ...layer("c1", "conv", 3, 8, 3), pool: true }, layer("c2", "conv", 8, 8, 3), layer("fc", "dense", 128, 10, 1)] };
    const c = netCost(net, 2);
    expect(c.layers.map((l) => l.forward)).toEqual([8 * 8 * 8 * 3 * 9, 4 * 4 * 8 * 8 * 9, 128 * 10]);
    expect(c.forward).toBe(8 * 8 * 8 * 27 + 16 * 576 + 1280);
    // The first layer needs no gradient of its input.
    expect(c.flopsPerStep).toBe(2 * (2 * 8 * 8 * 8 * 27 + 3 * 16 * 576 + 3 * 1280));
    expect(c.weights).toBe(8 * 27 + 8 + 8 * 72 + 8 + 1280 + 10);
    expect(c.activationBytes).toBe(4 * 2 * (8 * 8 * 3 + 8 * 8 * 8 + 4 * 4 * 8 + 4 * 4 * 8 + 10));
    // Half the filters of c1: c1 and c2's compute halves, fc's stays.
    const half = netCost({ ...net, layers: [{ ...net.layers[0]!, outputs: 4 }, { ...net.layers[1]!, inputs: 4 }, net.layers[2]!] }, 2);
    expect(half.layers[0]!.flopsPerStep * 2).toBe(c.layers[0]!.flopsPerStep);
    expect(half.layers[1]!.flopsPerStep * 2).toBe(c.layers[1]!.flopsPerStep);
    expect(half.layers[2]!.flopsPerStep).toBe(c.layers[2]!.flopsPerStep);
  });
});

describe("loft through the command line", () => {
  it("with one worker is train, to the byte (momentum and weight decay too); with two it learns on sub-networks in parallel processes, sending and counting what it says", async () => {
    const rig = new Rig(`let data = mnist(train: 4000, test: 500)
let net0 = init(conv4(width: 0.125), data, seed: 1)
let one = loft(net0, data, 50 steps, workers: 1, local_steps: 15, optimizer: momentum, lr: 0.01, weight_decay: 0.0001, schedule: cosine)
let one_default = loft(net0, data, 50 steps, workers: 1)
let plain_default = train(net0, data, 50 steps)
let plain = train(net0, data, 50 steps, optimizer: momentum, lr: 0.01, weight_decay: 0.0001, schedule: cosine)
let two = loft(net0, data, 4 epochs, workers: 2, optimizer: sgd, lr: 0.1, weight_decay: 0)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);

    for (const [a, b] of [["one", "plain"], ["one_default", "plain_default"]] as const) {
      const [one, plain] = [await stored(rig, a), await stored(rig, b)];
      expect(one.steps).toBe(50);
      one.layers.forEach((l, i) => {
        expect(Buffer.from(l.weight.buffer).equals(Buffer.from(plain.layers[i]!.weight.buffer)), `${a} ${l.name}`).toBe(true);
        expect(Buffer.from(l.bias!.buffer).equals(Buffer.from(plain.layers[i]!.bias!.buffer)), `${a} ${l.name}`).toBe(true);
      });
    }

    const two = await stored(rig, "two");
    expect(two.history[two.history.length - 1]!.accuracy).toBeGreaterThan(0.6);
    const record = two.records?.loft!;
    expect(record).toMatchObject({ workers: 2, localSteps: 15, partitioned: ["conv1", "conv3"] });
    // 4,000 digits in batches of 60 make 67 batches an epoch: 268 in all, 30 per sync, so 9 syncs.
    expect(record.rounds).toBe(9);
    // Each sync, to each worker and back: its sub-network (together one copy of conv1, conv3 and the
    // weights of conv2 and conv4, and each its own copy of everything else); out also its filter
    // indices (4 bytes each); back also its losses (8 bytes a batch: 268 batches in all).
    const P = two.layers.reduce((n, l) => n + bytes(l), 0);
    const S = bytes(two.layers[0]!) + two.layers[1]!.weight.byteLength + bytes(two.layers[2]!) + two.layers[3]!.weight.byteLength;
    const filters = two.layers[0]!.outputs + two.layers[2]!.outputs;
    expect(record.bytesExchanged).toBe(9 * (2 * (S + 2 * (P - S)) + 4 * filters) + 8 * 268);
    expect(record.dataParallelBytes).toBe(134 * 2 * 2 * P);
    expect(record.bytesExchanged).toBeLessThan(record.dataParallelBytes / 4);

    // Each worker holds half of conv1's and conv3's filters and half of conv2's and conv4's inputs.
    expect(record.perWorker).toHaveLength(2);
    const byName = (c: typeof record.full) => Object.fromEntries(c.layers.map((l) => [l.name, l]));
    const [full, w1, w2] = [byName(record.full), byName(record.perWorker[0]!), byName(record.perWorker[1]!)];
    for (const name of ["conv1", "conv2", "conv3", "conv4"]) {
      expect(w1[name]!.flopsPerStep * 2, name).toBe(full[name]!.flopsPerStep);
      expect(w1[name]!.flopsPerStep, name).toBe(w2[name]!.flopsPerStep);
    }
    expect(w1["conv1"]!.weights * 2).toBe(full["conv1"]!.weights);
    expect(w1["conv1"]!.activationBytes * 2).toBe(full["conv1"]!.activationBytes);
    expect(w1["fc1"]).toEqual(full["fc1"]);
    expect(record.perWorker[0]!.weights).toBeLessThan(record.full.weights);
    expect(record.perWorker[0]!.flopsPerStep).toBeLessThan(record.full.flopsPerStep);
    // The full net's count is its stored parameters'.
    expect(record.full.weights).toBe(two.layers.reduce((n, l) => n + l.weight.length + (l.bias?.length ?? 0) + 2 * (l.norm?.gamma.length ?? 0), 0));

    const shown = JSON.parse((await rig.lth(["show", rig.file, "two", "--json"])).stdout) as { loft: { full: { weights: number }; perWorker: { flopsPerStep: number }[] } };
    expect(shown.loft.full.weights).toBe(record.full.weights);
    expect(shown.loft.perWorker[1]!.flopsPerStep).toBe(record.perWorker[1]!.flopsPerStep);
    const text = (await rig.lth(["show", rig.file, "two"])).stdout;
    expect(text).toMatch(/worker 2: [\d.]+ K weights \(\d+%\), [\d.]+ [kM]B of activations \(\d+%\), [\d.]+ M multiply-adds \(\d+%\)/);

    // The filter distance between successive syncs: one for each sync after the first, in [0, 1].
    expect(record.keep).toBe(0.5);
    expect(record.distances).toHaveLength(8);
    for (const d of record.distances) expect(d >= 0 && d <= 1).toBe(true);

    // A stop condition the same run meets first after sync 3 (its distances after syncs 2 and 3 both
    // under it) ends pretraining there: the same syncs up to it, then an evaluation, recorded.
    const until = Math.max(record.distances[0]!, record.distances[1]!) + 1e-9;
    rig.write(`let data = mnist(train: 4000, test: 500)
let net0 = init(conv4(width: 0.125), data, seed: 1)
let early = loft(net0, data, 4 epochs, workers: 2, optimizer: sgd, lr: 0.1, weight_decay: 0, until: ${until}, window: 2)
`);
    expect((await rig.run(["--jobs", "1"])).exitCode).toBe(0);
    const early = await stored(rig, "early");
    const stop = early.records?.loft!;
    expect(stop.stopped).toEqual({ sync: 3, step: 45, epoch: 90 / 67 });
    expect(stop).toMatchObject({ until, window: 2, epochs: 4, rounds: 3 });
    expect(stop.distances).toEqual(record.distances.slice(0, 2));
    expect(early.steps).toBe(45);
    expect(early.history[early.history.length - 1]!.epoch).toBeCloseTo(90 / 67, 10);
    expect(stop.bytesExchanged).toBeLessThan(record.bytesExchanged / 2);
    expect((await rig.lth(["show", rig.file, "early"])).stdout).toContain(`stopped at sync 3, epoch 1.34 of 4 (2.66 epochs saved)`);

    // The report lists what LoFT recorded and draws the distances, the stop and the threshold.
    const page = join(rig.dir, "report.html");
    expect((await rig.lth(["report", rig.file, "-o", page])).exitCode).toBe(0);
    const html = readFileSync(page, "utf8");
    expect(html).toContain("LoFT: filter distance to the previous sync");
    expect(html).toContain("stopped at sync 3, epoch 1.34 of 4 (2.66 epochs saved)");
    expect(html).toMatch(/worker 2: [\d.]+ K weights/);
  });
});
