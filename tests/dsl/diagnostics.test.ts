// One fixture folder per case (tests/fixtures/check/<code>--<case>/): main.lth, the files
// it imports, and expected.txt, the diagnostics `lth check main.lth` must report, one a
// line as `file:line:column code: message`. UPDATE_FIXTURES=1 rewrites expected.txt.

import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram } from "../../dsl/check/index.js";
import { DIAGNOSTIC_CODES, renderDiagnostic } from "../../dsl/diagnostics.js";

const root = join(import.meta.dirname, "../fixtures/check");
const cases = readdirSync(root).sort();

function diagnose(dir: string): string[] {
  const result = checkProgram(join(dir, "main.lth"));
  if ("problem" in result) throw new Error(result.problem);
  return result.diagnostics.map((d) => {
    const r = renderDiagnostic(d, dir);
    return `${r.file}:${r.line}:${r.column} ${r.code}: ${r.message}`;
  });
}

describe("each fixture reports exactly its expected diagnostics", () => {
  it.each(cases)("%s", (name) => {
    const dir = join(root, name);
    const actual = diagnose(dir);
    const expectedPath = join(dir, "expected.txt");
    if (process.env["UPDATE_FIXTURES"] || !existsSync(expectedPath)) writeFileSync(expectedPath, actual.join("\n") + "\n");
    const expected = readFileSync(expectedPath, "utf8").trimEnd().split("\n").filter(Boolean);
    expect(actual).toEqual(expected);
    // A fixture named for a code reports that code first.
    const code = name.split("--")[0]!;
    if (code !== "mixed") expect(actual[0]).toContain(` ${code}: `);
  });
});

describe("the fixtures cover the diagnostics table", () => {
  it("every code in LANGUAGE.md's table has at least one fixture", () => {
    const covered = new Set(cases.map((c) => c.split("--")[0]));
    for (const code of DIAGNOSTIC_CODES) expect(covered, code).toContain(code);
  });
});
