// OpenLTH's recipe pieces in `train`: the step schedule (with warmup) and Nesterov momentum;
// parameters added after train's release, so a stage that leaves them at their defaults
// keeps its key.

import type * as TF from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { compile } from "../../compiler/compile.js";
import { stage, type StageId } from "../../compiler/stage.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { learningRate } from "../../runtime/engine/train.js";
import { Optimizer } from "../../runtime/engine/optimizer.js";

const PRELUDE = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
`;

function check(text: string) {
  const r = checkProgram("/p/main.lth", new ModuleLoader(memoryHost({ "/p/main.lth": PRELUDE + text })));
  if ("problem" in r) throw new Error(r.problem);
  return r;
}
const params = (text: string) => {
  const r = check(text);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return stage(compile(r.program), "t" as StageId).params;
};

describe("the step schedule", () => {
  it("multiplies the rate by gamma at each milestone, after a linear warmup", () => {
    const lr = learningRate({ lr: 0.1, cosine: false, warmup: { steps: 4 }, step: { milestones: [{ epochs: 2 }, { steps: 30 }], gamma: 0.1 } }, 10, 40);
    expect([0, 1, 3].map(lr)).toEqual([0.1 / 4, (0.1 * 2) / 4, 0.1]);
    expect([4, 19].map(lr)).toEqual([0.1, 0.1]);
    expect(lr(20)).toBeCloseTo(0.01, 12);
    expect(lr(29)).toBeCloseTo(0.01, 12);
    expect(lr(30)).toBeCloseTo(0.001, 12);
    expect(lr(39)).toBeCloseTo(0.001, 12);
  });

  it("leaves the constant and cosine schedules as they were", () => {
    const constant = learningRate({ lr: 0.2, cosine: false, warmup: { steps: 2 } }, 10, 20);
    expect([0, 1, 2, 19].map(constant)).toEqual([0.1, 0.2, 0.2, 0.2]);
    const cosine = learningRate({ lr: 0.2, cosine: true, warmup: { steps: 0 } }, 10, 20);
    expect(cosine(0)).toBe(0.2);
    expect(cosine(10)).toBeCloseTo(0.1, 12);
  });

  it("is checked: milestones only with schedule: step, and step needs them", () => {
    const withConstant = check(`let t = train(net0, data, 3 epochs, milestones: [1 epoch])\n`);
    expect(withConstant.ok).toBe(false);
    expect(withConstant.diagnostics.map((d) => d.message).join()).toContain("milestones apply to schedule: step only");
    const without = check(`let t = train(net0, data, 3 epochs, schedule: step)\n`);
    expect(without.ok).toBe(false);
    expect(without.diagnostics.map((d) => d.code)).toContain("missing-arg");
  });

  it("keeps every existing train stage's key: its new parameters are left out at their defaults", () => {
    const before = params(`let t = train(net0, data, 3 epochs, optimizer: momentum)\n`);
    expect(before).not.toHaveProperty("gamma");
    expect(before).not.toHaveProperty("nesterov");
    expect(before).not.toHaveProperty("milestones");
    expect(params(`let t = train(net0, data, 3 epochs, optimizer: momentum, gamma: 0.1, nesterov: false)\n`)).toEqual(before);
    expect(params(`let t = train(net0, data, 160 epochs, lr: 0.1, optimizer: momentum, nesterov: true, schedule: step, milestones: [80 epochs, 120 epochs], warmup: 1 epoch)\n`)).toMatchObject({
      schedule: "step",
      milestones: [{ epochs: 80 }, { epochs: 120 }],
      nesterov: true,
    });
  });
});

describe("Nesterov momentum", () => {
  let tf: typeof TF;
  beforeAll(async () => {
    tf = (await loadEngine("cpu")).tf;
  });

  it("steps by g + momentum·buf, as PyTorch's SGD(nesterov=True)", () => {
    const v = tf.variable(tf.tensor1d([1, -2]));
    const optimizer = new Optimizer(tf, "momentum", 0.9, 0, 0, [{ variable: v }], undefined, true);
    // buf₁ = g₁; step g₁ + 0.9·g₁. buf₂ = 0.9·buf₁ + g₂; step g₂ + 0.9·buf₂.
    const g1 = [0.5, 1];
    const g2 = [1, -1];
    tf.tidy(() => optimizer.step(0.1, [tf.tensor1d(g1)]));
    tf.tidy(() => optimizer.step(0.1, [tf.tensor1d(g2)]));
    const expected = [0, 1].map((i) => {
      const buf1 = g1[i]!;
      const x1 = [1, -2][i]! - 0.1 * (g1[i]! + 0.9 * buf1);
      const buf2 = 0.9 * buf1 + g2[i]!;
      return x1 - 0.1 * (g2[i]! + 0.9 * buf2);
    });
    const got = v.dataSync();
    expected.forEach((e, i) => expect(got[i]).toBeCloseTo(e, 6));
    optimizer.dispose();
    v.dispose();
  });
});
