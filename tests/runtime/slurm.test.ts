// The SLURM executor against a real SLURM: a single-node cluster on this machine (start it
// with .ci/slurm-up, which .ci/run does). Where no controller answers, every test here is
// reported skipped, with the reason in the suite's name.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Experiment, epochs, type RunEvent } from "../../index.js";
import { parseRun, Rig, untilEvent } from "./rig.js";

function slurmUnavailable(): string | undefined {
  if (spawnSync("sbatch", ["--version"], { stdio: "ignore" }).status !== 0) return "sbatch is not installed (Debian: apt-get install slurm-wlm munge, then .ci/slurm-up)";
  const nodes = spawnSync("sinfo", ["--noheader", "--states=idle,mixed,allocated"], { encoding: "utf8" });
  if (nodes.status !== 0 || !nodes.stdout.trim()) return `no SLURM controller with a free node answers (${(nodes.stderr || "sinfo found no node").trim().split("\n")[0]}); start one with .ci/slurm-up`;
  return undefined;
}
const why = slurmUnavailable();

/** Fast polling and a short grace: the cluster is local, and its filesystem is this one. */
const ENV = { LTH_SLURM_POLL: "0.2,1", LTH_SLURM_GRACE: "1" };
const SLURM = ["--executor", "slurm"];

const PIPELINE = `let data = mnist(train: 600, test: 200, seed: 1)
let net = init(lenet_300_100(), data, seed: 7)
let dense = train(net, data, 1 epoch, lr: 1.2e-3, optimizer: adam)
let pruned = prune(dense, 50%)
let ticket = train(rewind(pruned, to: net), data, 1 epoch, lr: 1.2e-3, optimizer: adam)
`;

/** A training long enough to be caught running (thousands of steps); each test that uses it ends the job. */
const LONG = `let data = mnist(train: 8000, test: 500, seed: 1)
let net = init(lenet_300_100(), data, seed: 7)
let long = train(net, data, 40 epochs, lr: 1.2e-3, optimizer: adam)
`;

const jobsSeen: string[] = [];
/** Every job a test saw is cancelled when it ends (a no-op for finished ones): jobs are not the test's children. */
afterEach(() => {
  if (jobsSeen.length) spawnSync("scancel", jobsSeen.splice(0), { stdio: "ignore" });
});

const jobEvents = (lines: Record<string, unknown>[]) => lines.filter((l) => l["type"] === "job") as { id: string; job: string; state: string }[];

function scontrol(job: string): Record<string, string> {
  const r = spawnSync("scontrol", ["show", "job", "--oneliner", job], { encoding: "utf8" });
  return Object.fromEntries(
    r.stdout
      .trim()
      .split(/\s+/)
      .map((f) => [f.slice(0, f.indexOf("=")), f.slice(f.indexOf("=") + 1)]),
  );
}

describe.skipIf(why !== undefined)(`the SLURM executor${why ? ` (skipped: ${why})` : ""}`, () => {
  it("runs each tensor stage as a batch job with the keys and bytes of a local run; a rerun submits nothing", async () => {
    const rig = new Rig(PIPELINE);
    const slurm = await rig.run(SLURM, ENV);
    const jobs = jobEvents(slurm.lines);
    jobsSeen.push(...jobs.map((j) => j.job));
    expect(slurm.exitCode, slurm.stderr).toBe(0);
    expect(slurm.summary).toMatchObject({ ran: 6, failed: 0 });
    // Only the trainings went to SLURM; data, init, prune and rewind ran in lth run itself.
    expect(new Set(jobs.filter((j) => j.state === "submitted").map((j) => j.id))).toEqual(new Set(["dense", "ticket"]));
    for (const s of slurm.stages) {
      if (s.id === "dense" || s.id === "ticket") expect((s as unknown as { job: string }).job).toMatch(/^\d+$/);
      else expect(s).not.toHaveProperty("job");
    }

    // One local worker: the threads a job gets by default (native's bytes depend on them).
    const local = await new Rig(PIPELINE).run(["--executor", "local", "--jobs", "1"]);
    expect(slurm.keys).toEqual(local.keys);
    const outputs = (r: typeof local) => Object.fromEntries(r.stages.map((s) => [s.id, s.output]));
    expect(outputs(slurm)).toEqual(outputs(local));
    expect(slurm.stages.find((s) => s.id === "dense")?.backend).toBe(local.stages.find((s) => s.id === "dense")?.backend);

    // What SLURM was given: the stage and key in the comment (with spaces, so read whole), this machine's cores, the log under the store.
    const dense = slurm.stages.find((s) => s.id === "dense")!;
    const job = scontrol((dense as unknown as { job: string }).job);
    expect(spawnSync("scontrol", ["show", "job", (dense as unknown as { job: string }).job], { encoding: "utf8" }).stdout).toContain(`Comment=lth stage dense key ${dense.key}`);
    expect(job["NumCPUs"]).toBe(String(availableParallelism()));
    expect(job["StdOut"]).toBe(join(rig.store, "slurm", dense.key!, "job.log"));
    expect(job["JobState"]).toBe("COMPLETED");

    const again = await rig.run(SLURM, ENV);
    expect(again.summary).toMatchObject({ ran: 0, cached: 6 });
    expect(jobEvents(again.lines)).toEqual([]);
  });

  it("gives each job its op's resources block, and a changed block reruns nothing", async () => {
    const rig = new Rig(`resources train { cpus: 1, mem: 1 GB, time: 30 min }\n${PIPELINE}`);
    const r = await rig.run(SLURM, ENV);
    const jobs = jobEvents(r.lines);
    jobsSeen.push(...jobs.map((j) => j.job));
    expect(r.exitCode, r.stderr).toBe(0);
    const dense = r.stages.find((s) => s.id === "dense") as unknown as { job: string };
    const job = scontrol(dense.job);
    expect(job["NumCPUs"]).toBe("1");
    expect(job["MinMemoryNode"]).toBe("1G");
    expect(job["TimeLimit"]).toBe("00:30:00");
    // Resources are not part of a stage's key.
    rig.write(`resources train { cpus: 2, mem: 2 GB, time: 1 h }\n${PIPELINE}`);
    const again = await rig.run(SLURM, ENV);
    expect(again.summary).toMatchObject({ ran: 0, cached: 6 });
    expect(jobEvents(again.lines)).toEqual([]);
  });

  it("fails a stage whose job is cancelled, as CANCELLED with its log's path, and gives the job the CPUs asked for", async () => {
    const rig = new Rig(LONG);
    const run = rig.start([...SLURM, "--cpus", "1"], ENV);
    const running = (await untilEvent(run, (e) => e["type"] === "job" && e["state"] === "running", "the job running")) as { job: string };
    jobsSeen.push(running.job);
    expect(scontrol(running.job)["NumCPUs"]).toBe("1");
    spawnSync("scancel", [running.job]);
    const r = await run;
    const result = parseRun(r.stdout, r.exitCode ?? -1, r.stderr);
    expect(result.exitCode).toBe(1);
    const long = result.stages.find((s) => s.id === "long")!;
    expect(long.status).toBe("failed");
    expect(long.message).toMatch(new RegExp(`SLURM job ${running.job} ended CANCELLED`));
    expect(long.message).toContain(join(rig.store, "slurm", long.key!, "job.log"));
  });

  it("cancels its jobs on SIGINT, leaving none queued or running", async () => {
    const rig = new Rig(LONG);
    const run = rig.start(SLURM, ENV);
    const running = (await untilEvent(run, (e) => e["type"] === "job" && e["state"] === "running", "the job running")) as { job: string };
    jobsSeen.push(running.job);
    run.kill("SIGINT");
    const r = await run;
    expect(r.exitCode, r.stderr).toBe(130);
    // lth run cancelled it before exiting: SLURM has it as cancelled (once its processes are gone), never pending or running again.
    let state = scontrol(running.job)["JobState"];
    while (state === "COMPLETING") {
      await new Promise((wake) => setTimeout(wake, 100));
      state = scontrol(running.job)["JobState"];
    }
    expect(state).toBe("CANCELLED");
  });

  it("re-attaches to its job after being killed with SIGKILL, instead of submitting another", async () => {
    const rig = new Rig(LONG.replace("40 epochs", "3 epochs"));
    const first = rig.start(SLURM, ENV);
    const running = (await untilEvent(first, (e) => e["type"] === "job" && e["state"] === "running", "the job running")) as { id: string; job: string };
    jobsSeen.push(running.job);
    first.kill("SIGKILL");
    await first;
    expect(existsSync(join(rig.store, "slurm"))).toBe(true);

    // The rerun takes over the dead run's lock, finds the job (still running, or finished with its marker) and waits for it.
    const rerun = await rig.run(SLURM, ENV);
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    expect(jobEvents(rerun.lines).filter((j) => j.state === "submitted")).toEqual([]);
    const long = rerun.stages.find((s) => s.id === "long")!;
    expect(long.status).toBe("ran");
    expect((long as unknown as { job: string }).job).toBe(running.job);
    const submitted = JSON.parse(readFileSync(join(rig.store, "slurm", long.key!, "submitted.json"), "utf8")) as { job: string; attempt: number };
    expect(submitted).toMatchObject({ job: running.job, attempt: 1 });

    const last = await rig.run(SLURM, ENV);
    expect(last.summary.ran).toBe(0);
    expect(jobEvents(last.lines)).toEqual([]);
  });

  it("refuses a job SLURM cannot place, at once, with SLURM's message", async () => {
    const rig = new Rig(PIPELINE);
    const r = await rig.run([...SLURM, "--cpus", "4096"], ENV);
    expect(r.exitCode).toBe(1);
    const dense = r.stages.find((s) => s.id === "dense")!;
    expect(dense.status).toBe("failed");
    // Refused by sbatch, or (where the partition does not enforce its limits at submission) left pending as PartitionConfig and cancelled.
    expect(dense.message).toMatch(/^(sbatch refused the job: .*(CPU|node|Requested)|SLURM cannot place job \d+: PartitionConfig .*4096 CPUs.*cancelled)/i);
    expect(r.stages.find((s) => s.id === "ticket")?.blocked).toBe(true);
  });

  it("takes the executor in the TypeScript API too", async () => {
    const events: RunEvent[] = [];
    const base = mkdtempSync(join(tmpdir(), "lth-slurm-api-"));
    const ex = new Experiment({ base, quiet: true, executor: { kind: "slurm", site: {}, poll: { first: 0.2, max: 1 }, grace: 1 }, onEvent: (e) => events.push(e) });
    const data = ex.mnist({ train: 300, test: 100, seed: 2 });
    ex.train(ex.init(ex.lenet_300_100(), data, { seed: 3 }), data, epochs(1));
    const counts = await ex.run();
    const jobs = events.filter((e): e is Extract<RunEvent, { type: "job" }> => e.type === "job");
    jobsSeen.push(...jobs.map((j) => j.job));
    expect(counts).toMatchObject({ ran: 3, failed: 0 });
    expect(jobs.filter((j) => j.state === "submitted")).toHaveLength(1);
    rmSync(base, { recursive: true, force: true });
  });
});
