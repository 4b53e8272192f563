// `--executor slurm` before anything is submitted: `lth plan` shows what each tensor stage
// would be submitted as, and site settings come from the options or slurm.json beside the
// pipeline, whose mistakes are named. None of this needs a SLURM cluster.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Rig } from "./rig.js";

const PIPELINE = `let data = synthetic(n: 200, features: 8, classes: 2, seed: 1)
let net = init(mlp(hidden: [8]), data, seed: 2)
let trained = train(net, data, 1 epoch)
let pruned = prune(trained, 50%)
`;

describe("lth plan --executor slurm", () => {
  it("shows the sbatch arguments of each tensor stage it would submit, and only those", async () => {
    const rig = new Rig(PIPELINE);
    const r = await rig.lth(["plan", rig.file, "--executor", "slurm", "--partition", "gpu", "--cpus", "3", "--gres", "--sbatch=--mail-type=FAIL"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    const at = lines.findIndex((l) => /^run\s+trained\s+train/.test(l));
    expect(lines[at + 1]?.trim()).toBe("SLURM job: sbatch --ntasks=1 --cpus-per-task=3 --partition=gpu --mail-type=FAIL");
    expect(lines.filter((l) => l.includes("SLURM job:"))).toHaveLength(1);
    expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(/4 to run \(1 as SLURM jobs\), 0 cached/);

    const json = JSON.parse((await rig.lth(["plan", rig.file, "--json", "--executor", "slurm", "--cpus", "2"])).stdout) as { id: string; sbatch?: string[] }[];
    expect(json.find((s) => s.id === "trained")?.sbatch).toEqual(["--comment=lth stage trained key (known once its inputs have run)", "--ntasks=1", "--cpus-per-task=2"]);
    expect(json.filter((s) => s.sbatch)).toHaveLength(1);
  });

  it("reads site settings from slurm.json beside the pipeline; the options override them", async () => {
    const rig = new Rig(PIPELINE);
    writeFileSync(join(rig.dir, "slurm.json"), JSON.stringify({ partition: "cpu", account: "lab", extra: ["--nice=5"], cpus: 4 }));
    const r = await rig.lth(["plan", rig.file, "--executor", "slurm", "--partition", "short"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("SLURM job: sbatch --ntasks=1 --cpus-per-task=4 --partition=short --account=lab --nice=5");
  });

  it("names the file and the setting at fault in slurm.json, and an unknown executor", async () => {
    const rig = new Rig(PIPELINE);
    const config = join(rig.dir, "slurm.json");
    writeFileSync(config, JSON.stringify({ partiton: "cpu" }));
    let r = await rig.lth(["run", rig.file, "--executor", "slurm"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${config}: unknown setting 'partiton'`);
    writeFileSync(config, JSON.stringify({ cpus: 0 }));
    r = await rig.lth(["plan", rig.file, "--executor", "slurm"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${config}: 'cpus' must be a whole number of at least 1; found 0`);
    writeFileSync(config, "{ partition: cpu");
    r = await rig.lth(["plan", rig.file, "--executor", "slurm"]);
    expect(r.stderr).toContain(`${config}: not JSON`);
    r = await rig.lth(["run", rig.file, "--executor", "pbs"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown executor 'pbs'; use local or slurm");
    // Nothing ran: the store holds no stage.
    expect((await rig.lth(["plan", rig.file])).stdout).toMatch(/4 to run, 0 cached/);
  });
});
