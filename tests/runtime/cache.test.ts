// The product's core promise, checked on a real store through the real CLI: a run redoes
// only the stages an edit really affects, and nothing else (runtime/README.md, "Early cutoff"; the key: runtime/key.ts).

import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parseRun, Rig, SMALL_IMP } from "./rig.js";

const ALL = ["data", "net0", "dense", "rounds[0].pruned", "rounds[0]/rewind", "rounds[0]", "rounds[1].pruned", "rounds[1]/rewind", "rounds[1]", "rounds[2].pruned", "rounds[2]/rewind", "rounds[2]", "control/reinit", "control"];

describe("the cache", () => {
  // One uninterrupted run, made once; each test below works on its own copy of its store.
  let reference: Rig;
  beforeAll(async () => {
    reference = new Rig(SMALL_IMP);
    const r = await reference.run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.summary.ran).toBe(14);
  });

  /** A rig of its own whose store already holds every stage of SMALL_IMP, and records this file's last run. */
  async function computed(): Promise<Rig> {
    const rig = new Rig(SMALL_IMP).copyStore(reference);
    const r = await rig.run();
    expect(r.summary).toMatchObject({ ran: 0, cached: 14, failed: 0 });
    return rig;
  }

  it("runs every stage of a fresh store once, then nothing on a second run", async () => {
    const rig = new Rig(SMALL_IMP);
    const first = await rig.run();
    expect(first.exitCode).toBe(0);
    expect([...first.ran].sort()).toEqual([...ALL].sort());
    const second = await rig.run();
    expect(second.summary).toMatchObject({ ran: 0, cached: 14, failed: 0 });
  });

  it("runs nothing after a rename, a reorder and a new comment", async () => {
    const rig = await computed();
    const edited = SMALL_IMP.replace(/\bdense\b/g, "pretrained")
      .split("\n\n")
      .reverse()
      .join("\n\n")
      .replace("let rounds", "// rewinding to initialisation, as in Frankle & Carbin\nlet rounds");
    rig.write(edited);
    const r = await rig.run();
    expect(r.exitCode).toBe(0);
    expect(r.ran).toEqual([]);
    expect(r.summary.cached).toBe(14);
  });

  it("runs nothing when a default is written out or moved into a defaults block", async () => {
    const rig = await computed();
    rig.write(SMALL_IMP.replace("prune(t, 20%, output_rate: 10%)", "prune(t, 20%, output_rate: 10%, scope: layerwise, criterion: magnitude)").replace("optimizer: adam }", "optimizer: adam, warmup: 0 epochs }"));
    const r = await rig.run();
    expect(r.summary).toMatchObject({ ran: 0, cached: 14, failed: 0 });
  });

  it("reruns exactly the prunes and everything below them when the prune rate rises", async () => {
    const rig = await computed();
    rig.write(SMALL_IMP.replace("prune(t, 20%", "prune(t, 30%"));
    const plan = JSON.parse((await rig.lth(["plan", rig.file, "--json"])).stdout) as { id: string; status: string; reason?: { kind: string } }[];
    expect(plan.filter((p) => p.status === "run").map((p) => p.id)).toEqual(ALL.slice(3));
    expect(plan.find((p) => p.id === "rounds[0].pruned")?.reason?.kind).toBe("params-changed");
    expect(plan.find((p) => p.id === "rounds[0]")?.reason?.kind).toBe("upstream");
    const r = await rig.run();
    expect([...r.ran].sort()).toEqual(ALL.slice(3).sort());
    expect(r.ran).not.toContain("dense");
    rig.write(SMALL_IMP);
    // Back to the old rate: every result is still in the store.
    expect((await rig.run()).summary).toMatchObject({ ran: 0, cached: 14 });
  });

  it("stops at a prune whose new parameter cannot change its output (early cutoff)", async () => {
    const rig = await computed();
    rig.write(SMALL_IMP.replace("output_rate: 10%)", "output_rate: 10%, seed: 5)"));
    const r = await rig.run();
    expect([...r.ran].sort()).toEqual(["rounds[0].pruned", "rounds[1].pruned", "rounds[2].pruned"]);
    expect(r.summary.cached).toBe(11);
  });

  it("gives the same stage keys in a second, fresh store", async () => {
    const [a, b] = [await (await computed()).run(), await new Rig(SMALL_IMP).run()];
    expect(a.summary.cached).toBe(14);
    expect(b.ran.length).toBe(14);
    expect(b.keys).toEqual(a.keys);
  });

  it("recomputes a damaged artifact instead of serving it, and only that stage", async () => {
    const rig = await computed();
    const first = await rig.run();
    const dense = first.stages.find((s) => s.id === "dense")!;
    const objects = join(rig.store, "objects", dense.output!.slice(0, 2));
    const file = join(objects, readdirSync(objects).find((f) => f.startsWith(dense.output!))!);
    const bytes = readFileSync(file);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1);
    writeFileSync(file, bytes);
    const plan = JSON.parse((await rig.lth(["plan", rig.file, "--json"])).stdout) as { id: string; reason?: { kind: string } }[];
    expect(plan.find((p) => p.id === "dense")?.reason?.kind).toBe("damaged");
    const r = await rig.run();
    // Training is deterministic, so the recomputed bytes are the old ones and nothing below reruns.
    expect(r.ran).toEqual(["dense"]);
    expect(readFileSync(file).equals(bytes)).toBe(false);
  });
});

describe("lth run --json", () => {
  it("writes one stage line per stage and a summary line, with the documented fields", async () => {
    const rig = new Rig(SMALL_IMP);
    const r = await rig.run(["--backend", "cpu"]);
    for (const s of r.stages) {
      expect(Object.keys(s)).toEqual(expect.arrayContaining(["type", "id", "op", "key", "status", "seconds"]));
      expect(s.key).toMatch(/^[0-9a-f]{64}$/);
    }
    expect(r.lines[r.lines.length - 1]).toMatchObject({ type: "summary", ran: 14, cached: 0, failed: 0 });
    expect(r.lines.find((l) => l["type"] === "backend")).toMatchObject({ backend: "cpu" });
    expect(r.stages.find((s) => s.id === "dense")?.backend).toBe("cpu");
  });

  it("exits 1 when a stage fails, keeps the finished ones, and blocks only what depends on it", async () => {
    // Two initialisations the checker cannot tell apart (the seed comes from a loop), so rewind fails when it runs.
    const rig = new Rig(`let data = synthetic(n: 100, features: 4, classes: 2)
let a = init(mlp(hidden: [8]), data, seed: 1)
let bs = for s in [2] { yield init(mlp(hidden: [8]), data, seed: s) }
let bad = train(rewind(a, to: bs[0]), data, 1 epoch)
let good = train(a, data, 1 epoch)
`);
    const r = await rig.run();
    expect(r.exitCode).toBe(1);
    const status = Object.fromEntries(r.stages.map((s) => [s.id, s.status]));
    expect(status).toMatchObject({ "bad/rewind": "failed", bad: "failed", good: "ran", a: "ran", "bs[0]": "ran" });
    expect(r.stages.find((s) => s.id === "bad")).toMatchObject({ blocked: true, message: expect.stringMatching(/input failed \(bad\/rewind\)/) });
    expect(r.stages.find((s) => s.id === "bad/rewind")?.message).toMatch(/same initialisation/);
    const again = parseRun((await rig.start()).stdout, 1, "");
    expect(again.summary).toMatchObject({ ran: 0, failed: 2, blocked: 1, cached: 4 });
  });
});
