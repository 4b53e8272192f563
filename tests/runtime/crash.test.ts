// A run killed with SIGKILL loses nothing finished and serves nothing half-written: the
// rerun (after recovering the dead run's lock) finishes with the keys of an uninterrupted run.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { Rig, SMALL_IMP, storeConsistent, untilEvent } from "./rig.js";

describe("a run killed with SIGKILL", () => {
  it("resumes: the rerun finishes cleanly, a further run executes nothing, and the keys match an uninterrupted run", async () => {
    const rig = new Rig(SMALL_IMP);
    // Killed at a named point, not at a moment: just after the third index entry (dense's) is
    // in place, so data, net0 and dense are done and the rounds are not, however fast the machine.
    const run = await rig.start([], { LTH_FAULT: "kill@record.done#3", LTH_FAULT_COUNTER: join(rig.dir, "count") });
    expect(run.signal, run.stderr).toBe("SIGKILL");
    const events = run.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; id?: string });
    expect(events.filter((e) => e.type === "stage").map((e) => e.id)).toEqual(["data", "net0"]);
    expect(events.some((e) => e.type === "start" && e.id === "dense")).toBe(true);
    expect(storeConsistent(rig.store)).toBe(3);

    const resumed = await rig.run();
    expect(resumed.exitCode).toBe(0);
    expect(resumed.summary).toMatchObject({ cached: 3, ran: 11 });
    expect(resumed.ran).not.toContain("dense");
    expect((await rig.run()).summary.ran).toBe(0);
    expect(storeConsistent(rig.store)).toBe(14);

    const uninterrupted = await new Rig(SMALL_IMP).run();
    expect(resumed.keys).toEqual(uninterrupted.keys);
  });
});

describe("two runs on one store at once", () => {
  it("both finish, and the store holds each stage once", async () => {
    const rig = new Rig(SMALL_IMP);
    const [a, b] = await Promise.all([rig.run(), rig.run()]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(a.summary.ran + b.summary.ran).toBe(14);
    expect(a.keys).toEqual(b.keys);
    expect(storeConsistent(join(rig.dir, ".lth"))).toBe(14);
  });
});

/** Pids of the worker processes of one `lth run` (its children), never another test's. */
async function workers(parent: number): Promise<number[]> {
  const r = await execa("pgrep", ["-P", String(parent), "-f", "dist/runtime/execute/worker.js"], { reject: false });
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
    const rig = new Rig(`let data = synthetic(n: 600, features: 20, classes: 4, seed: 3)
let a = train(init(mlp(hidden: [16]), data, seed: 1), data, 1 epoch, optimizer: adam, lr: 0.01)
let b = train(init(mlp(hidden: [16]), data, seed: 2), data, 1 epoch, optimizer: adam, lr: 0.01)
`);
    // The worker dies (SIGKILL, its parent spared) half-way through writing the first artifact a
    // worker writes: the trained net of whichever of a and b it took first. The counter is shared,
    // so the worker that replaces it is not killed too.
    const r = await rig.run(["--jobs", "1"], { LTH_FAULT: "die@object.data#1", LTH_FAULT_COUNTER: join(rig.dir, "count") });
    const died = r.stages.find((s) => s.status === "failed")!;
    expect(died.id, r.stderr).toMatch(/^[ab]$/);
    expect(died.message).toMatch(/worker process died \(SIGKILL\)/);
    expect(r.ran).toContain(died.id === "a" ? "b" : "a");
    expect(r.summary).toMatchObject({ failed: 1, ran: 4 });
    expect(r.exitCode).toBe(1);
    expect(storeConsistent(rig.store)).toBe(4);
    // Nothing of it was kept: the next run trains that stage alone.
    expect((await rig.run()).ran).toEqual([died.id]);
  });

  it("ends with its parent: a SIGKILLed run leaves no worker training", async () => {
    const rig = new Rig(`let data = synthetic(n: 6000, features: 20, classes: 4, seed: 3)
let a = train(init(mlp(hidden: [64]), data, seed: 1), data, 40 epochs)
`);
    const run = rig.start();
    // The workers are started before the first stage starts.
    await untilEvent(run, (e) => e["type"] === "start", "the first stage's start");
    const pids = await workers(run.pid!);
    expect(pids.length).toBeGreaterThan(0);
    run.kill("SIGKILL");
    await run;
    // However long they take to notice (on a busy machine, a while), they end; if one never
    // does, this test fails at its time limit, the only bound on this wait.
    while (pids.some(alive)) await new Promise((r) => setTimeout(r, 50));
  });
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
  });
});
