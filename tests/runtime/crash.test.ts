// A run killed with SIGKILL loses nothing finished and serves nothing half-written: the
// rerun (after recovering the dead run's lock) finishes with the keys of an uninterrupted run.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { Rig, SMALL_IMP, storeConsistent } from "./rig.js";

/** Slow enough that a kill lands mid-training. */
const LONGER = SMALL_IMP.replace("n: 600", "n: 6000").replace(/2 epochs/g, "3 epochs");

describe("a run killed with SIGKILL", () => {
  it("resumes: the rerun finishes cleanly, a further run executes nothing, and the keys match an uninterrupted run", async () => {
    const rig = new Rig(LONGER);
    const run = rig.start();
    let seen = "";
    await new Promise<void>((resolve) => {
      run.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        // Killed while the first retraining runs: the dense net is done, rounds are not.
        const events = seen.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { type: string; id?: string; status?: string });
        if (events.some((e) => e.type === "stage" && e.id === "dense" && e.status === "ran")) resolve();
      });
    });
    run.kill("SIGKILL");
    await run;
    const done = storeConsistent(join(rig.dir, ".lth"));
    expect(done).toBeGreaterThanOrEqual(3);
    expect(done).toBeLessThan(14);

    const resumed = await rig.run();
    expect(resumed.exitCode).toBe(0);
    expect(resumed.summary.cached).toBeGreaterThanOrEqual(3);
    expect(resumed.summary.ran + resumed.summary.cached).toBe(14);
    expect((await rig.run()).summary.ran).toBe(0);
    expect(storeConsistent(join(rig.dir, ".lth"))).toBe(14);

    const uninterrupted = await new Rig(LONGER).run();
    expect(resumed.keys).toEqual(uninterrupted.keys);
  }, 60_000);
});

describe("two runs on one store at once", () => {
  it("both finish, and the store holds each stage once", async () => {
    const rig = new Rig(SMALL_IMP);
    const [a, b] = await Promise.all([rig.run(), rig.run()]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(a.summary.ran + b.summary.ran).toBe(14);
    expect(a.keys).toEqual(b.keys);
    expect(storeConsistent(join(rig.dir, ".lth"))).toBe(14);
  }, 60_000);
});

/** Pids of the worker processes of one `lth run` (its children), never another test's. */
async function workers(parent: number): Promise<number[]> {
  const r = await execa("pgrep", ["-P", String(parent), "-f", "dist/runtime/worker.js"], { reject: false });
  return r.stdout.split("\n").filter(Boolean).map(Number);
}

/** Running, not a zombie (a container's init may be slow to reap a re-parented child). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("a worker process that dies", () => {
  it("fails its stage with a message, and the run goes on with a new worker and exits 1", async () => {
    const rig = new Rig(`let data = synthetic(n: 6000, features: 20, classes: 4, seed: 3)
let a = train(init(mlp(hidden: [64]), data, seed: 1), data, 6 epochs, optimizer: adam, lr: 0.01)
let b = train(init(mlp(hidden: [64]), data, seed: 2), data, 1 epoch, optimizer: adam, lr: 0.01)
`);
    const run = rig.lth(["run", rig.file, "--json", "--jobs", "1"]);
    let seen = "";
    await new Promise<void>((resolve) => {
      run.stdout.on("data", (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('"type":"start","id":"a"') || seen.includes('"type":"start","id":"b"')) resolve();
      });
    });
    for (const pid of await workers(run.pid!)) process.kill(pid, "SIGKILL");
    const r = await run;
    const lines = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; id?: string; status?: string; message?: string });
    const stages = lines.filter((l) => l.type === "stage");
    const died = stages.find((s) => s.status === "failed")!;
    expect(died.message).toMatch(/worker process died \(SIGKILL\)/);
    expect(stages.filter((s) => s.status === "ran").map((s) => s.id)).toContain(died.id === "a" ? "b" : "a");
    expect(lines[lines.length - 1]).toMatchObject({ type: "summary", failed: 1 });
    expect(r.exitCode).toBe(1);
  }, 60_000);

  it("ends with its parent: a SIGKILLed run leaves no worker training", async () => {
    const rig = new Rig(`let data = synthetic(n: 6000, features: 20, classes: 4, seed: 3)
let a = train(init(mlp(hidden: [64]), data, seed: 1), data, 40 epochs)
`);
    const run = rig.start();
    await new Promise<void>((resolve) => run.stdout.on("data", (c: Buffer) => c.toString().includes('"type":"start"') && resolve()));
    const pids = await workers(run.pid!);
    expect(pids.length).toBeGreaterThan(0);
    run.kill("SIGKILL");
    await run;
    const deadline = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
  }, 30_000);
});

describe("a backend that cannot load", () => {
  it("fails each tensor stage with the reason, runs the rest, and does not hang", async () => {
    const rig = new Rig(`let data = synthetic(n: 100, features: 4, classes: 2)
let a = train(init(mlp(hidden: [8]), data, seed: 1), data, 1 epoch)
let b = train(init(mlp(hidden: [8]), data, seed: 2), data, 1 epoch)
`);
    const r = await rig.run(["--backend", "tensorflow", "--jobs", "1"]);
    expect(r.exitCode).toBe(1);
    const byId = Object.fromEntries(r.stages.map((s) => [s.id, s]));
    for (const id of ["a", "b"]) expect(byId[id]?.message).toMatch(/backend tensorflow is not available: @tensorflow\/tfjs-node-gpu: not installed/);
    expect(byId["data"]?.status).toBe("ran");
    expect(r.summary).toMatchObject({ failed: 2, ran: 3 });
  }, 30_000);
});
