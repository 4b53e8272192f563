// `lth codegen`: the generated script is readable (snapshots), type-checks under --strict,
// and builds the very stages `lth run` builds: run, it leaves `lth run` nothing to do.

import { execa } from "execa";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { apiOpsSource } from "../../compiler/codegen/api-ops.js";
import { codegen } from "../../compiler/codegen/script.js";
import { checkProgram } from "../../dsl/check/index.js";
import { parseRun } from "../runtime/rig.js";
import { withTest } from "../support/children.js";

const repo = join(import.meta.dirname, "../..");
const cli = join(repo, "dist/cli.js");
const fixtures = join(repo, "tests/fixtures/codegen");
/** Inside the package, so a script's `import ... from "lth"` resolves by self-reference. */
const artifacts = join(repo, "tests/artifacts/codegen");

function generate(lth: string, out: string): string {
  const checked = checkProgram(lth);
  if (!("ok" in checked) || !checked.ok) throw new Error(`${lth} does not check`);
  return codegen(checked.program, { out });
}

describe("the API's op methods", () => {
  it("are generated from the op table, and the generated file is current", () => {
    const file = join(repo, "runtime/api/ops.generated.ts");
    if (process.env["UPDATE_API"]) writeFileSync(file, apiOpsSource());
    expect(readFileSync(file, "utf8")).toBe(apiOpsSource());
  });
});

describe("lth codegen", () => {
  for (const name of readdirSync(fixtures)) {
    it(`writes the expected script for ${name}/main.lth`, () => {
      const dir = join(fixtures, name);
      const text = generate(join(dir, "main.lth"), join(dir, "main.ts"));
      const expected = join(dir, "expected.ts");
      if (process.env["UPDATE_FIXTURES"]) writeFileSync(expected, text);
      // A missing expectation is a failure, never written from the output it is meant to check.
      if (!existsSync(expected)) throw new Error(`${expected} is missing: review the script, then create it with UPDATE_FIXTURES=1`);
      expect(text).toBe(readFileSync(expected, "utf8"));
    });
  }

  it("writes scripts that type-check under tsc --strict for every shipped pipeline and fixture", async () => {
    rmSync(artifacts, { recursive: true, force: true });
    mkdirSync(artifacts, { recursive: true });
    const sources = [
      // Files only: after the README's `lth run pipelines/quickstart.lth`, pipelines/ also holds its store, the folder `.lth`.
      ...readdirSync(join(repo, "pipelines"), { withFileTypes: true })
        .filter((e) => e.isFile() && e.name.endsWith(".lth"))
        .map((e) => join(repo, "pipelines", e.name)),
      ...readdirSync(fixtures).map((n) => join(fixtures, n, "main.lth")),
    ];
    const scripts = sources.map((source, i) => {
      const out = join(artifacts, `script${i}.ts`);
      writeFileSync(out, generate(source, out));
      return out;
    });
    const tsc = join(repo, "node_modules/typescript/bin/tsc");
    const r = await withTest(execa(process.execPath, [tsc, "--strict", "--noEmit", "--module", "nodenext", "--moduleResolution", "nodenext", "--target", "es2022", "--skipLibCheck", ...scripts], { reject: false }));
    expect(r.stdout + r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
  });

  it("writes a script that, run with tsx, leaves nothing for lth run to do", async () => {
    const dir = join(artifacts, "run");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(fixtures)) cpSync(join(fixtures, name, "main.lth"), join(dir, `${name}.lth`));
    for (const name of readdirSync(fixtures)) {
      const out = join(dir, `${name}.ts`);
      const generated = await withTest(execa(process.execPath, [cli, "codegen", join(dir, `${name}.lth`), "-o", out], { reject: false }));
      expect(generated.exitCode).toBe(0);
      const script = await withTest(execa(process.execPath, [join(repo, "node_modules/tsx/dist/cli.mjs"), out], { cwd: repo, reject: false }));
      expect(script.exitCode, script.stderr).toBe(0);
      expect(script.stdout).toMatch(/\d+ ran, 0 cached, 0 failed/);
      const run = await withTest(execa(process.execPath, [cli, "run", join(dir, `${name}.lth`), "--json"], { reject: false }));
      const result = parseRun(run.stdout, run.exitCode ?? -1, run.stderr);
      expect(result.summary.ran).toBe(0);
      expect(result.summary.cached).toBeGreaterThan(5);
    }
  });
});

describe("the .lth file's comments", () => {
  it("stay with the statements they stand above", () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-codegen-comments-"));
    const file = join(dir, "main.lth");
    writeFileSync(file, "// The data.\nlet data = synthetic(n: 100, features: 4, classes: 2)\n\n/* The net,\n   fresh. */\nlet net0 = init(mlp(hidden: [4]), data)\nlet t = train(net0, data, 1 epoch) // trailing\n");
    const text = generate(file, join(dir, "main.ts"));
    expect(text).toContain("// The data.\n// main.lth:2\nconst data = ");
    expect(text).toContain("/* The net,\n   fresh. */\n// main.lth:6\nconst net0 = ");
  });
});
