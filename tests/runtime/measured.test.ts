// "A number shown for a net was measured on that net": show and the report give a net's
// test accuracy only when it was measured on exactly its parameters, never one inherited
// from the net it was pruned, rewound or reinitialised from.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeArtifact, encodeArtifact } from "../../runtime/artifacts.js";
import { measurement, withMeasurement } from "../../runtime/core/net.js";
import { Rig } from "./rig.js";
import { data, net, pruned } from "./nets-fixture.js";

const PIPELINE = `let data = mnist(train: 600, test: 400, seed: 1)
let net0 = init(mlp(hidden: [64]), data, seed: 7)
let dense = train(net0, data, 1 epoch, lr: 0.05)
let pruned = prune(dense, 90%)
let untouched = prune(dense, 0%)
let ticket = rewind(pruned, to: net0)
let dense_eval = evaluate(dense, data)
let pruned_eval = evaluate(pruned, data)
report "pruned without retraining" { dense, pruned, ticket }
`;

type ShownNet = { type: "Net"; accuracy: number | null; loss: number | null; measured: boolean };

async function show(rig: Rig, name: string): Promise<{ json: ShownNet & { value?: number }; text: string }> {
  const json = await rig.lth(["show", rig.file, name, "--json"]);
  const text = await rig.lth(["show", rig.file, name]);
  expect(json.exitCode, json.stderr).toBe(0);
  return { json: JSON.parse(json.stdout) as ShownNet, text: text.stdout };
}

describe("a net's shown accuracy", () => {
  it("is its own: a trained net shows what evaluate measures, a pruned one 'not measured', in show and in the report", async () => {
    const rig = new Rig(PIPELINE);
    expect((await rig.run()).exitCode).toBe(0);
    const dense = await show(rig, "dense");
    const denseEval = JSON.parse((await rig.lth(["show", rig.file, "dense_eval", "--json"])).stdout) as { accuracy: number; loss: number };
    expect(dense.json.measured).toBe(true);
    expect(dense.json.accuracy).toBe(denseEval.accuracy);
    expect(dense.json.loss).toBeCloseTo(denseEval.loss, 5);

    const prunedEval = JSON.parse((await rig.lth(["show", rig.file, "pruned_eval", "--json"])).stdout) as { accuracy: number };
    // 90% of the weights gone without retraining: the net is measurably worse than its parent.
    expect(prunedEval.accuracy).toBeLessThan(denseEval.accuracy);
    const p = await show(rig, "pruned");
    expect(p.json).toMatchObject({ accuracy: null, loss: null, measured: false });
    expect(p.text).toMatch(/test accuracy not measured/);
    expect(p.text).not.toContain(`${(100 * denseEval.accuracy).toFixed(2)}%,`);
    expect((await show(rig, "ticket")).json.accuracy).toBeNull();

    // Removing nothing changes no parameter, so the measurement still describes the net.
    expect((await show(rig, "untouched")).json.accuracy).toBe(denseEval.accuracy);

    const page = join(rig.dir, "report.html");
    expect((await rig.lth(["report", rig.file, "-o", page])).exitCode).toBe(0);
    const html = readFileSync(page, "utf8");
    const row = (name: string) => html.match(new RegExp(`<tr><td>${name}</td>.*?</tr>`))?.[0] ?? "";
    expect(row("dense")).toContain(`${(100 * denseEval.accuracy).toFixed(2)}%`);
    expect(row("pruned")).toContain("not measured");
    expect(row("pruned")).not.toContain(`${(100 * denseEval.accuracy).toFixed(2)}%`);
  });
});

describe("a measurement", () => {
  const d = data();
  const n = withMeasurement(net(d), { accuracy: 0.5, loss: 1.25 });

  it("survives the store's encoding", () => {
    const back = decodeArtifact("Net", encodeArtifact({ kind: "Net", net: n }), "n.safetensors");
    expect(back.kind === "Net" && measurement(back.net)).toEqual({ accuracy: 0.5, loss: 1.25 });
  });

  it("no longer holds once a weight, a mask or a batch-norm statistic changes", () => {
    expect(measurement(n)).toEqual({ accuracy: 0.5, loss: 1.25 });
    expect(measurement(pruned(n, { rate: 0.2 }))).toBeUndefined();
    const nudged = { ...n, layers: n.layers.map((l, i) => (i === 1 ? { ...l, bias: Float32Array.from(l.bias!, (b, j) => (j === 0 ? b + 1e-3 : b)) } : l)) };
    expect(measurement(nudged)).toBeUndefined();
  });
});
