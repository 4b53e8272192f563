// filter_distance on hand-built conv nets: per conv layer, one minus the overlap of the
// k = max(1, round(keep × C)) filters of largest L2 norm each net keeps, weighted by C.

import { describe, expect, it } from "vitest";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import { OpFailure } from "../../runtime/core/errors.js";
import { mnist } from "../../runtime/ops/datasets.js";
import { filterDistance } from "../../runtime/methods/distances.js";
import { init } from "../../runtime/methods/nets.js";
import { Random } from "../../runtime/core/random.js";
import { ctx, data, net } from "./nets-fixture.js";

const KERNEL = 3;

/** A conv layer whose filter f has every weight equal to values[f] (so its norm is 3·|values[f]|). */
function conv(name: string, values: readonly number[], inputs = 2, over: Partial<Pick<Layer, "mask" | "channels">> = {}): Layer {
  const size = inputs * KERNEL * KERNEL;
  const weight = new Float32Array(values.length * size);
  values.forEach((v, f) => weight.fill(v, f * size, (f + 1) * size));
  const mask = over.mask ?? new Uint8Array(weight.length).fill(1);
  for (let j = 0; j < weight.length; j++) if (!mask[j]) weight[j] = 0;
  return {
    name,
    kind: "conv",
    inputs,
    outputs: values.length,
    kernel: KERNEL,
    activation: "relu",
    pool: false,
    weight,
    mask,
    bias: new Float32Array(values.length),
    ...(over.channels ? { channels: over.channels } : {}),
  };
}

function dense(inputs: number, outputs: number): Layer {
  return {
    name: "fc1",
    kind: "dense",
    inputs,
    outputs,
    kernel: 1,
    activation: "none",
    pool: false,
    weight: new Float32Array(inputs * outputs).fill(0.1),
    mask: new Uint8Array(inputs * outputs).fill(1),
    bias: new Float32Array(outputs),
  };
}

/** A conv net of these conv layers and one dense head. */
function convNet(...convs: Layer[]): NetValue {
  const last = convs[convs.length - 1]!;
  return {
    arch: { arch: "conv2", width: 1 },
    scheme: "glorot",
    inputShape: [4, 4, convs[0]!.inputs],
    classes: 2,
    head: "flatten",
    layers: [...convs, dense(last.outputs * 16, 2)],
    init: "test",
    steps: 0,
    history: [],
  };
}

const distance = (a: NetValue, b: NetValue, keep = 0.5) => filterDistance(ctx({ keep }, { a, b }));

/**
 * The definition computed another way, for random nets: filter f is kept when fewer than k
 * filters beat it (a larger norm, or the same norm and a lower index), counted pair by pair
 * instead of sorted.
 */
function byDefinition(a: NetValue, b: NetValue, keep: number): number {
  const convsA = a.layers.filter((l) => l.kind === "conv");
  const convsB = b.layers.filter((l) => l.kind === "conv");
  const keptSet = (l: Layer, k: number): boolean[] => {
    const size = l.inputs * l.kernel * l.kernel;
    const norm = (f: number) => (l.channels?.[f] === 0 ? 0 : l.weight.slice(f * size, (f + 1) * size).reduce((s, w, j) => s + (l.mask[f * size + j] ? w * w : 0), 0));
    const norms = Array.from({ length: l.outputs }, (_, f) => norm(f));
    return norms.map((n, f) => norms.filter((m, g) => m > n || (m === n && g < f)).length < k);
  };
  let sum = 0;
  let filters = 0;
  convsA.forEach((la, i) => {
    const c = la.outputs;
    const k = Math.min(c, Math.max(1, Math.round(keep * c)));
    const ka = keptSet(la, k);
    const kb = keptSet(convsB[i]!, k);
    const overlap = ka.filter((x, f) => x && kb[f]).length;
    sum += c * (1 - overlap / k);
    filters += c;
  });
  return sum / filters;
}

const tiny = mnist(ctx({ train: 10, test: 10, seed: 1 }));
const built = (width: number, seed: number): NetValue => init(ctx({ arch: { arch: "conv2", width }, scheme: "glorot", seed }, { data: tiny }));

describe("filter_distance", () => {
  it("is 0 for a net and itself", () => {
    const n = built(0.0625, 1);
    expect(distance(n, n)).toBe(0);
    const h = convNet(conv("conv1", [4, 3, 2, 1]), conv("conv2", [1, 5, 2, 7, 3, 6, 4, 8], 4));
    expect(distance(h, h)).toBe(0);
  });

  it("is 1 when the kept filters are disjoint in every layer", () => {
    const a = convNet(conv("conv1", [4, 3, 2, 1]), conv("conv2", [8, 7, 6, 5, 4, 3, 2, 1], 4));
    const b = convNet(conv("conv1", [1, 2, 3, 4]), conv("conv2", [1, 2, 3, 4, 5, 6, 7, 8], 4));
    expect(distance(a, b)).toBe(1);
  });

  it("averages the layers' distances weighted by their filter counts", () => {
    // conv1, C = 4, k = 2: a keeps {0, 1}, b keeps {0, 2}: overlap 1 of 2, distance 0.5.
    // conv2, C = 8, k = 4: a keeps {0, 1, 2, 3}, b keeps {0, 1, 2, 4}: overlap 3 of 4, distance 0.25.
    const a = convNet(conv("conv1", [4, 3, 2, 1]), conv("conv2", [8, 7, 6, 5, 4, 3, 2, 1], 4));
    const b = convNet(conv("conv1", [4, 1, 3, 2]), conv("conv2", [8, 7, 6, 1, 5, 2, 3, 4], 4));
    expect(distance(a, b)).toBe((4 * 0.5 + 8 * 0.25) / 12);
    // Each layer alone, with the other layer identical.
    expect(distance(a, convNet(b.layers[0]!, a.layers[1]!))).toBe((4 * 0.5) / 12);
    expect(distance(a, convNet(a.layers[0]!, b.layers[1]!))).toBe((8 * 0.25) / 12);
  });

  it("keeps k = max(1, round(keep × C)) filters", () => {
    const a = convNet(conv("conv1", [5, 4, 3, 2, 1]));
    const b = convNet(conv("conv1", [4, 5, 3, 2, 1]));
    // keep 10% of 5 rounds to 1 (0.5 up): a keeps {0}, b keeps {1}.
    expect(distance(a, b, 0.1)).toBe(1);
    // keep 1%: still one filter.
    expect(distance(a, b, 0.01)).toBe(1);
    // keep 40%: two, {0, 1} both.
    expect(distance(a, b, 0.4)).toBe(0);
    // keep 20% of [5, 4, 3, 2, 1] vs [1, 2, 3, 4, 5] is 1; keep 60% keeps {0,1,2} and {2,3,4}: 1 − 1/3.
    const c = convNet(conv("conv1", [1, 2, 3, 4, 5]));
    expect(distance(a, c, 0.2)).toBe(1);
    expect(distance(a, c, 0.6)).toBe((5 * (3 - 1)) / 3 / 5);
  });

  it("breaks ties in norm by the lower index, sign not counting", () => {
    const even = convNet(conv("conv1", [1, 1, 1, 1]));
    // All equal: {0, 1}.
    expect(distance(even, convNet(conv("conv1", [1, -1, 0, 0])))).toBe(0);
    expect(distance(even, convNet(conv("conv1", [0, 0, 1, 1])))).toBe(1);
    // [2, 1, 1, 1] keeps {0, 1}; [1, 1, 1, -2] keeps {3, 0}: overlap 1.
    expect(distance(convNet(conv("conv1", [2, 1, 1, 1])), convNet(conv("conv1", [1, 1, 1, -2])))).toBe(0.5);
    // An all-zero layer keeps its first k filters.
    expect(distance(convNet(conv("conv1", [0, 0, 0, 0])), even)).toBe(0);
  });

  it("is 0 with keep 100%, however different the nets", () => {
    expect(distance(built(0.0625, 1), built(0.0625, 2), 1)).toBe(0);
    expect(distance(convNet(conv("conv1", [4, 3, 2, 1])), convNet(conv("conv1", [1, 2, 3, 4])), 1)).toBe(0);
  });

  it("counts masked weights as 0 and a masked channel's filter as norm 0", () => {
    const b = convNet(conv("conv1", [4, 3, 2, 1]));
    // Filters of 18 weights (2 inputs × 3 × 3) have norms 4√18, 3√18, 2√18, √18; pruning 16 of
    // filter 0's leaves 4√2 ≈ 5.7 < 2√18 ≈ 8.5, so it keeps {1, 2} against b's {0, 1}.
    const mask = new Uint8Array(4 * 18).fill(1);
    mask.fill(0, 0, 16);
    const pruned = convNet(conv("conv1", [4, 3, 2, 1], 2, { mask }));
    expect(pruned.layers[0]!.weight.slice(0, 18).filter((w) => w !== 0).length).toBe(2);
    expect(distance(pruned, b)).toBe(0.5);
    // A channel-masked filter has norm 0 even if its stored weights were not zeroed.
    const channelled = convNet(conv("conv1", [4, 3, 2, 1], 2, { channels: Uint8Array.from([1, 0, 1, 1]) }));
    expect(distance(channelled, b)).toBe(0.5); // keeps {0, 2} against {0, 1}
    expect(distance(channelled, convNet(conv("conv1", [4, 0, 2, 1])))).toBe(0);
  });

  it("agrees with the definition computed another way, lies in [0, 1] and is symmetric on random nets", () => {
    for (let seed = 0; seed < 40; seed++) {
      const r = new Random(seed, "filters-test");
      const widths = [1 + r.int(12), 1 + r.int(12), 1 + r.int(12)];
      const layer = (name: string, c: number, inputs: number) => {
        const l = conv(name, new Array<number>(c).fill(0), inputs);
        for (let j = 0; j < l.weight.length; j++) {
          l.weight[j] = r.normal() * (r.next() < 0.3 ? 0 : 1);
          // Some weights pruned by the mask, their stored values left as they were.
          l.mask[j] = r.next() < 0.2 ? 0 : 1;
        }
        return l;
      };
      const make = () => convNet(layer("conv1", widths[0]!, 1), layer("conv2", widths[1]!, widths[0]!), layer("conv3", widths[2]!, widths[1]!));
      const a = make();
      const b = make();
      const keep = 0.01 + 0.99 * r.next();
      const d = distance(a, b, keep);
      expect(d).toBeCloseTo(byDefinition(a, b, keep), 12);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(1);
      expect(distance(b, a, keep)).toBe(d);
      expect(distance(a, a, keep)).toBe(0);
    }
    const [a, b] = [built(0.0625, 1), built(0.0625, 2)];
    const d = distance(a, b);
    expect(d).toBeCloseTo(byDefinition(a, b, 0.5), 12);
    // Two initialisations keep different filters somewhere, and not all of them differ.
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThan(1);
  });

  it("refuses nets of different architectures, naming both", () => {
    const call = () => distance(built(0.0625, 1), built(0.125, 1));
    expect(call).toThrow(OpFailure);
    expect(call).toThrow("filter_distance needs nets of the same architecture; found conv1:4x1x3x3 conv2:4x4x3x3 and conv1:8x1x3x3 conv2:8x8x3x3");
    const renamed = convNet(conv("convA", [1, 2, 3, 4]));
    expect(() => distance(convNet(conv("conv1", [1, 2, 3, 4])), renamed)).toThrow("found conv1:4x2x3x3 and convA:4x2x3x3");
  });

  it("refuses nets with no conv layers", () => {
    const mlp = net(data());
    expect(() => distance(mlp, mlp)).toThrow(OpFailure);
    expect(() => distance(mlp, mlp)).toThrow("filter_distance compares conv filters; mlp has none");
    expect(() => distance(built(0.0625, 1), mlp)).toThrow("filter_distance compares conv filters; mlp has none");
  });
});
