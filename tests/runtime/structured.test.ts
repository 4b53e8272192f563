// Structured pruning (whole filters by L1 norm or batch-norm scale), `compact` (the smaller
// dense net, computing what the masked one did), and every net's multiply-adds.

import { describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { NetValue } from "../../runtime/core/net.js";
import { netFlops } from "../../runtime/core/cost.js";
import { init } from "../../runtime/methods/nets.js";
import { prune } from "../../runtime/methods/pruning.js";
import { compact, pruneFilters } from "../../runtime/methods/structured.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { testMetrics } from "../../runtime/engine/train.js";
import { mnist } from "../../runtime/ops/datasets.js";
import { ctx, opFailure } from "./nets-fixture.js";
import { Rig } from "./rig.js";

const digits = mnist(ctx({ train: 60, test: 40, seed: 1 }));
const built = (arch: { [key: string]: ParamValue }, seed = 1): NetValue => init(ctx({ arch, scheme: "glorot", seed }, { data: digits }));
const l1Norms = (net: NetValue, i: number) => {
  const l = net.layers[i]!;
  const per = l.inputs * l.kernel * l.kernel;
  return Array.from({ length: l.outputs }, (_, f) => l.weight.subarray(f * per, (f + 1) * per).reduce((s, w) => s + Math.abs(w), 0));
};
const masked = (net: NetValue, i: number) => [...(net.layers[i]!.channels ?? [])].flatMap((c, j) => (c ? [] : [j]));

describe("prune(…, structure: filter)", () => {
  it("removes each conv layer's filters of smallest L1 norm, with their bias, and nothing of the dense layers", () => {
    const net = built({ arch: "conv2", width: 0.125 });
    const pruned = pruneFilters(net, 0.5, "layerwise", "l1");
    for (const i of [0, 1]) {
      const norms = l1Norms(net, i);
      const expected = norms.map((n, j) => [n, j] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]).slice(0, 4).map(([, j]) => j).sort((a, b) => a - b);
      expect(masked(pruned, i)).toEqual(expected);
      const l = pruned.layers[i]!;
      const per = l.inputs * 9;
      for (const f of expected) {
        expect([...l.weight.subarray(f * per, (f + 1) * per)].every((w) => w === 0)).toBe(true);
        expect(l.bias![f]).toBe(0);
      }
    }
    expect(pruned.layers.slice(2).every((l, i) => l === net.layers[i + 2])).toBe(true);
    // Through prune's parameters, the same.
    const viaPrune = prune(ctx({ rate: 0.5, output_rate: 0.5, scope: "layerwise", criterion: "magnitude", seed: 0, structure: "filter", score: "l1" }, { net }));
    expect(masked(viaPrune, 0)).toEqual(masked(pruned, 0));
  });

  it("ranks by |γ| under one global threshold (network slimming), every layer keeping a filter", () => {
    const net = built({ arch: "vgg", depth: 11, width: 0.0625 });
    // γ of each channel: distinct values, layer 0's all smallest.
    const layers = net.layers.map((l, i) => (l.norm ? { ...l, norm: { ...l.norm, gamma: Float32Array.from({ length: l.outputs }, (_, c) => (i === 0 ? -0.001 * (c + 1) : 0.1 * (i + 1) + 0.001 * c)) } } : l));
    const pruned = pruneFilters({ ...net, layers }, 0.3, "global", "bn_scale");
    // Layer 0 has the smallest scales but keeps its largest |γ|; the rest come from the next smallest layers.
    expect(masked(pruned, 0)).toEqual([0, 1, 2]);
    const total = layers.filter((l) => l.kind === "conv").reduce((n, l) => n + l.outputs, 0);
    const gone = pruned.layers.reduce((n, _, i) => n + masked(pruned, i).length, 0);
    expect(gone).toBe(Math.round(0.3 * total));
    expect(opFailure(() => pruneFilters(built({ arch: "conv2", width: 0.125 }), 0.5, "layerwise", "bn_scale")).message).toContain("needs batch norm");
    expect(opFailure(() => pruneFilters(built({ arch: "mlp", hidden: [8] }), 0.5, "layerwise", "l1")).message).toContain("no conv layer");
  });
});

describe("compact", () => {
  it("builds the smaller net, which computes what the masked one did, its multiply-adds the masked one's remaining", async () => {
    const engine = await loadEngine("cpu");
    for (const arch of [{ arch: "conv2", width: 0.125 }, { arch: "vgg", depth: 11, width: 0.0625 }] as { [key: string]: ParamValue }[]) {
      const net = built(arch);
      const pruned = pruneFilters(net, 0.5, "layerwise", "l1");
      const small = compact(pruned);
      expect(small.layers.every((l) => !l.channels || l.channels.every((c) => c === 1))).toBe(true);
      expect(small.layers[0]!.outputs).toBe(net.layers[0]!.outputs - masked(pruned, 0).length);
      const [a, b] = [testMetrics(engine, pruned, digits), testMetrics(engine, small, digits)];
      expect(b.loss).toBeCloseTo(a.loss, 5);
      expect(b.accuracy).toBe(a.accuracy);
      const [before, after] = [netFlops(pruned), netFlops(small)];
      expect(after.total).toBe(before.remaining);
      expect(after.remaining).toBe(after.total);
      expect(after.total).toBeLessThan(before.total);
    }
  });

  it("counts a weight-pruned net's multiply-adds by hand", () => {
    const net = built({ arch: "mlp", hidden: [10] });
    expect(netFlops(net)).toEqual({ total: 784 * 10 + 10 * 10, remaining: 784 * 10 + 10 * 10 });
    const pruned = prune(ctx({ rate: 0.5, output_rate: 0.2, scope: "layerwise", criterion: "magnitude", seed: 0 }, { net }));
    expect(netFlops(pruned).remaining).toBe(3920 + 80);
    // A conv's weight is used at every output position: 28×28 for conv2's first layer.
    const conv = built({ arch: "conv2", width: 0.125 });
    expect(netFlops(conv).total).toBe(28 * 28 * 8 * 9 + 28 * 28 * 8 * 8 * 9 + 14 * 14 * 8 * 256 + 256 * 256 + 256 * 10);
  });

  it("refuses channels whose output a shortcut reads", () => {
    const net = built({ arch: "resnet", depth: 8, width: 4 });
    const stem = net.layers[0]!;
    const layers = net.layers.map((l, i) => (i === 0 ? { ...stem, channels: Uint8Array.from({ length: stem.outputs }, (_, c) => (c === 0 ? 0 : 1)) } : l));
    expect(opFailure(() => compact({ ...net, layers })).message).toContain("feeds a shortcut");
  });
});

describe("structured pruning through the command line", () => {
  it("prunes filters, compacts, shows multiply-adds, and trains the compacted architecture from fresh weights (Scratch-E)", async () => {
    const rig = new Rig(`let data = mnist(train: 300, test: 100, seed: 1)
let net0 = init(conv2(width: 0.25), data, seed: 1)
let trained = train(net0, data, 1 epoch)
let slim = prune(trained, 50%, structure: filter)
let small = compact(slim) |> train(data, 1 epoch)
let scratch = reinit(compact(slim), seed: 2) |> train(data, 1 epoch)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { flops: { total: number; remaining: number }; layers: { name: string; total: number }[]; accuracy: number };
    const [slim, small, scratch] = [await show("slim"), await show("small"), await show("scratch")];
    expect(small.flops.total).toBe(slim.flops.remaining);
    expect(slim.flops.remaining).toBeLessThan(slim.flops.total);
    expect(scratch.layers.map((l) => l.total)).toEqual(small.layers.map((l) => l.total));
    expect(small.layers[0]!.total).toBe(8 * 9);
    expect(scratch.accuracy).toBeGreaterThan(0.2);
    expect((await rig.lth(["show", rig.file, "slim"])).stdout).toMatch(/multiply-adds a forward pass: [\d,]+ of [\d,]+ \([\d.]+%; [\d.]+× fewer\)/);
  });
});
