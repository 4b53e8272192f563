// The `lth` command as a user runs it: the built CLI in a child process (npm test builds
// it first), its output formats, exit statuses, and that `check` writes nothing.

import { execa } from "execa";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { OPS } from "../dsl/ops.js";
import { withTest } from "./support/children.js";

const repo = join(import.meta.dirname, "..");
const cli = join(repo, "dist/cli.js");
const fixtures = join(repo, "tests/fixtures");

function lth(args: string[], cwd = repo) {
  return withTest(execa(process.execPath, [cli, ...args], { cwd, reject: false }));
}

/**
 * The shipped pipelines' names: files only. After the README's first command
 * (`npx lth run pipelines/quickstart.lth`), pipelines/ also holds that run's store, a
 * folder named `.lth`, which is no pipeline.
 */
function shippedPipelines(): string[] {
  return readdirSync(join(repo, "pipelines"), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".lth"))
    .map((e) => e.name)
    .sort();
}

/** A scratch copy of a fixture folder. */
function scratch(from: string): string {
  const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
  cpSync(from, dir, { recursive: true });
  return dir;
}

/**
 * The data files tests/fixtures/valid/every-form.lth names, made (empty) in a scratch copy of
 * that folder: `lth check` looks for them. Returns their top-level names.
 */
function addEveryFormData(dir: string): string[] {
  for (const f of ["train-images.gz", "train-labels.gz", "t10k-images.gz", "t10k-labels.gz"]) writeFileSync(join(dir, f), "");
  mkdirSync(join(dir, "cifar-10-batches-bin"));
  for (const f of ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"]) {
    writeFileSync(join(dir, "cifar-10-batches-bin", f), "");
  }
  return ["cifar-10-batches-bin", "t10k-images.gz", "t10k-labels.gz", "train-images.gz", "train-labels.gz"];
}

/** Every file under `dir` with its size and modification time. */
function snapshot(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .map((e) => {
      const path = join(e.parentPath, e.name);
      const s = statSync(path);
      return `${path} ${e.isFile() ? s.size : "dir"} ${s.mtimeMs}`;
    })
    .sort();
}

describe("lth check", () => {
  it("exits 0 and prints no diagnostics for the shipped pipelines, which are all formatted", async () => {
    const shipped = shippedPipelines();
    expect(shipped.length).toBeGreaterThanOrEqual(4);
    const r = await lth(["check", "pipelines"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`checked ${shipped.length} files: no problems`);
    expect((await lth(["fmt", "--check", "pipelines"])).exitCode).toBe(0);
  });

  it("prints one editor-style line per problem, in order, and exits 1", async () => {
    const r = await lth(["check", "experiment.lth"], join(fixtures, "readme"));
    expect(r.exitCode).toBe(1);
    expect(r.stdout.split("\n")).toEqual([
      "experiment.lth:7:20: error: 'rate' expects a Percent; found a Number; write 20% for a percentage",
      "experiment.lth:9:51: error: unknown op 'trian'; did you mean 'train'?",
    ]);
    expect(r.stderr).toBe("checked 1 file: 2 errors");
  });

  it("names files as they were given, and sorts each file's problems by position", async () => {
    const r = await lth(["check", "tests/fixtures/check/mixed--one-error-each/main.lth", "tests/fixtures/readme/experiment.lth"]);
    expect(r.exitCode).toBe(1);
    const lines = r.stdout.split("\n");
    expect(lines.map((l) => l.split(": error")[0])).toEqual([
      "tests/fixtures/check/mixed--one-error-each/main.lth:3:13",
      "tests/fixtures/check/mixed--one-error-each/main.lth:4:27",
      "tests/fixtures/check/mixed--one-error-each/main.lth:5:72",
      "tests/fixtures/check/mixed--one-error-each/main.lth:6:25",
      "tests/fixtures/readme/experiment.lth:7:20",
      "tests/fixtures/readme/experiment.lth:9:51",
    ]);
  });

  it("--json prints the documented objects", async () => {
    const r = await lth(["check", "--json", "tests/fixtures/check/syntax--several-errors/main.lth"]);
    expect(r.exitCode).toBe(1);
    const diagnostics = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(diagnostics).toHaveLength(4);
    expect(Object.keys(diagnostics[0]!)).toEqual(["file", "line", "column", "endLine", "endColumn", "severity", "code", "message"]);
    expect(diagnostics[0]).toMatchObject({ file: "tests/fixtures/check/syntax--several-errors/main.lth", line: 1, column: 30, endLine: 1, endColumn: 31, severity: "error", code: "syntax" });
    expect(r.stderr).toBe("");
  });

  it("--json prints an empty array for a clean file", async () => {
    const r = await lth(["check", "--json", "pipelines/quickstart.lth"]);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it("writes nothing to disk, whether the file is clean or not", async () => {
    const dir = scratch(join(fixtures, "valid"));
    addEveryFormData(dir);
    cpSync(join(fixtures, "readme/experiment.lth"), join(dir, "experiment.lth"));
    const before = snapshot(dir);
    expect((await lth(["check", "every-form.lth"], dir)).exitCode).toBe(0);
    expect((await lth(["check", "--json", "experiment.lth"], dir)).exitCode).toBe(1);
    expect(snapshot(dir)).toEqual(before);
  });

  it("checks every .lth file below a folder given instead of a file", async () => {
    const r = await lth(["check", "pipelines"]);
    const count = shippedPipelines().length;
    expect([r.exitCode, r.stdout, r.stderr]).toEqual([0, "", `checked ${count} files: no problems`]);
    const bad = await lth(["check", "tests/fixtures/readme"]);
    expect(bad.stdout.split("\n")[0]).toMatch(/^tests\/fixtures\/readme\/experiment\.lth:7:20: error: /);
    const empty = await lth(["check", "dsl/commands"]);
    expect([empty.exitCode, empty.stderr]).toEqual([2, "lth check: no .lth files in dsl/commands"]);
  });

  it("in a folder, reads .lth files only: not a store beside a pipeline, not a folder named *.lth", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    const clean = "let data = synthetic(n: 20, features: 2, classes: 2)\n";
    writeFileSync(join(dir, "a.lth"), clean);
    // A real store, as `lth run` leaves it beside the pipeline: the folder `.lth`.
    const run = await lth(["run", "a.lth"], dir);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(statSync(join(dir, ".lth")).isDirectory()).toBe(true);
    // The store named on the command line holds no pipeline: a usage error, not EISDIR.
    const store = await lth(["check", ".lth"], dir);
    expect([store.exitCode, store.stderr]).toEqual([2, "lth check: no .lth files in .lth"]);
    writeFileSync(join(dir, ".lth/stray.lth"), "let broken = (\n");
    mkdirSync(join(dir, "results.lth"));
    writeFileSync(join(dir, "results.lth/b.lth"), clean);
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub/c.lth"), clean);
    writeFileSync(join(dir, ".hidden.lth"), "let broken = (\n");
    symlinkSync(join(dir, "a.lth"), join(dir, "linked.lth"));
    symlinkSync(dir, join(dir, "sub/loop"));

    const r = await lth(["check", "--json", "."], dir);
    expect([r.exitCode, JSON.parse(r.stdout)]).toEqual([0, []]);
    const text = await lth(["check", "."], dir);
    expect([text.exitCode, text.stdout, text.stderr]).toEqual([0, "", "checked 4 files: no problems"]);
    expect((await lth(["fmt", "--check", "."], dir)).exitCode).toBe(0);
  });

  it("finds a missing data file before anything runs: at its argument, from the pipeline's folder, suggesting the .gz beside it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    mkdirSync(join(dir, "fashion"));
    for (const f of ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]) writeFileSync(join(dir, "fashion", f), "");
    writeFileSync(
      join(dir, "fashion/exp.lth"),
      `let data = idx("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")\nlet net0 = init(lenet_300_100(), data)\n`,
    );
    // Run from the folder above: the paths are the pipeline's, not the working directory's.
    const r = await lth(["check", "--json", "fashion/exp.lth"], dir);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual([
      {
        file: "fashion/exp.lth",
        line: 1,
        column: 16,
        endLine: 1,
        endColumn: 41,
        severity: "error",
        code: "data-not-found",
        message: `'images': "train-images-idx3-ubyte" does not exist (a relative path is read from the folder of "exp.lth"); did you mean "train-images-idx3-ubyte.gz"?`,
      },
    ]);
    writeFileSync(join(dir, "fashion/train-images-idx3-ubyte"), "");
    expect((await lth(["check", "fashion/exp.lth"], dir)).exitCode).toBe(0);
  });

  it("exits 2 for a file that does not exist, naming it", async () => {
    const r = await lth(["check", "nowhere.lth"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("cannot read nowhere.lth: no such file");
  });

  it("exits 2 on a usage error", async () => {
    expect((await lth(["check"])).exitCode).toBe(2);
    expect((await lth(["check", "--frobnicate", "pipelines/quickstart.lth"])).exitCode).toBe(2);
    expect((await lth(["frobnicate"])).exitCode).toBe(2);
  });
});

describe("lth fmt", () => {
  it("--check lists an unformatted file, changes nothing, and exits 1", async () => {
    const dir = scratch(join(fixtures, "format"));
    const before = readFileSync(join(dir, "comments.lth"), "utf8");
    const r = await lth(["fmt", "--check", "comments.lth"], dir);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe("comments.lth: not formatted");
    expect(readFileSync(join(dir, "comments.lth"), "utf8")).toBe(before);
  });

  it("rewrites a file into a form that --check accepts and that checks the same", async () => {
    const dir = scratch(join(fixtures, "valid"));
    const data = addEveryFormData(dir);
    expect((await lth(["fmt", "every-form.lth"], dir)).stdout).toBe("formatted every-form.lth");
    expect((await lth(["fmt", "--check", "every-form.lth"], dir)).exitCode).toBe(0);
    const r = await lth(["check", "every-form.lth"], dir);
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
    expect(readdirSync(dir).sort()).toEqual([...data, "every-form.lth", "shared"].sort());
  });

  it("leaves a file with syntax errors untouched, reports them, and exits 2", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    writeFileSync(join(dir, "bad.lth"), "let a = f(\n");
    const r = await lth(["fmt", "bad.lth"], dir);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe("bad.lth:1:11: error: expected ')' but found the end of the file");
    expect(readFileSync(join(dir, "bad.lth"), "utf8")).toBe("let a = f(\n");
  });
});

describe("lth ops", () => {
  it("lists every op of the table with its signature", async () => {
    const r = await lth(["ops"]);
    expect(r.exitCode).toBe(0);
    for (const name of OPS.keys()) expect(r.stdout).toContain(`  ${name}(`);
    expect(r.stdout).toContain("train(net: Net, data: Dataset, length: Duration, lr: Number = 0.1, batch: Int = 60, optimizer: sgd|momentum|adam = sgd");
  });

  it("--json gives each op's parameters with types, bounds and defaults", async () => {
    const r = await lth(["ops", "--json"]);
    const table = JSON.parse(r.stdout) as { languageVersion: number; ops: { name: string; params: { name: string; required: boolean; default?: string }[] }[] };
    expect(table.languageVersion).toBe(0);
    expect(table.ops.map((o) => o.name)).toEqual([...OPS.keys()]);
    const prune = table.ops.find((o) => o.name === "prune")!;
    expect(prune.params.find((p) => p.name === "output_rate")).toMatchObject({ required: false, default: "rate" });
    expect(prune.params.find((p) => p.name === "rate")).toMatchObject({ required: true });
  });
});

describe("the README", () => {
  const readme = readFileSync(join(repo, "README.md"), "utf8");

  it("shows the example file exactly", () => {
    const example = /```lth\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toBe(readFileSync(join(fixtures, "readme/experiment.lth"), "utf8"));
  });

  it("shows what lth run really prints for the quickstart, stage by stage", async () => {
    const shown = /```console\n\$ npx lth run pipelines\/quickstart\.lth\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
    // The pipeline alone, into a fresh store: a store the user already has (pipelines/.lth after
    // the README's first command, or $LTH_STORE) would turn these `ran` lines into `cached` ones.
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    cpSync(join(repo, "pipelines/quickstart.lth"), join(dir, "quickstart.lth"));
    const r = await withTest(execa(process.execPath, [cli, "run", join(dir, "quickstart.lth"), "--store", join(dir, "fresh-store")], { reject: false }));
    expect(r.exitCode).toBe(0);
    // Stage lines and the summary, without timings (the backend line depends on the machine).
    const stages = (text: string) =>
      text
        .split("\n")
        .filter((l) => /^(ran|cached|failed|blocked) |^\d+ ran,/.test(l))
        .map((l) => l.replace(/, [\d.]+ s\)/, ")").replace(/ in [\d.]+ s$/, ""));
    expect(stages(r.stdout)).toEqual(stages(shown));
    expect(stages(shown)).toHaveLength(15);
  });

  it("its standard recipe checks clean but for the CIFAR-10 folder it names", async () => {
    const recipe = [...readme.matchAll(/```lth\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes("replicate"));
    expect(recipe).toBeDefined();
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    writeFileSync(join(dir, "recipe.lth"), recipe!);
    const r = await lth(["check", "recipe.lth", "--json"], dir);
    const diagnostics = JSON.parse(r.stdout) as { code: string }[];
    expect(diagnostics.map((d) => d.code)).toEqual(["data-not-found"]);
  });

  it("shows what lth check really prints for it", async () => {
    const shown = /```console\n\$ npx lth check experiment\.lth\n([\s\S]*?)```/.exec(readme)?.[1];
    const r = await lth(["check", "experiment.lth"], join(fixtures, "readme"));
    expect(shown).toBe(`${r.stdout}\n`);
  });

  it("is right that the example checks clean once its two mistakes are fixed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-cli-"));
    const fixed = readFileSync(join(fixtures, "readme/experiment.lth"), "utf8").replace("prune(0.2,", "prune(20%,").replace("trian(", "train(");
    writeFileSync(join(dir, "experiment.lth"), fixed);
    const r = await lth(["check", "experiment.lth"], dir);
    expect([r.exitCode, r.stdout]).toEqual([0, ""]);
  });

  it("shows the quickstart's stage graph exactly as lth graph prints it", async () => {
    const shown = /```mermaid\n([\s\S]*?)```/.exec(readme)?.[1];
    const r = await lth(["graph", "pipelines/quickstart.lth", "--format", "mermaid"]);
    expect(shown).toBe(`${r.stdout}\n`);
  });

  it("opens with the two commands a new user types: install and run the quickstart, and the tests", () => {
    expect(/```sh\n([\s\S]*?)```/.exec(readme)?.[1]).toBe("npm install && npx lth run pipelines/quickstart.lth\nnpm test\n");
  });
});
