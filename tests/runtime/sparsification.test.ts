// Continuous sparsification (Savarese et al. 2020): soft masks σ(β·s) over trained weights, an
// L1 penalty on them, a hard mask 1[s > 0] at the end; then the ticket rewound and retrained.

import { describe, expect, it } from "vitest";
import { decodeArtifact } from "../../runtime/artifacts.js";
import type { NetValue } from "../../runtime/core/net.js";
import { readFileSync } from "node:fs";
import { Rig } from "./rig.js";

describe("continuous_sparsification", () => {
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
