// `lth gc` on a store that several pipelines share (one `--store`, or `$LTH_STORE`): gc of one
// file keeps what the others recorded there; `--only-given` removes that too; `--dry-run`
// lists what would go, and its bytes, and removes nothing; a record whose pipeline file is
// gone is kept and named until `--forget-missing`.

import { execa } from "execa";
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { withTest } from "../support/children.js";

const cli = join(import.meta.dirname, "../../dist/cli.js");

/** Two pipelines that share their data and initial net, each with results of its own. */
const A = `let data = synthetic(n: 300, features: 8, classes: 3, seed: 3)
let net0 = init(mlp(hidden: [16]), data, seed: 7)
let dense = train(net0, data, 1 epoch, lr: 0.05)
`;
const B = `let data = synthetic(n: 300, features: 8, classes: 3, seed: 3)
let net0 = init(mlp(hidden: [16]), data, seed: 7)
let longer = train(net0, data, 2 epochs, lr: 0.05)
let sparse = prune(longer, 50%)
`;

interface Summary {
  ran: number;
  cached: number;
  failed: number;
}

interface GcReport {
  store: string;
  dryRun: boolean;
  kept: number;
  keptForOthers: number;
  keptForMissing: number;
  removedStages: number;
  removedArtifacts: number;
  bytesFreed: number;
  otherPipelines: { file: string; exists: boolean; stages: number; forgotten: boolean }[];
  removed: { stages: { key: string; op: string; digest: string }[]; artifacts: { digest: string; bytes: number }[]; records: string[] };
}

/** A folder with pipelines a.lth and b.lth and one store, `shared`, outside it as `--store` puts it. */
class SharedStore {
  readonly dir = mkdtempSync(join(tmpdir(), "lth-gc-"));
  readonly store = join(this.dir, "shared");

  constructor(files: Record<string, string> = { "a.lth": A, "b.lth": B }) {
    for (const [name, text] of Object.entries(files)) this.write(name, text);
  }

  write(name: string, text: string): void {
    writeFileSync(join(this.dir, name), text);
  }

  lth(args: string[]) {
    return withTest(execa(process.execPath, [cli, ...args, "--store", this.store], { cwd: this.dir, reject: false }));
  }

  async run(name: string): Promise<Summary> {
    const r = await this.lth(["run", name, "--json", "--jobs", "1"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split("\n").pop()!) as Summary & { type: string };
    expect(last.type).toBe("summary");
    return last;
  }

  async gc(args: string[]): Promise<{ report: GcReport; stderr: string }> {
    const r = await this.lth(["gc", ...args, "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    return { report: JSON.parse(r.stdout) as GcReport, stderr: r.stderr };
  }

  /** Every file of the store with its size, sorted: what a removal would change. */
  files(): string[] {
    return readdirSync(this.store, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => `${join(e.parentPath, e.name).slice(this.store.length + 1)} ${statSync(join(e.parentPath, e.name)).size}`)
      .sort();
  }

  /** Stage index entries in the store, by key. */
  entries(): string[] {
    return this.files()
      .filter((f) => f.startsWith("stages/"))
      .map((f) => f.split(" ")[0]!.split("/").pop()!.replace(/\.json$/, ""))
      .sort();
  }

  /** Bytes of the store's artifacts with these digests, read from the files themselves. */
  artifactBytes(digests: readonly string[]): number {
    const wanted = new Set(digests);
    return readdirSync(join(this.store, "objects"), { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && wanted.has(e.name.split(".")[0]!))
      .reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0);
  }
}

describe("lth gc --help", () => {
  it("says what is kept by default and names the flags that remove more, or nothing", async () => {
    const r = await withTest(execa(process.execPath, [cli, "gc", "--help"], { reject: false }));
    expect(r.exitCode).toBe(0);
    expect(r.stdout.replace(/\s+/g, " ")).toContain("what every other pipeline recorded in the store (by running it there) needs");
    for (const flag of ["--dry-run", "--only-given", "--forget-missing", "--store <dir>", "--json"]) expect(r.stdout).toContain(flag);
  });
});

describe("lth gc on a store that pipelines share", () => {
  it("keeps what another pipeline recorded in the store: after gc a.lth, b.lth runs nothing", async () => {
    const s = new SharedStore();
    expect(await s.run("a.lth")).toMatchObject({ ran: 3, cached: 0 });
    expect(await s.run("b.lth")).toMatchObject({ ran: 2, cached: 2 });
    const { report } = await s.gc(["a.lth"]);
    expect(report).toMatchObject({ dryRun: false, kept: 5, keptForOthers: 2, removedStages: 0, removedArtifacts: 0, bytesFreed: 0 });
    expect(report.otherPipelines).toEqual([{ file: join(s.dir, "b.lth"), exists: true, stages: 4, forgotten: false }]);
    expect(await s.run("b.lth")).toMatchObject({ ran: 0, cached: 4 });
    expect(await s.run("a.lth")).toMatchObject({ ran: 0, cached: 3 });
  });

  it("still removes the given pipeline's own stale results, and says so in bytes", async () => {
    const s = new SharedStore();
    await s.run("a.lth");
    await s.run("b.lth");
    const before = s.entries();
    s.write("a.lth", A.replace("lr: 0.05", "lr: 0.02"));
    expect(await s.run("a.lth")).toMatchObject({ ran: 1, cached: 2 });
    const { report } = await s.gc(["a.lth"]);
    // The first `dense` goes; b's results and the shared data and net stay.
    expect(report.removed.stages.map((st) => st.op)).toEqual(["train"]);
    expect(before).toContain(report.removed.stages[0]!.key);
    expect(s.entries()).not.toContain(report.removed.stages[0]!.key);
    expect(report.bytesFreed).toBeGreaterThan(0);
    expect(await s.run("b.lth")).toMatchObject({ ran: 0 });
    expect(await s.run("a.lth")).toMatchObject({ ran: 0 });
  });

  it("--dry-run lists what would go and its bytes, removes nothing, and the real gc then removes just that", async () => {
    const s = new SharedStore();
    await s.run("a.lth");
    await s.run("b.lth");
    const before = s.files();

    const text = await s.lth(["gc", "a.lth", "--only-given", "--dry-run"]);
    expect(text.exitCode, text.stderr).toBe(0);
    expect(s.files()).toEqual(before);
    const listed = text.stdout.split("\n").filter((l) => l.startsWith("  "));
    expect(listed.filter((l) => l.startsWith("  stage entry")).map((l) => l.trim().split(/\s+/).pop())).toEqual(expect.arrayContaining(["train", "prune"]));
    expect(listed.filter((l) => l.startsWith("  stage entry"))).toHaveLength(2);
    expect(listed.filter((l) => l.startsWith("  artifact"))).toHaveLength(2);
    expect(text.stdout).toMatch(/would remove 2 stage entries and 2 artifacts, [\d.]+ MB \([\d,]+ bytes\); nothing was removed/);
    expect(text.stderr).toContain(`--only-given: would remove results that 1 other pipeline recorded in this store need`);
    expect(text.stderr).toContain(`${join(s.dir, "b.lth")}: 2 stage entries`);

    const dry = (await s.gc(["a.lth", "--only-given", "--dry-run"])).report;
    expect(s.files()).toEqual(before);
    expect(dry).toMatchObject({ dryRun: true, removedStages: 2, removedArtifacts: 2 });
    // The bytes said are the bytes of the listed artifacts, as the files measure them.
    expect(dry.bytesFreed).toBe(s.artifactBytes(dry.removed.artifacts.map((a) => a.digest)));
    expect(dry.bytesFreed).toBe(dry.removed.artifacts.reduce((n, a) => n + a.bytes, 0));
    const total = (files: string[]) => files.filter((f) => f.startsWith("objects/")).reduce((n, f) => n + Number(f.split(" ")[1]), 0);
    expect(text.stdout).toContain(`(${dry.bytesFreed.toLocaleString("en")} bytes)`);

    const real = (await s.gc(["a.lth", "--only-given"])).report;
    expect(real).toMatchObject({ dryRun: false, removedStages: 2, removedArtifacts: 2, bytesFreed: dry.bytesFreed });
    expect(real.removed.stages.map((st) => st.key).sort()).toEqual(dry.removed.stages.map((st) => st.key).sort());
    expect(total(before) - total(s.files())).toBe(dry.bytesFreed);
  });

  it("--only-given removes what other pipelines need: b.lth's next run recomputes its own stages", async () => {
    const s = new SharedStore();
    await s.run("a.lth");
    await s.run("b.lth");
    const { report } = await s.gc(["a.lth", "--only-given"]);
    expect(report).toMatchObject({ kept: 3, keptForOthers: 0, removedStages: 2 });
    expect(await s.run("a.lth")).toMatchObject({ ran: 0, cached: 3 });
    expect(await s.run("b.lth")).toMatchObject({ ran: 2, cached: 2 });
  });

  it("keeps and names what a pipeline file that no longer exists recorded; --forget-missing drops it and its record", async () => {
    const s = new SharedStore({ "a.lth": A, "b.lth": B, "c.lth": B.replace("prune(longer, 50%)", "prune(longer, 70%)") });
    await s.run("a.lth");
    await s.run("b.lth");
    expect(await s.run("c.lth")).toMatchObject({ ran: 1, cached: 3 });
    renameSync(join(s.dir, "c.lth"), join(s.dir, "c-renamed.lth"));
    const before = s.files();

    const kept = await s.gc(["a.lth"]);
    expect(kept.report).toMatchObject({ removedStages: 0, keptForOthers: 2, keptForMissing: 1 });
    expect(kept.stderr).toContain(`lth gc: kept what a pipeline file that no longer exists recorded: ${join(s.dir, "c.lth")} (1 stage entry only it needs; --forget-missing drops them and its record)`);
    expect(s.files()).toEqual(before);

    const dropped = await s.gc(["a.lth", "--forget-missing"]);
    expect(dropped.report).toMatchObject({ removedStages: 1, keptForOthers: 2, keptForMissing: 0 });
    expect(dropped.report.removed.stages.map((st) => st.op)).toEqual(["prune"]);
    expect(dropped.report.otherPipelines.find((p) => p.file === join(s.dir, "c.lth"))).toMatchObject({ exists: false, forgotten: true });
    const record = dropped.report.removed.records[0]!;
    expect(existsSync(join(s.store, record))).toBe(false);
    expect(dropped.stderr).toContain(`removed the record of a pipeline file that no longer exists, ${join(s.dir, "c.lth")}, and 1 stage entry only it kept`);
    // b.lth's results, shared with the forgotten one but for its own prune, all stay.
    expect(await s.run("b.lth")).toMatchObject({ ran: 0, cached: 4 });
  });

  it("removes nothing while a pipeline record cannot be read, and says how to go on", async () => {
    const s = new SharedStore();
    await s.run("a.lth");
    await s.run("b.lth");
    const records = readdirSync(join(s.store, "pipelines"));
    const damaged = records.find((r) => JSON.parse(readFileSync(join(s.store, "pipelines", r), "utf8")).file === join(s.dir, "b.lth"))!;
    writeFileSync(join(s.store, "pipelines", damaged), "{ not json");
    const before = s.files();
    const r = await s.lth(["gc", "a.lth"]);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`cannot read the pipeline record ${join(s.store, "pipelines", damaged)}, so what its pipeline needs is unknown; nothing was removed`);
    expect(r.stderr).toContain("--only-given");
    expect(s.files()).toEqual(before);
  });
});
