// LoFT: the partitions, the slices that travel, a one-worker run that is plain training to
// the byte, and a two-worker run through the command line with its communication counted.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { decodeArtifact } from "../../runtime/artifacts.js";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import { deal, partitionedLayers, putInputs, putOutputs, takeInputs, takeOutputs } from "../../runtime/methods/loft/slices.js";
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

describe("loft through the command line", () => {
  it("with one worker is train, to the byte; with two it learns, in parallel processes, sending what it counts", async () => {
    const rig = new Rig(`let data = mnist(train: 4000, test: 500)
let net0 = init(conv4(width: 0.125), data, seed: 1)
let one = loft(net0, data, 50 steps, workers: 1, local_steps: 15)
let plain = train(net0, data, 50 steps)
let two = loft(net0, data, 2 epochs, workers: 2)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);

    const [one, plain] = [await stored(rig, "one"), await stored(rig, "plain")];
    expect(one.steps).toBe(50);
    one.layers.forEach((l, i) => {
      expect(Buffer.from(l.weight.buffer).equals(Buffer.from(plain.layers[i]!.weight.buffer)), l.name).toBe(true);
      expect(Buffer.from(l.bias!.buffer).equals(Buffer.from(plain.layers[i]!.bias!.buffer)), l.name).toBe(true);
    });

    const two = await stored(rig, "two");
    expect(two.history[two.history.length - 1]!.accuracy).toBeGreaterThan(0.6);
    const record = two.records?.loft!;
    expect(record).toMatchObject({ workers: 2, localSteps: 15, partitioned: ["conv1", "conv3"] });
    // 4,000 digits in batches of 60 make 67 batches an epoch: 134 in all, 30 per sync, so 5 syncs.
    expect(record.rounds).toBe(5);
    // Each sync: the whole net and its filter indices (4 bytes each) to both workers; back, each worker's
    // slices (together one copy of conv1, conv3 and the weights of conv2 and conv4), its own copy of
    // everything else, and its losses (8 bytes a batch: 134 batches in all).
    const P = two.layers.reduce((n, l) => n + bytes(l), 0);
    const S = bytes(two.layers[0]!) + two.layers[1]!.weight.byteLength + bytes(two.layers[2]!) + two.layers[3]!.weight.byteLength;
    const filters = two.layers[0]!.outputs + two.layers[2]!.outputs;
    expect(record.bytesExchanged).toBe(5 * (2 * P + 4 * filters + S + 2 * (P - S)) + 8 * 134);
    expect(record.dataParallelBytes).toBe(67 * 2 * 2 * P);
    expect(record.bytesExchanged).toBeLessThan(record.dataParallelBytes / 4);
  });
});
