// One fixture folder per case (tests/fixtures/check/<code>--<case>/): main.lth, the files
// it imports, and expected.txt, the diagnostics `lth check main.lth` must report, one a
// line as `file:line:column code: message`. UPDATE_FIXTURES=1 rewrites expected.txt (and
// writes a new case's); without it a case that has no expected.txt fails.

import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram, diskDataFiles, ModuleLoader } from "../../dsl/check/index.js";
import { DIAGNOSTIC_CODES, renderDiagnostic } from "../../dsl/diagnostics.js";

const repo = join(import.meta.dirname, "../..");
const root = join(repo, "tests/fixtures/check");
const cases = readdirSync(root).sort();

function diagnose(dir: string): string[] {
  // As `lth check` does: with the data files the calls name looked for on disk.
  const result = checkProgram(join(dir, "main.lth"), new ModuleLoader(), { dataFiles: diskDataFiles });
  if ("problem" in result) throw new Error(result.problem);
  return result.diagnostics.map((d) => {
    const r = renderDiagnostic(d, dir);
    return `${r.file}:${r.line}:${r.column} ${r.code}: ${r.message}`;
  });
}

/**
 * The diagnostics a case must report, from its expected.txt. With `update` set, the file is
 * first written from `actual` (for a person to review in the diff). Without it, a missing
 * file is an error saying how to create one: writing it from the output would let any
 * output pass.
 */
function expectedLines(dir: string, actual: readonly string[], update: boolean): string[] {
  const path = join(dir, "expected.txt");
  if (update) writeFileSync(path, actual.join("\n") + "\n");
  else if (!existsSync(path)) {
    throw new Error(
      `${relative(repo, path)} does not exist: write the diagnostics this case must report into it, ` +
        `or run \`UPDATE_FIXTURES=1 npx vitest run tests/dsl/diagnostics.test.ts\` to write the current output there, and review it`,
    );
  }
  return readFileSync(path, "utf8").trimEnd().split("\n").filter(Boolean);
}

describe("each fixture reports exactly its expected diagnostics", () => {
  it.each(cases)("%s", (name) => {
    const dir = join(root, name);
    const actual = diagnose(dir);
    expect(actual).toEqual(expectedLines(dir, actual, !!process.env["UPDATE_FIXTURES"]));
    // A fixture named for a code reports that code first.
    const code = name.split("--")[0]!;
    if (code !== "mixed") expect(actual[0]).toContain(` ${code}: `);
  });
});

describe("a case without expected.txt", () => {
  it("fails, naming the file and UPDATE_FIXTURES, and writes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-fixture-"));
    writeFileSync(join(dir, "main.lth"), "let a = trian()\n");
    const actual = diagnose(dir);
    expect(() => expectedLines(dir, actual, false)).toThrow(/expected\.txt does not exist: .*UPDATE_FIXTURES=1/);
    expect(existsSync(join(dir, "expected.txt"))).toBe(false);
  });

  it("is written from the output when UPDATE_FIXTURES is set", () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-fixture-"));
    writeFileSync(join(dir, "main.lth"), "let a = trian()\n");
    const actual = diagnose(dir);
    expect(actual).toEqual(["main.lth:1:9 unknown-op: unknown op 'trian'; did you mean 'train'?"]);
    expect(expectedLines(dir, actual, true)).toEqual(actual);
    expect(readFileSync(join(dir, "expected.txt"), "utf8")).toBe(`${actual[0]}\n`);
  });
});

describe("the fixtures cover the diagnostics table", () => {
  it("LANGUAGE.md's table lists exactly the checker's codes", () => {
    const doc = readFileSync(join(repo, "dsl/LANGUAGE.md"), "utf8");
    const section = doc.slice(doc.indexOf("## Diagnostics"), doc.indexOf("\n## ", doc.indexOf("## Diagnostics") + 1));
    const listed = [...section.matchAll(/^\| `([a-z-]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual([...DIAGNOSTIC_CODES]);
  });

  it("every code in LANGUAGE.md's table has at least one fixture", () => {
    const covered = new Set(cases.map((c) => c.split("--")[0]));
    for (const code of DIAGNOSTIC_CODES) expect(covered, code).toContain(code);
  });
});
