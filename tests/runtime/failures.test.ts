// A stage that failed is remembered as failed, with why: `plan` and `show` say so (and that a
// rerun repeats it) instead of "not computed yet", and `lth report` still draws everything
// else it names, lists of lists included, listing the failed and missing values as such.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Store, type StageKey } from "../../runtime/store/store.js";
import { Rig } from "./rig.js";

const PIPELINE = `let data = synthetic(n: 600, features: 20, classes: 4, seed: 3)
let net0 = init(mlp(hidden: [32]), data, seed: 7)
let boom = train(net0, data, 2 epochs, lr: 1000000)
let after = prune(boom, 20%)
let sweep = for s in [1, 2] {
  let dense = train(init(mlp(hidden: [16]), data, seed: s), data, 1 epoch, lr: 0.05)
  yield [dense, prune(dense, 50%) |> train(data, 1 epoch, lr: 0.05)]
}
let metrics = evaluate(sweep[0][0], data)
let unrun = train(net0, data, 2 epochs, lr: 0.01)
report "a sweep beside a failure" { sweep, boom, after, metrics, unrun }
`;

describe("a failed stage", () => {
  it("is shown as failed, with its message and that a rerun repeats it, by show and plan; its dependants name it", async () => {
    const rig = new Rig(PIPELINE);
    const first = await rig.run(["boom", "after"]);
    expect(first.exitCode).toBe(1);
    const message = first.stages.find((s) => s.id === "boom")!.message!;
    expect(message).toMatch(/^the training loss became/);

    const show = await rig.lth(["show", rig.file, "boom"]);
    expect(show.exitCode).toBe(1);
    expect(show.stderr).toContain("'boom': it failed when last run: the training loss became");
    expect(show.stderr).toContain("a rerun repeats it unless its parameters, inputs or lth's version change");
    expect(show.stderr).not.toContain("not computed yet");

    const after = await rig.lth(["show", rig.file, "after"]);
    expect(after.stderr).toContain("its input 'boom' failed when last run: the training loss became");

    const plan = await rig.lth(["plan", rig.file]);
    const line = plan.stdout.split("\n").find((l) => /\bboom\b/.test(l) && !/after/.test(l)) ?? "";
    expect(line).toMatch(/failed when last run \(.*\): the training loss became/);

    // Running it again repeats the failure under the same key.
    const again = await rig.run(["boom"]);
    expect(again.stages.find((s) => s.id === "boom")).toMatchObject({ status: "failed", key: first.keys.get("boom"), message });

    // A changed parameter is a new key: the old failure says nothing about it.
    rig.write(PIPELINE.replace("lr: 1000000", "lr: 0.05"));
    const replanned = await rig.lth(["plan", rig.file]);
    expect(replanned.stdout).not.toMatch(/failed when last run/);
    expect((await rig.run(["boom"])).exitCode).toBe(0);
    expect((await rig.lth(["show", rig.file, "boom"])).exitCode).toBe(0);
  });

  it("keeps its record while a pipeline names its key, and gc removes it once none does", async () => {
    const rig = new Rig(PIPELINE);
    expect((await rig.run(["boom"])).exitCode).toBe(1);
    const failures = () => [...new Store(rig.store).failures()].map((f) => f.op);
    expect(failures()).toEqual(["train"]);
    expect((await rig.lth(["gc", rig.file])).exitCode).toBe(0);
    expect(failures()).toEqual(["train"]);
    rig.write(PIPELINE.replace("lr: 1000000", "lr: 0.05"));
    const dry = await rig.lth(["gc", rig.file, "--dry-run", "--only-given"]);
    expect(dry.stdout).toMatch(/failure {6}[0-9a-f]{64}/);
    expect(failures()).toEqual(["train"]);
    expect((await rig.lth(["gc", rig.file, "--only-given"])).exitCode).toBe(0);
    expect(failures()).toEqual([]);
  });
});

describe("a failure record", () => {
  it("is kept per key until the key succeeds", () => {
    const store = new Store(mkdtempSync(join(tmpdir(), "lth-failures-")));
    const key = "ab".repeat(32) as StageKey;
    expect(store.getFailure(key)).toBeUndefined();
    store.putFailure({ key, op: "train", version: 2, message: "the training loss became NaN", repeats: true, backend: "wasm", failedAt: "2026-12-02T00:00:00.000Z" });
    expect(store.getFailure(key)).toMatchObject({ op: "train", repeats: true });
    expect([...store.failures()].map((f) => f.key)).toEqual([key]);
    store.deleteFailure(key);
    expect(store.getFailure(key)).toBeUndefined();
  });
});

describe("lth report", () => {
  it("draws every net of a list of lists, and lists a failed, a blocked and an unrun value as such, the rest drawn", async () => {
    const rig = new Rig(PIPELINE);
    const run = await rig.run(["boom", "after", "sweep", "metrics"]);
    expect(run.exitCode).toBe(1);
    const page = join(rig.dir, "report.html");
    const r = await rig.lth(["report", rig.file, "-o", page]);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toContain("3 values not shown");
    const html = readFileSync(page, "utf8");
    for (const net of ["sweep[0][0]", "sweep[0][1]", "sweep[1][0]", "sweep[1][1]"]) expect(html).toContain(`<tr><td>${net}</td>`);
    expect(html).toMatch(/<tr><td>metrics<\/td><td>accuracy \d+\.\d\d%/);
    expect(html).toMatch(/<tr class="failed"><td>boom<\/td><td>failed<\/td><td>it failed when last run: the training loss became/);
    expect(html).toMatch(/<tr class="failed"><td>after<\/td><td>failed<\/td><td>it is not computed: its input &#39;boom&#39; failed/);
    expect(html).toMatch(/<tr class="missing"><td>unrun<\/td><td>not computed<\/td>/);
    // The figures are drawn from the four nets: accuracy against weights, over training, and weights per layer of the pruned ones.
    expect(html.match(/<svg/g)).toHaveLength(3);
    expect(html).toContain("Weights remaining per layer");
  });
});
