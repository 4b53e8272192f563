// Crash points and a full disk. LTH_FAULT (runtime/store/faults.ts) stops a run with SIGKILL,
// or fails a write with ENOSPC, at a chosen arrival at a chosen point of the store's write
// path: half an artifact written, written but not renamed, renamed; the same for index
// entries, the pipeline record and the lock. After each, the store must be consistent, and
// the run that follows must finish with the keys of a run that was never interrupted.

import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Rig, SMALL_IMP, storeConsistent, type RunResult } from "./rig.js";

// One uninterrupted run: the keys every interrupted one must end with, and a store that
// tests needing a finished store copy (each its own copy) instead of training again.
let reference: Rig;
let uninterrupted: RunResult;
beforeAll(async () => {
  reference = new Rig(SMALL_IMP);
  uninterrupted = await reference.run();
  expect(uninterrupted.summary.ran).toBe(14);
});

/** A rig of its own whose store holds every stage of SMALL_IMP (a copy of the reference's). */
const computed = () => new Rig(SMALL_IMP).copyStore(reference);

/** A small deterministic generator, so the crash points chosen are the same on every run. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

function tempLeftovers(store: string): string[] {
  const tmp = join(store, "tmp");
  return existsSync(tmp) ? readdirSync(tmp, { recursive: true }).map(String) : [];
}

async function finishes(rig: Rig): Promise<void> {
  const resumed = await rig.run();
  expect(resumed.exitCode, resumed.stderr).toBe(0);
  expect(resumed.stderr).not.toContain("waiting for another lth process");
  expect(resumed.keys).toEqual(uninterrupted.keys);
  expect(storeConsistent(rig.store)).toBe(14);
  expect(tempLeftovers(rig.store)).toEqual([]);
  expect((await rig.run()).summary.ran).toBe(0);
}

describe("a run killed with SIGKILL at a crash point of the write path", () => {
  it("leaves a consistent store at every point, and the next run finishes with the uninterrupted keys", async () => {
    const random = lcg(8);
    // The lock's marker is written by a store's first run only, so its points come first.
    const points = ["lock.data", "lock.rename", "lock.done", "object.data", "object.rename", "object.done", "record.data", "record.rename", "record.done", "pipeline.data", "pipeline.rename"];
    const rig = new Rig(SMALL_IMP);
    let killed = 0;
    let held = storeConsistent(rig.store);
    for (const point of points) {
      // An early arrival, so that the kill lands while stages are still left to run.
      const nth = point.startsWith("pipeline") || point.startsWith("lock") ? 1 : 1 + Math.floor(random() * 3);
      const counter = join(rig.dir, `count-${point}`);
      const r = await rig.start([], { LTH_FAULT: `kill@${point}#${nth}`, LTH_FAULT_COUNTER: counter });
      expect(r.signal === "SIGKILL" || r.exitCode === 0, `${point}#${nth}: ${r.stderr}`).toBe(true);
      if (r.signal === "SIGKILL") killed++;
      const now = storeConsistent(rig.store);
      // Nothing finished is ever lost.
      expect(now, point).toBeGreaterThanOrEqual(held);
      held = now;
    }
    expect(killed).toBeGreaterThanOrEqual(points.length - 1);
    await finishes(rig);
  });

  it("kills from inside a training worker take the whole run down, and nothing of that stage is recorded", async () => {
    const rig = new Rig(SMALL_IMP);
    // The 3rd artifact is the first that a worker writes: dense's trained weights (the parent writes data and net0).
    const r = await rig.start(["--jobs", "1"], { LTH_FAULT: "kill@object.rename#3", LTH_FAULT_COUNTER: join(rig.dir, "count") });
    expect(r.signal).toBe("SIGKILL");
    const events = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l) as { type: string; id?: string; status?: string });
    const started = events.filter((e) => e.type === "start").map((e) => e.id);
    expect(started).toContain("dense");
    expect(events.filter((e) => e.type === "stage" && e.status === "ran").map((e) => e.id)).not.toContain("dense");
    expect(storeConsistent(rig.store)).toBe(2);
    expect(tempLeftovers(rig.store).length).toBeGreaterThan(0);
    await finishes(rig);
  });
});

describe("a run killed with SIGKILL again and again, at seeded-random crash points", () => {
  it("loses nothing finished each time, and the run that gets through has the uninterrupted keys", async () => {
    // Each attempt is killed at the n-th arrival at a point of the write path, both drawn from a
    // seeded generator, so the kills land at the same places on every machine at any speed. Every
    // stage left to run writes one artifact and then one index entry (the stage whose artifact a
    // kill left whole but unrecorded writes only the entry), so with R stages left, the n-th
    // entry for n ≤ R and the n-th artifact for n ≤ R − 1 are arrivals that will come: every
    // attempt is a kill, one to three stages on from the last, over the whole pipeline.
    const random = lcg(21);
    const points = ["object.data", "object.rename", "object.done", "record.data", "record.rename", "record.done"] as const;
    const rig = new Rig(SMALL_IMP);
    let held = 0;
    const kills: string[] = [];
    for (let attempt = 0; attempt < 12; attempt++) {
      const left = 14 - held;
      if (left === 0) break;
      let point: (typeof points)[number] = points[Math.floor(random() * points.length)]!;
      if (point.startsWith("object") && left === 1) point = "record.done";
      const nth = 1 + Math.floor(random() * Math.min(3, point.startsWith("object") ? left - 1 : left));
      const r = await rig.start([], { LTH_FAULT: `kill@${point}#${nth}`, LTH_FAULT_COUNTER: join(rig.dir, `count-${attempt}`) });
      expect(r.signal, `${point}#${nth} with ${left} stages left: ${r.stderr}`).toBe("SIGKILL");
      kills.push(`${point}#${nth}`);
      const now = storeConsistent(rig.store);
      // Nothing finished is ever lost; a kill at an index entry's n-th arrival has exactly the
      // entries before it in place (and that one too, at .done).
      expect(now, `${point}#${nth}`).toBeGreaterThanOrEqual(held);
      if (point.startsWith("record")) expect(now, `${point}#${nth}`).toBe(held + nth - (point === "record.done" ? 0 : 1));
      held = now;
    }
    expect(kills.length).toBeGreaterThanOrEqual(8);
    await finishes(rig);
  });
});

describe("a stale lock", () => {
  it("left by a process on another machine whose heartbeat stopped a minute ago is taken over without waiting", async () => {
    const rig = new Rig(SMALL_IMP).copyStore(reference);
    mkdirSync(join(rig.store, "store.lock"));
    writeFileSync(join(rig.store, "store.owner"), JSON.stringify({ pid: 1, host: "another-machine" }));
    const minuteAgo = new Date(Date.now() - 60_000);
    utimesSync(join(rig.store, "store.lock"), minuteAgo, minuteAgo);
    const r = await rig.run();
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("waiting");
    expect(r.summary).toMatchObject({ ran: 0, cached: 14 });
    expect(r.keys).toEqual(uninterrupted.keys);
  });
});

describe("a full disk (ENOSPC)", () => {
  const noSpace = /cannot write .*\.lth\/.*: ENOSPC: no space left on device.*the disk is full: free some space \(`lth gc PIPELINE…` removes what no pipeline needs\) and run again/;

  it("fails the stage whose artifact could not be written, in a worker or in the parent, and blocks only what needs it", async () => {
    for (const [nth, id] of [
      [2, "net0"],
      [3, "dense"],
    ] as const) {
      const rig = new Rig(SMALL_IMP);
      const r = await rig.run(["--jobs", "1"], { LTH_FAULT: `enospc@object.data#${nth}`, LTH_FAULT_COUNTER: join(rig.dir, "count") });
      expect(r.exitCode).toBe(1);
      const failed = r.stages.filter((s) => s.status === "failed" && !s.blocked);
      expect(failed.map((s) => s.id)).toEqual([id]);
      expect(failed[0]!.message).toMatch(noSpace);
      expect(failed[0]!.message).not.toMatch(/\n\s+at /);
      expect(r.summary.failed).toBe(14 - (id === "net0" ? 1 : 2));
      expect(storeConsistent(rig.store)).toBe(id === "net0" ? 1 : 2);
      expect(tempLeftovers(rig.store)).toEqual([]);
      await finishes(rig);
    }
  });

  it("fails a stage whose index entry could not be written, and keeps the rest", async () => {
    const rig = new Rig(SMALL_IMP);
    const r = await rig.run(["--jobs", "1"], { LTH_FAULT: "enospc@record.rename#3", LTH_FAULT_COUNTER: join(rig.dir, "count") });
    expect(r.exitCode).toBe(1);
    const failed = r.stages.filter((s) => s.status === "failed" && !s.blocked);
    expect(failed).toHaveLength(1);
    expect(failed[0]!.message).toMatch(/^could not record the result in the store: cannot write .*stages.*ENOSPC/);
    expect(storeConsistent(rig.store)).toBe(2);
    await finishes(rig);
  });

  it("only warns when the pipeline's fingerprints cannot be saved: every result is kept", async () => {
    const rig = new Rig(SMALL_IMP);
    const r = await rig.run([], { LTH_FAULT: "enospc@pipeline.data#1" });
    expect(r.exitCode).toBe(0);
    expect(r.summary.ran).toBe(14);
    const warning = r.lines.find((l) => l["type"] === "warning");
    expect(warning?.["message"]).toMatch(/fingerprints were not saved for the next plan: cannot write .*pipelines.*ENOSPC/);
    await finishes(rig);
  });

  it("stops before anything runs when the lock cannot be written, with one line and no stack trace", async () => {
    const rig = new Rig(SMALL_IMP);
    const r = await rig.start([], { LTH_FAULT: "enospc@lock.data#1" });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^lth: cannot write .*\.lth\/store: ENOSPC: no space left on device.*the disk is full/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(storeConsistent(rig.store)).toBe(0);
    await finishes(rig);
  });
});

describe("a damaged store", () => {
  /** The store file holding a stage's output in the uninterrupted run (and in each copy of its store). */
  const artifactOf = (rig: Rig, id: string) => {
    const digest = uninterrupted.stages.find((s) => s.id === id)!.output!;
    return join(rig.store, "objects", digest.slice(0, 2), `${digest}.safetensors`);
  };

  // net0 is recomputed in the parent process, dense in a worker.
  for (const [what, id, damage] of [
    ["truncated", "net0", (file: string) => truncateSync(file, 100)],
    ["replaced by another stage's whole, valid artifact", "dense", (file: string, rig: Rig) => copyFileSync(artifactOf(rig, "net0"), file)],
    ["deleted", "net0", (file: string) => rmSync(file)],
  ] as const) {
    it(`with an artifact ${what}: show refuses it, plan names it, and run recomputes that stage alone`, async () => {
      const rig = computed();
      const file = artifactOf(rig, id);
      damage(file, rig);
      const show = await rig.lth(["show", rig.file, id]);
      expect(show.exitCode).not.toBe(0);
      expect(show.stdout).toBe("");
      const why = what === "deleted" ? "is missing from the store" : "does not match its content hash";
      expect(show.stderr).toContain(`'${id}': its stored result is damaged (${file} ${why}), so it is not shown`);
      const plan = JSON.parse((await rig.lth(["plan", rig.file, "--json"])).stdout) as { id: string; status: string; reason?: { kind: string } }[];
      expect(plan.filter((p) => p.status === "run" && p.reason?.kind !== "upstream").map((p) => [p.id, p.reason?.kind])).toEqual([[id, "damaged"]]);
      const rerun = await rig.run();
      expect(rerun.ran).toEqual([id]);
      expect(rerun.keys).toEqual(uninterrupted.keys);
      expect(storeConsistent(rig.store)).toBe(14);
      expect((await rig.lth(["show", rig.file, id])).exitCode).toBe(0);
    });
  }

  it("with an index entry that is not whole JSON: that stage reruns, and nothing else", async () => {
    const rig = computed();
    const key = uninterrupted.keys.get("rounds[1].pruned")!;
    writeFileSync(join(rig.store, "stages", key.slice(0, 2), `${key}.json`), '{"key": "');
    const rerun = await rig.run();
    expect(rerun.ran).toEqual(["rounds[1].pruned"]);
    expect(storeConsistent(rig.store)).toBe(14);
  });
});
