// Continuous sparsification (Savarese et al. 2020): soft masks σ(β·s) over trained weights, an
// L1 penalty on them, a hard mask 1[s > 0] at the end; then the ticket rewound and retrained.

import { describe, expect, it } from "vitest";
import { decodeArtifact } from "../../runtime/artifacts.js";
import type { NetValue } from "../../runtime/core/net.js";
import { readFileSync } from "node:fs";
import { Rig } from "./rig.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { continuousSparsification } from "../../runtime/methods/sparsification.js";
import { planted } from "../../runtime/ops/planted.js";
import { init } from "../../runtime/methods/nets.js";
import { ctx } from "./nets-fixture.js";

describe("continuous_sparsification", () => {
  it("takes one SGD step on weights and masks as float64 arithmetic does: w ⊙ σ(s) in the loss, λ·σ(s) added, the hard mask 1[s > 0]", async () => {
    const engine = await loadEngine("cpu");
    const data = planted(ctx({ n: 30, features: 6, k: 3, noise: 0.1, correlation: 0, task: "regression", test: 10, seed: 4 }));
    const net = init(ctx({ arch: { arch: "linear" }, scheme: "glorot", seed: 2 }, { data }));
    const [lr, lambda] = [0.5, 0.3];
    // One full-batch step (batch = n: one epoch), β = 1 throughout, s from 0.
    const out = continuousSparsification(engine, net, data, { rounds: 1, s0: 0, lambda, betaFinal: 1 }, {
      lr, batch: 30, optimizer: "sgd", momentum: 0, weightDecay: 0, cosine: false, length: { steps: 1 }, warmup: { steps: 0 }, seed: 0, stage: "t", progress: () => undefined,
    });
    const w0 = [...net.layers[0]!.weight];
    const b0 = net.layers[0]!.bias![0]!;
    const x = Array.from({ length: 30 }, (_, i) => Array.from(data.train.x.subarray(i * 6, (i + 1) * 6)));
    const y = [...data.train.targets!];
    // Loss: mean (x·(w ⊙ σ(0)) + b − y)² + λ·Σσ(s); σ(0) = 1/2, σ'(0) = 1/4.
    const r = x.map((row, i) => row.reduce((s, v, j) => s + v * w0[j]! * 0.5, b0) - y[i]!);
    const g = w0.map((_, j) => (2 / 30) * r.reduce((s, ri, i) => s + ri * x[i]![j]!, 0));
    const s1 = w0.map((w, j) => -lr * ((g[j]! * w) / 4 + lambda / 4));
    const w1 = w0.map((w, j) => w - (lr * g[j]!) / 2);
    const l = out.layers[0]!;
    s1.forEach((s, j) => {
      expect(l.mask[j], `mask ${j}`).toBe(s > 0 ? 1 : 0);
      expect(l.weight[j]).toBeCloseTo(s > 0 ? w1[j]! : 0, 5);
    });
    expect(l.bias![0]).toBeCloseTo(b0 - lr * (2 / 30) * r.reduce((s, ri) => s + ri, 0), 5);
    // Both outcomes occur here, so the test is not vacuous.
    expect(new Set(s1.map((s) => s > 0)).size).toBe(2);
  });

  it("learns a hard mask whose size falls as the penalty grows, keeps every weight from a high s0, and gives a ticket that retrains", async () => {
    const rig = new Rig(`let data = mnist(train: 600, test: 300, seed: 1)
let net0 = init(mlp(hidden: [64]), data, seed: 7)
let light = continuous_sparsification(net0, data, 2 epochs, rounds: 2)
let heavy = continuous_sparsification(net0, data, 2 epochs, rounds: 2, lambda: 1e-4, optimizer: momentum, lr: 0.05)
let kept = continuous_sparsification(net0, data, 1 epoch, rounds: 1, s0: 5, beta_final: 1)
let ticket = rewind(light, to: net0) |> train(data, 2 epochs)
`);
    const r = await rig.run(["--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const net = async (name: string): Promise<NetValue> => {
      const shown = JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as { artifact: string };
      return (decodeArtifact("Net", readFileSync(shown.artifact), shown.artifact) as { net: NetValue }).net;
    };
    const alive = (n: NetValue) => n.layers.reduce((a, l) => a + l.mask.reduce((s, m) => s + m, 0), 0);
    const [light, heavy, kept, ticket] = [await net("light"), await net("heavy"), await net("kept"), await net("ticket")];
    const total = light.layers.reduce((a, l) => a + l.mask.length, 0);
    expect(alive(light)).toBeGreaterThan(0);
    expect(alive(light)).toBeLessThan(total);
    expect(alive(heavy)).toBeLessThan(alive(light));
    // s0 = 5 with β at 1: every σ(s) near 1, and no mask parameter falls below 0.
    expect(alive(kept)).toBe(total);
    // Masked weights are exactly 0; the result is measured as masked.
    for (const l of light.layers) l.mask.forEach((m, j) => m || expect(l.weight[j]).toBe(0));
    expect(light.measured).toBeDefined();
    // The ticket: light's mask over the initial weights, retrained.
    expect(alive(ticket)).toBe(alive(light));
    expect(ticket.history[ticket.history.length - 1]!.accuracy).toBeGreaterThan(0.6);
  });
});
