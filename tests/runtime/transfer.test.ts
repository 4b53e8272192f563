// `transfer` (Morcos et al. 2019): a ticket moved to another dataset keeps every layer the new
// data leaves the same shape, and draws afresh the ones it changes: the output layer for
// another class count, an input layer for another input size.

import { describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import type { NetValue } from "../../runtime/core/net.js";
import { init, transfer } from "../../runtime/methods/nets.js";
import { prune } from "../../runtime/methods/pruning.js";
import { mnist, synthetic } from "../../runtime/ops/datasets.js";
import { ctx, opFailure } from "./nets-fixture.js";
import { Rig } from "./rig.js";

const digits = mnist(ctx({ train: 60, test: 20, seed: 1 }));
/** `n` random 32×32×3 images in `classes` classes, CIFAR's shape. */
function colour(n: number, classes: number): DatasetValue {
  const x = Uint8Array.from({ length: n * 32 * 32 * 3 }, (_, i) => (i * 37) % 251);
  const y = Int32Array.from({ length: n }, (_, i) => i % classes);
  return { name: "colour", inputShape: [32, 32, 3], classes, scale: 1 / 255, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], train: { n, x, y }, test: { n, x, y } };
}
const ticket = (arch: { [key: string]: ParamValue }): NetValue =>
  prune(ctx({ rate: 0.8, output_rate: 0.4, scope: "layerwise", criterion: "magnitude", seed: 0 }, { net: init(ctx({ arch, scheme: "glorot", seed: 3 }, { data: digits })) }));
const same = (a: Float32Array | Uint8Array, b: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe("transfer", () => {
  it("keeps an MLP's layers for flat inputs of the same size, and redraws the output layer for another class count", () => {
    const t = ticket({ arch: "mlp", hidden: [32, 16] });
    const target = synthetic(ctx({ n: 50, features: 784, classes: 3, seed: 1, noise: 0.1 }));
    const moved = transfer(ctx({ seed: 5 }, { net: t, data: target }));
    expect(moved.inputShape).toEqual([784]);
    expect(moved.classes).toBe(3);
    // A flat 784 and a 28×28×1 image are one input to an MLP: fc1 and fc2 keep weights and mask.
    for (const i of [0, 1]) {
      expect(same(moved.layers[i]!.weight, t.layers[i]!.weight)).toBe(true);
      expect(same(moved.layers[i]!.mask, t.layers[i]!.mask)).toBe(true);
    }
    const out = moved.layers[2]!;
    expect([out.inputs, out.outputs]).toEqual([16, 3]);
    expect([...out.mask].every((m) => m === 1)).toBe(true);
    expect([...out.bias!].every((b) => b === 0)).toBe(true);
    // Drawn from the seed: the same again, another seed other weights, Glorot's range.
    expect(same(transfer(ctx({ seed: 5 }, { net: t, data: target })).layers[2]!.weight, out.weight)).toBe(true);
    expect(same(transfer(ctx({ seed: 6 }, { net: t, data: target })).layers[2]!.weight, out.weight)).toBe(false);
    expect(Math.max(...[...out.weight].map(Math.abs))).toBeLessThanOrEqual(Math.sqrt(6 / (16 + 3)));
    // A new lineage (its layers are not the initialisation's); no history or measurement carried over.
    expect(moved.init).not.toBe(t.init);
    expect(moved.history).toEqual([]);
    expect(moved.measured).toBeUndefined();
  });

  it("keeps every layer, lineage included, when the new data has the same shape and classes", () => {
    const t = ticket({ arch: "mlp", hidden: [32] });
    const other = mnist(ctx({ train: 40, test: 20, seed: 2 }));
    const moved = transfer(ctx({ seed: 5 }, { net: t, data: other }));
    moved.layers.forEach((l, i) => expect(same(l.weight, t.layers[i]!.weight) && same(l.mask, t.layers[i]!.mask)).toBe(true));
    expect(moved.init).toBe(t.init);
  });

  it("redraws a conv net's first conv for another channel count and its first dense layer for another image size", () => {
    const t = ticket({ arch: "conv2", width: 0.125 });
    const moved = transfer(ctx({ seed: 1 }, { net: t, data: colour(4, 10) }));
    const shapes = moved.layers.map((l) => [l.name, l.inputs, l.outputs]);
    expect(shapes).toEqual([["conv1", 3, 8], ["conv2", 8, 8], ["fc1", 16 * 16 * 8, 256], ["fc2", 256, 256], ["fc3", 256, 10]]);
    // conv2, fc2, fc3 keep the ticket's weights and masks; conv1 and fc1 are drawn afresh, all alive.
    for (const i of [1, 3, 4]) expect(same(moved.layers[i]!.weight, t.layers[i]!.weight) && same(moved.layers[i]!.mask, t.layers[i]!.mask)).toBe(true);
    for (const i of [0, 2]) expect([...moved.layers[i]!.mask].every((m) => m === 1)).toBe(true);
  });

  it("refuses a net whose architecture cannot take the new data, saying why", () => {
    const t = ticket({ arch: "conv2", width: 0.125 });
    const flat = synthetic(ctx({ n: 20, features: 784, classes: 10, seed: 1, noise: 0.1 }));
    expect(opFailure(() => transfer(ctx({ seed: 1 }, { net: t, data: flat }))).message).toContain("transfer: conv2 needs images");
  });

  it("trains the moved ticket through the command line", async () => {
    const rig = new Rig(`let source = mnist(train: 300, test: 100, seed: 1)
let target = synthetic(n: 300, features: 784, classes: 3, seed: 2)
let net0 = init(mlp(hidden: [32]), source, seed: 1)
let ticket = train(net0, source, 2 epochs) |> prune(50%) |> rewind(to: net0)
let moved = transfer(ticket, target, seed: 4) |> train(target, 3 epochs)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const shown = JSON.parse((await rig.lth(["show", rig.file, "moved", "--json"])).stdout) as { accuracy: number; layers: { name: string; total: number; remaining: number }[] };
    expect(shown.accuracy).toBeGreaterThan(0.6);
    expect(shown.layers.map((l) => [l.name, l.total, l.remaining])).toEqual([["fc1", 784 * 32, 784 * 16], ["fc2", 96, 96]]);
  });
});
