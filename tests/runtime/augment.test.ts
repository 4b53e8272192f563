// `augment` (seeded shifted and noised copies of the training images) and `label_noise` on
// the data ops (Nakkiran et al.'s double-descent setup), called directly; then a width sweep
// over augmented digits through the CLI.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ParamValue } from "../../compiler/stage.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import { augment, mnist, shiftImage, synthetic, withLabelNoise } from "../../runtime/ops/datasets.js";
import { bytes, ctx, opFailure } from "./nets-fixture.js";
import { Rig } from "./rig.js";

const digits = (over: Record<string, ParamValue> = {}) => mnist(ctx({ train: 100, test: 50, seed: 1, ...over }));
const grow = (d: DatasetValue, factor: number, over: Record<string, ParamValue> = {}) => augment(ctx({ factor, shift: 2, noise: 0, seed: 0, ...over }, { data: d }));
const mixture = (over: Record<string, ParamValue> = {}) => synthetic(ctx({ n: 200, features: 8, classes: 3, seed: 3, noise: 0.1, ...over }));

/** A dataset of `n` images of `h`×`w`×`c` bytes, every pixel `value`, standardised with mean 0.5 and std 0.25. */
function flat(n: number, h: number, w: number, c: number, value: number): DatasetValue {
  const x = new Uint8Array(n * h * w * c).fill(value);
  const y = Int32Array.from({ length: n }, (_, i) => i % 2);
  return { name: "flat", inputShape: [h, w, c], classes: 2, scale: 1 / 255, mean: Array(c).fill(0.5), std: Array(c).fill(0.25), train: { n, x, y }, test: { n: 2, x: x.slice(0, 2 * h * w * c), y: y.slice(0, 2) } };
}

const failure = opFailure;

describe("shiftImage", () => {
  const image = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
  const shift = (dy: number, dx: number) => Array.from(shiftImage(image, 3, 3, 1, dy, dx, new Uint8Array(9)));

  it("moves a 3×3 image down and left, zeros filling in", () => {
    // One row down, one column left: row 0 is new, the first column falls off.
    expect(shift(1, -1)).toEqual([0, 0, 0, 2, 3, 0, 5, 6, 0]);
    expect(shift(-1, 1)).toEqual([0, 4, 5, 0, 7, 8, 0, 0, 0]);
    expect(shift(0, 0)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shift(2, 2)).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(shift(3, 0)).toEqual(Array(9).fill(0));
  });

  it("moves every channel of a pixel together", () => {
    // 1×2 pixels of 2 channels: [a0 a1 | b0 b1] one column right is [0 0 | a0 a1].
    expect(Array.from(shiftImage(Uint8Array.from([1, 2, 3, 4]), 1, 2, 2, 0, 1, new Uint8Array(4)))).toEqual([0, 0, 1, 2]);
  });
});

describe("augment", () => {
  const d = digits();
  const a = grow(d, 3, { seed: 5 });

  it("grows the training set factor times, originals first and unchanged, labels copied; the test set stays", () => {
    expect(a.train.n).toBe(300);
    expect(a.train.x).toHaveLength(300 * 784);
    expect(a.train.x).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(a.train.x.subarray(0, 100 * 784)).equals(Buffer.from(d.train.x))).toBe(true);
    expect(Array.from(a.train.y)).toEqual([...d.train.y, ...d.train.y, ...d.train.y]);
    expect(a.test).toBe(d.test);
    expect([a.name, a.inputShape, a.classes, a.scale, a.mean, a.std]).toEqual([d.name, d.inputShape, d.classes, d.scale, d.mean, d.std]);
    expect(grow(d, 1)).toBe(d);
  });

  it("makes each copy a shift of its original by at most `shift` pixels per axis, not all the same", () => {
    const offsets = new Set<string>();
    for (let k = 1; k < 3; k++) {
      for (let i = 0; i < 100; i++) {
        const copy = Buffer.from(a.train.x.subarray((k * 100 + i) * 784, (k * 100 + i + 1) * 784));
        const original = d.train.x.subarray(i * 784, (i + 1) * 784);
        const found: string[] = [];
        for (let dy = -2; dy <= 2; dy++) {
          for (let dx = -2; dx <= 2; dx++) if (Buffer.from(shiftImage(original, 28, 28, 1, dy, dx, new Uint8Array(784))).equals(copy)) found.push(`${dy},${dx}`);
        }
        expect(found.length, `copy ${k} of example ${i}`).toBeGreaterThan(0);
        offsets.add(found[0]!);
      }
    }
    expect(offsets.size).toBeGreaterThan(15);
  });

  it("adds Gaussian noise of std `noise` in standardised units, stored as raw floats", () => {
    const f = flat(40, 8, 8, 1, 128);
    const noisy = grow(f, 6, { shift: 0, noise: 0.5, seed: 2 });
    expect(noisy.train.x).toBeInstanceOf(Float32Array);
    expect(Array.from(noisy.train.x.subarray(0, 40 * 64))).toEqual(Array(40 * 64).fill(128));
    const z = Array.from(noisy.train.x.subarray(40 * 64), (v) => ((v - 128) * f.scale) / f.std[0]!);
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const std = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / z.length);
    expect(z.length).toBe(5 * 40 * 64);
    expect(Math.abs(mean)).toBeLessThan(0.02);
    expect(std).toBeGreaterThan(0.48);
    expect(std).toBeLessThan(0.52);
    // Features (no shift) take noise too, in their own units.
    const m = mixture();
    const g = grow(m, 4, { shift: 0, noise: 0.3 });
    const diffs = Array.from({ length: 3 * m.train.x.length }, (_, i) => g.train.x[m.train.x.length + i]! - m.train.x[i % m.train.x.length]!);
    const s = Math.sqrt(diffs.reduce((t, v) => t + v * v, 0) / diffs.length);
    expect(s).toBeGreaterThan(0.28);
    expect(s).toBeLessThan(0.32);
  });

  it("is deterministic: the same seed gives the same bytes, another seed others", () => {
    expect(bytes(grow(d, 3, { seed: 5 })).equals(bytes(a))).toBe(true);
    expect(bytes(grow(d, 3, { seed: 5, noise: 0.2 })).equals(bytes(grow(d, 3, { seed: 5, noise: 0.2 })))).toBe(true);
    expect(bytes(grow(d, 3, { seed: 6 })).equals(bytes(a))).toBe(false);
  });

  it("refuses to shift data that are not images, naming the dataset's shape", () => {
    const e = failure(() => grow(mixture(), 2));
    expect(e.message).toMatch(/augment can shift only images/);
    expect(e.message).toMatch(/'synthetic' has examples of shape 8\b/);
    expect(e.message).toMatch(/shift: 0/);
    expect(grow(mixture(), 2, { shift: 0 }).train.n).toBe(320);
  });
});

describe("label_noise", () => {
  const clean = digits({ train: 1000, test: 200 });
  const noisy = digits({ train: 1000, test: 200, label_noise: 0.2 });

  it("changes exactly round(p × n) training labels, each to another class; images and test labels stay", () => {
    const changed = Array.from(clean.train.y.keys()).filter((i) => clean.train.y[i] !== noisy.train.y[i]);
    expect(changed).toHaveLength(200);
    expect(noisy.train.y.every((v) => v >= 0 && v < 10)).toBe(true);
    expect(Buffer.from(noisy.train.x).equals(Buffer.from(clean.train.x))).toBe(true);
    expect(Array.from(noisy.test.y)).toEqual(Array.from(clean.test.y));
    // The new classes are spread over the others, not one favourite.
    const to = new Map<number, number>();
    for (const i of changed) to.set(noisy.train.y[i]!, (to.get(noisy.train.y[i]!) ?? 0) + 1);
    expect(to.size).toBe(10);
    expect(Math.max(...to.values())).toBeLessThan(45);
    // 15% of synthetic's 160 training examples: 24.
    const m = mixture();
    const mn = mixture({ label_noise: 0.15 });
    expect(Array.from(m.train.y.keys()).filter((i) => m.train.y[i] !== mn.train.y[i])).toHaveLength(24);
    expect(Array.from(mn.test.y)).toEqual(Array.from(m.test.y));
  });

  it("at 0% is byte-identical to no parameter, and is seeded", () => {
    expect(bytes(digits({ label_noise: 0 })).equals(bytes(digits()))).toBe(true);
    expect(bytes(mixture({ label_noise: 0 })).equals(bytes(mixture()))).toBe(true);
    expect(bytes(digits({ train: 1000, test: 200, label_noise: 0.2 })).equals(bytes(noisy))).toBe(true);
    expect(bytes(withLabelNoise(0.2, 1, clean)).equals(bytes(noisy))).toBe(true);
    expect(bytes(withLabelNoise(0.2, 2, clean)).equals(bytes(noisy))).toBe(false);
  });
});

describe("a width sweep over augmented digits (lth run)", () => {
  const PIPELINE = `let d = mnist(train: 200, test: 100)
let aug = augment(d, 2)

defaults train { lr: 1e-3, batch: 50, optimizer: adam }

let nets = for w in [4, 8, 16] {
  yield train(init(mlp(hidden: [w]), aug), aug, 1 epoch)
}

report "widths" { nets }
`;

  it("trains one net per width on twice the training set, and the report plots test error against width", async () => {
    const rig = new Rig(PIPELINE);
    const run = await rig.run();
    expect(run.exitCode, run.stderr).toBe(0);
    const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Record<string, unknown>;
    expect(await show("aug")).toMatchObject({ type: "Dataset", train: 400, test: 100, inputShape: [28, 28, 1] });
    const nets = (await show("nets")) as { items: { type: string; steps: number; layers: { total: number }[] }[] };
    expect(nets.items.map((n) => [n.type, n.steps, n.layers[0]!.total])).toEqual([
      ["Net", 8, 784 * 4],
      ["Net", 8, 784 * 8],
      ["Net", 8, 784 * 16],
    ]);
    const page = `${rig.dir}/report.html`;
    expect((await rig.lth(["report", rig.file, "-o", page])).exitCode).toBe(0);
    const html = readFileSync(page, "utf8");
    expect(html).toContain("Test error against width");
    expect(html.match(/<svg/g)).toHaveLength(3);
  });
});
