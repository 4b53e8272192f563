// plan, show, graph and gc as a user runs them, and the promise that every declared op
// either runs or is refused, with its place in the file, before anything runs.

import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, it } from "vitest";
import { OPS } from "../../dsl/ops.js";
import { COMPILE_TIME_OPS, IMPLEMENTATIONS } from "../../runtime/ops/index.js";
import { withTest } from "../support/children.js";
import { Rig, SMALL_IMP, storeConsistent } from "./rig.js";

describe("the op table", () => {
  it("has an implementation, or a compile-time meaning, for every declared op, and nothing undeclared", () => {
    expect([...OPS.keys()].filter((op) => !IMPLEMENTATIONS.has(op) && !COMPILE_TIME_OPS.has(op))).toEqual([]);
    for (const op of IMPLEMENTATIONS.keys()) expect(OPS.has(op)).toBe(true);
  });

  it("fails a conv net on data that are not images at its init, naming both, and runs what does not depend on it", async () => {
    const rig = new Rig(`let data = synthetic(n: 100, features: 4, classes: 2)
let net = init(conv2(), data)
let fine = init(mlp(hidden: [4]), data)
`);
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    expect(r.stages.find((s) => s.id === "net")?.message).toMatch(/conv2 needs images \(height × width × channels\), but this dataset's examples are 4 features/);
    expect(r.stages.find((s) => s.id === "fine")?.status).toBe("ran");
  });
});

describe("a path parameter naming a missing file", () => {
  it("is an error naming the file at the call, for run, plan, show and gc alike, before anything runs", async () => {
    const rig = new Rig(`let fm = idx(images: "no/train-images.gz", labels: "l.gz", test_images: "t.gz", test_labels: "tl.gz")\n`);
    for (const args of [["run", rig.file], ["plan", rig.file], ["show", rig.file, "fm"], ["gc", rig.file]]) {
      const r = await rig.lth(args);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/pipeline\.lth:1:10: error: .*no\/train-images\.gz: no such file/);
      expect(r.stderr).not.toMatch(/ at /);
    }
  });
});

describe("the engine", () => {
  const hook = join(import.meta.dirname, "../fixtures/hooks/no-tensorflow.mjs");
  it("never loads TensorFlow for check, plan, graph, show or a fully cached run; a run that trains loads it only in workers", async () => {
    const rig = new Rig(SMALL_IMP);
    const guarded = (args: string[]) => rig.lth(args, {}, { nodeArgs: ["--import", hook] });
    // The guard works: importing TensorFlow under it fails.
    const probe = await withTest(execa(process.execPath, ["--import", hook, "--input-type=module", "-e", 'await import("@tensorflow/tfjs-core")'], { cwd: join(import.meta.dirname, "../.."), reject: false }));
    expect(probe.stderr).toMatch(/TensorFlow.js was loaded: @tensorflow\/tfjs-core/);
    expect((await guarded(["run", rig.file, "--json"])).exitCode).toBe(0);
    for (const args of [["check", rig.file], ["plan", rig.file], ["graph", rig.file], ["show", rig.file, "dense"], ["run", rig.file, "--json"]]) {
      const r = await guarded(args);
      expect(r.exitCode, `${args[0]}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/TensorFlow.js was loaded/);
    }
  });
});

describe("lth plan, show, graph and gc", () => {
  const PIPELINE = `${SMALL_IMP}
let score = evaluate(control, data)
let overlap = mask_distance(rounds[0], rounds[2])
`;
  // One run of PIPELINE, made once; a test that needs its results works on its own copy of its store.
  let reference: Rig;
  beforeAll(async () => {
    reference = new Rig(PIPELINE);
    const r = await reference.run();
    expect(r.exitCode, r.stderr).toBe(0);
  });
  const computed = () => new Rig(PIPELINE).copyStore(reference);

  it("plan says every stage of a fresh store is new, and runs nothing", async () => {
    const rig = new Rig(PIPELINE);
    const r = await rig.lth(["plan", rig.file, "--json"]);
    expect(r.exitCode).toBe(0);
    const plan = JSON.parse(r.stdout) as { status: string; reason: { kind: string } }[];
    expect(plan).toHaveLength(16);
    // Only the dataset's key is known before anything runs, but no stage ever ran here: all are new,
    // and none "waits for data (unchanged output there would leave this cached)".
    expect(plan.filter((p) => p.reason?.kind === "new")).toHaveLength(16);
    expect(plan.filter((p) => p.reason?.kind === "upstream")).toHaveLength(0);
    const text = await rig.lth(["plan", rig.file]);
    expect(text.stdout).not.toContain("unchanged output there would leave this cached");
    expect(text.stdout).toMatch(/^run +dense +train +new: never computed in this store \(after .*\)$/m);
    expect(text.stdout.trim().split("\n").at(-1)).toBe("16 to run, 0 cached");
    expect(existsSync(join(rig.dir, ".lth", "stages"))).toBe(false);
  });

  it("plan's summary tells the stages that will run from those an input's early cutoff may keep cached", async () => {
    const rig = computed();
    rig.write(PIPELINE.replace("prune(t, 20%", "prune(t, 30%"));
    const r = await rig.lth(["plan", rig.file]);
    const plan = JSON.parse((await rig.lth(["plan", rig.file, "--json"])).stdout) as { status: string; reason?: { kind: string } }[];
    const certain = plan.filter((p) => p.status === "run" && p.reason?.kind !== "upstream").length;
    const maybe = plan.filter((p) => p.reason?.kind === "upstream").length;
    expect(certain).toBeGreaterThan(0);
    expect(maybe).toBeGreaterThan(0);
    expect(r.stdout.trim().split("\n").at(-1)).toBe(`${certain} to run, up to ${maybe} more if their inputs change, ${plan.length - certain - maybe} cached`);
  });

  it("run and plan with an unknown name list the bindings, with the nearest one", async () => {
    const rig = new Rig(PIPELINE);
    for (const command of ["run", "plan"]) {
      const r = await rig.lth([command, rig.file, "contrl"]);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toContain(`has no binding or stage named 'contrl'; did you mean 'control'? (bindings: data, net0, dense, rounds, control, score, overlap)`);
    }
  });

  it("show is an error that says to run first, before the run", async () => {
    const rig = new Rig(PIPELINE);
    const r = await rig.lth(["show", rig.file, "dense"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/not computed yet: run `lth run .* dense` to compute it/);
  });

  it("show --json prints a net, metrics, a number and a list in the documented shape", async () => {
    const rig = computed();
    const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Record<string, unknown>;
    const ticket = await show("rounds[2]");
    expect(ticket).toMatchObject({ type: "Net", weights: { total: 20 * 32 + 32 * 16 + 16 * 4 } });
    const layers = ticket["layers"] as { name: string; total: number; remaining: number }[];
    expect(layers.map((l) => l.name)).toEqual(["fc1", "fc2", "fc3"]);
    // Three rounds of 20% (10% for the output layer), each rounded to the nearest weight.
    expect(layers.map((l) => l.remaining)).toEqual([328, 262, 47]);
    const history = ticket["history"] as { step: number; epoch: number; accuracy: number; loss: number }[];
    expect(history.length).toBe(2);
    expect(ticket["accuracy"]).toBe(history[1]!.accuracy);
    expect(await show("score")).toMatchObject({ type: "Metrics" });
    const overlap = await show("overlap");
    expect(overlap["type"]).toBe("Number");
    expect(overlap["value"] as number).toBeGreaterThan(0);
    const rounds = await show("rounds");
    expect(rounds["type"]).toBe("List");
    expect((rounds["items"] as unknown[]).length).toBe(3);
  });

  it("show names the file a net's weights and masks are in, a safetensors file", async () => {
    const rig = computed();
    const r = await rig.lth(["show", rig.file, "dense"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/fc1 +25600 of +25600|fc1 +640 of +640/);
    expect(r.stdout).toMatch(/file: .*\.safetensors/);
  });

  it("graph prints DOT, Mermaid and JSON with one node per stage", async () => {
    const rig = new Rig(PIPELINE);
    const dot = await rig.lth(["graph", rig.file]);
    expect(dot.stdout.startsWith("digraph lth {")).toBe(true);
    expect(dot.stdout.match(/^ {2}s\d+ \[label=/gm)).toHaveLength(16);
    const mermaid = await rig.lth(["graph", rig.file, "--format", "mermaid"]);
    expect(mermaid.stdout.startsWith("flowchart TD")).toBe(true);
    const json = JSON.parse((await rig.lth(["graph", rig.file, "--format", "json"])).stdout) as { stages: { id: string; source: { line: number } }[] };
    expect(json.stages.find((s) => s.id === "dense")?.source.line).toBe(6);
    expect((await rig.lth(["graph", rig.file, "--format", "png"])).exitCode).toBe(2);
  });

  it.skipIf(!existsSync("/usr/bin/dot"))("graph's DOT renders in Graphviz, one box per stage", async () => {
    const rig = new Rig(PIPELINE);
    const svg = await withTest(execa("/usr/bin/dot", ["-Tsvg"], { input: (await rig.lth(["graph", rig.file])).stdout, reject: false }));
    expect(svg.exitCode).toBe(0);
    expect(svg.stdout.match(/class="node"/g)).toHaveLength(16);
  });

  it("gc keeps what the pipeline needs, removes the rest, and reports the bytes freed", async () => {
    const rig = computed();
    rig.write(SMALL_IMP.replace("prune(t, 20%", "prune(t, 40%"));
    expect((await rig.run()).exitCode).toBe(0);
    const objects = join(rig.dir, ".lth", "objects");
    const size = () => readdirSync(objects, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((a, e) => a + statSync(join(e.parentPath, e.name)).size, 0);
    const before = size();
    const r = await rig.lth(["gc", rig.file, "--json"]);
    expect(r.exitCode).toBe(0);
    const report = JSON.parse(r.stdout) as { kept: number; removedStages: number; bytesFreed: number };
    expect(report.kept).toBe(14);
    expect(report.removedStages).toBeGreaterThan(0);
    expect(before - size()).toBe(report.bytesFreed);
    expect((await rig.run()).summary).toMatchObject({ ran: 0, cached: 14 });
  });
});

describe("jobs beyond what a machine holds, and training that diverges", () => {
  it("synthetic data too large to hold is an error at its call before anything runs", async () => {
    const rig = new Rig("let data = synthetic(n: 10000000, features: 100000, classes: 2)\nlet n = init(mlp(hidden: [4]), data)\n");
    const r = await rig.lth(["run", rig.file, "--json"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toBe(`pipeline.lth:1:12: error: n × features = 1,000,000,000,000 values (3725.3 GiB as float32) is more than lth's limit of 268,435,456 for synthetic data`);
    expect(existsSync(join(rig.dir, ".lth"))).toBe(false);
  });

  it("a net too large to hold fails its init at once, before allocating it, with the count and no stack trace", async () => {
    const rig = new Rig("let data = synthetic(n: 100, features: 4, classes: 2)\nlet n = init(mlp(hidden: [100000, 100000]), data)\n");
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    const init = r.stages.find((s) => s.id === "n")!;
    expect(init.message).toBe("this net would have 10,000,600,000 weights (37.3 GiB as float32), more than lth's limit of 250,000,000");
  });

  it("a loss that becomes NaN fails the train stage with the step, the epoch, the learning rate and advice, and stores nothing", async () => {
    const rig = new Rig(`let data = synthetic(n: 600, features: 20, classes: 4, seed: 3)
let net0 = init(mlp(hidden: [32]), data, seed: 7)
let boom = train(net0, data, 2 epochs, lr: 1000000)
let after = prune(boom, 20%)
`);
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    const boom = r.stages.find((s) => s.id === "boom")!;
    expect(boom.status).toBe("failed");
    expect(boom.message).toMatch(/^the training loss became (NaN|Infinity|-Infinity) at step \d+ \(epoch \d\.\d\d, learning rate 1\.00e\+6\); nothing was stored: lower lr, add warmup, or use a smaller batch$/);
    // The step named is the first bad one: an epoch of 480 examples in batches of 60 is 8 steps, and it fails in the first.
    expect(Number(/at step (\d+)/.exec(boom.message!)![1])).toBeLessThanOrEqual(8);
    expect(r.stages.find((s) => s.id === "after")).toMatchObject({ status: "failed", blocked: true });
    expect(storeConsistent(rig.store)).toBe(2);
  });
});
