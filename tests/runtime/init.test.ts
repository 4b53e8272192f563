// lth outside its repository (issue 20): `lth init DIR` sets up a folder of one's own, and a
// script `lth codegen` writes there, or in a subfolder, runs with tsx and shares the store
// of `lth run` on the pipeline (nothing left to compute).

import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { withTest } from "../support/children.js";
import { cli, parseRun } from "./rig.js";

const repo = join(import.meta.dirname, "../..");
const tsx = join(repo, "node_modules/tsx/dist/cli.mjs");
const lth = (args: string[], cwd: string) => withTest(execa(process.execPath, [cli, ...args], { cwd, reject: false }));

describe("lth init", () => {
  it("writes package.json (ESM, lth and tsx), a sample pipeline and a .gitignore, and overwrites nothing", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "lth-init-")), "My Experiments");
    const r = await lth(["init", dir], tmpdir());
    expect(r.exitCode, r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name: string; type: string; dependencies: Record<string, string> };
    expect(pkg.type).toBe("module");
    expect(pkg.name).toBe("my-experiments");
    expect(pkg.dependencies["lth"]).toBe(`file:${repo}`);
    expect(pkg.dependencies["tsx"]).toBe((JSON.parse(readFileSync(join(repo, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["tsx"]);
    expect(readFileSync(join(dir, ".gitignore"), "utf8")).toContain(".lth/");
    expect((await lth(["check", "experiment.lth"], dir)).exitCode).toBe(0);
    writeFileSync(join(dir, "experiment.lth"), "// mine\n");
    const again = await lth(["init", dir], tmpdir());
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toContain("kept package.json, experiment.lth, .gitignore, which exist already");
    expect(readFileSync(join(dir, "experiment.lth"), "utf8")).toBe("// mine\n");
    expect((await lth(["init", join(dir, "package.json")], tmpdir())).stderr).toContain("is not a folder");
  });

  it("a generated script runs outside the repository, beside the pipeline or below it, on lth run's store", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-outside-"));
    expect((await lth(["init", dir], tmpdir())).exitCode).toBe(0);
    // What `npm install` makes of the file: dependency, without the network.
    mkdirSync(join(dir, "node_modules"));
    symlinkSync(repo, join(dir, "node_modules", "lth"), "dir");
    const pipeline = "let data = synthetic(n: 300, features: 8, classes: 3, seed: 2)\nlet net0 = init(mlp(hidden: [8]), data, seed: 1)\nlet dense = train(net0, data, 2 epochs)\nlet ticket = prune(dense, 50%) |> rewind(to: net0) |> train(data, 2 epochs)\n";
    writeFileSync(join(dir, "experiment.lth"), pipeline);
    const run = await lth(["run", "experiment.lth", "--json"], dir);
    expect(parseRun(run.stdout, run.exitCode ?? -1, run.stderr).summary).toMatchObject({ ran: 6, failed: 0 });
    for (const out of ["experiment.ts", "scripts/again.ts"]) {
      mkdirSync(join(dir, "scripts"), { recursive: true });
      expect((await lth(["codegen", "experiment.lth", "-o", out], dir)).exitCode).toBe(0);
      const script = await withTest(execa(process.execPath, [tsx, out], { cwd: dir, reject: false }));
      expect(script.exitCode, script.stderr).toBe(0);
      expect(script.stdout).toMatch(/0 ran, 6 cached, 0 failed/);
      // Named as lth run names them, after the script's constants: not train#2.
      expect(script.stdout.split("\n").filter((l) => l.startsWith("cached")).map((l) => l.split(/\s+/)[1]).sort()).toEqual(
        ["data", "dense", "net0", "ticket", "ticket/prune", "ticket/rewind"].sort(),
      );
    }
    expect(existsSync(join(dir, "scripts", ".lth"))).toBe(false);
  });
});
