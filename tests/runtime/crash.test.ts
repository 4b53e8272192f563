// A run killed with SIGKILL loses nothing finished and serves nothing half-written: the
// rerun (after recovering the dead run's lock) finishes with the keys of an uninterrupted run.

import { readdirSync, readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rig, SMALL_IMP } from "./rig.js";

/** Slow enough that a kill lands mid-training. */
const LONGER = SMALL_IMP.replace("n: 600", "n: 6000").replace(/2 epochs/g, "3 epochs");

/** Every index entry names an artifact whose bytes match its name. */
function storeConsistent(store: string): number {
  const stages = join(store, "stages");
  let checked = 0;
  for (const entry of readdirSync(stages, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const record = JSON.parse(readFileSync(join(entry.parentPath, entry.name), "utf8")) as { output: { digest: string; ext: string } };
    const bytes = readFileSync(join(store, "objects", record.output.digest.slice(0, 2), `${record.output.digest}.${record.output.ext}`));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(record.output.digest);
    checked++;
  }
  return checked;
}

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
