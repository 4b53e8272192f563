// The command line on mutated .lth files, as a user meets it: every file gets diagnostics
// as JSON (never a crash, never a stack trace), and the commands that compile a pipeline
// stop with JSON diagnostics or do their job, whatever the text.

import { execa } from "execa";
import fc from "fast-check";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DIAGNOSTIC_CODES, RUNTIME_CODE } from "../../dsl/diagnostics.js";
import { cli } from "../runtime/rig.js";
import { mutated } from "./mutations.js";
import { withTest } from "../support/children.js";

const repo = join(import.meta.dirname, "../..");
const sources = [
  // Files only: after the README's `lth run pipelines/quickstart.lth`, pipelines/ also holds its store, the folder `.lth`.
  ...readdirSync(join(repo, "pipelines"), { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith(".lth"))
    .map((e) => join(repo, "pipelines", e.name)),
  join(repo, "tests/fixtures/valid/every-form.lth"),
].map((f) => readFileSync(f, "utf8"));

/** 40 mutants of each shipped pipeline and fixture, the same on every run (a fixed seed). */
function mutants(count: number, seed: number): string[] {
  return sources.flatMap((text, i) => fc.sample(mutated(text), { numRuns: count, seed: seed + i }));
}

/** Byte-level damage: a UTF-8 file cut at a random byte, bytes flipped, or binary noise. */
function damagedBytes(seed: number): Buffer[] {
  const base = Buffer.from(sources[0]!);
  const edits = fc.record({ cut: fc.nat({ max: base.length }), flips: fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }) });
  const out = fc.sample(edits, { numRuns: 30, seed }).map(({ cut, flips }) => {
    const b = Buffer.from(base.subarray(0, cut));
    for (const [at, byte] of flips) if (at < b.length) b[at] = byte;
    return b;
  });
  out.push(...fc.sample(fc.uint8Array({ maxLength: 300 }), { numRuns: 10, seed }).map((a) => Buffer.from(a)));
  out.push(Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from(sources[0]!)]), Buffer.alloc(0), Buffer.from("\r\n".repeat(50)));
  return out;
}

interface Rendered {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: string;
  code: string;
  message: string;
}

function wellFormed(d: Rendered): void {
  expect(DIAGNOSTIC_CODES as readonly string[]).toContain(d.code);
  expect(["error", "warning"]).toContain(d.severity);
  expect(d.line).toBeGreaterThanOrEqual(1);
  expect(d.column).toBeGreaterThanOrEqual(1);
  expect(d.endLine * 1e6 + d.endColumn).toBeGreaterThanOrEqual(d.line * 1e6 + d.column);
  expect(d.message.length).toBeGreaterThan(0);
  // No raw control character reaches a message (a terminal would act on it).
  expect(d.message).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
}

const STACK = /\n\s+at |node:internal|Error: /;

describe("lth check --json on mutated files", () => {
  it("prints one JSON array of well-formed diagnostics for a folder of them, and no stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-fuzz-"));
    // Imports of these names resolve, so an import mutated into place finds a file.
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "shared/data.lth"), "let data = mnist()\n");
    const texts = mutants(40, 1);
    texts.forEach((t, i) => writeFileSync(join(dir, `m${String(i).padStart(3, "0")}.lth`), t));
    damagedBytes(7).forEach((b, i) => writeFileSync(join(dir, `b${String(i).padStart(3, "0")}.lth`), b));
    const files = readdirSync(dir).filter((f) => f.endsWith(".lth"));
    expect(files.length).toBeGreaterThan(250);

    const r = await withTest(execa(process.execPath, [cli, "check", "--json", "."], { cwd: dir, reject: false }));
    expect(r.stderr).not.toMatch(STACK);
    expect([0, 1]).toContain(r.exitCode);
    const diagnostics = JSON.parse(r.stdout) as Rendered[];
    expect(Array.isArray(diagnostics)).toBe(true);
    diagnostics.forEach(wellFormed);
    // Most mutants are wrong somewhere, and each diagnostic names a file that was checked.
    const named = new Set(diagnostics.map((d) => d.file));
    expect(named.size).toBeGreaterThan(files.length / 3);
    for (const f of named) expect(files.map((x) => x)).toContain(f.replace(/^shared\//, ""));
  });
});

describe("the commands that compile a pipeline, on mutated files", () => {
  it("plan, graph and show stop with JSON diagnostics (exit 2) or do their job; never a crash or a stack trace", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-fuzz-"));
    // One mutant of each shipped pipeline and fixture: the processes this test starts grow with the pipelines.
    const texts = [...mutants(1, 100), ...damagedBytes(9).slice(0, 4).map((b) => b.toString("utf8"))];
    let stopped = 0;
    for (const [i, text] of texts.entries()) {
      const file = join(dir, `p${i}.lth`);
      writeFileSync(file, text);
      for (const args of [
        ["plan", file, "--json"],
        ["graph", file, "--format", "json"],
        ["show", file, "data", "--json"],
      ]) {
        const r = await withTest(execa(process.execPath, [cli, ...args], { cwd: dir, reject: false, env: { LTH_STORE: join(dir, "store") } }));
        expect(r.stderr, `${args[0]} ${text}`).not.toMatch(STACK);
        expect([0, 1, 2], `${args[0]}: ${r.stderr}`).toContain(r.exitCode);
        // A file that compiles gets its plan or graph as one JSON document.
        if (r.exitCode === 0 && args[0] !== "show") expect(() => JSON.parse(r.stdout) as unknown).not.toThrow();
        if (r.exitCode !== 2 || r.stdout === "") continue;
        const out = JSON.parse(r.stdout) as unknown;
        if (!Array.isArray(out) || !out.every((d) => typeof d === "object" && d && "code" in d)) continue;
        stopped++;
        for (const d of out as Rendered[]) {
          expect([...DIAGNOSTIC_CODES, RUNTIME_CODE] as string[]).toContain(d.code);
          expect(d.line).toBeGreaterThanOrEqual(1);
          // The text line on stderr says the same, for a person.
          expect(r.stderr).toContain(`:${d.line}:${d.column}: ${d.severity}: ${d.message}`);
        }
      }
    }
    expect(stopped).toBeGreaterThan(texts.length);
  });

  it("run --json writes a diagnostic line per error and starts nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lth-fuzz-"));
    const file = join(dir, "p.lth");
    writeFileSync(file, "let data = synthetic(n: 100, features: 4, classes: 2)\nlet a = init(mlp(hidden: [8]), dat, seed: 1)\nlet b = prune(a, 150%)\n");
    const r = await withTest(execa(process.execPath, [cli, "run", file, "--json"], { cwd: dir, reject: false }));
    expect(r.exitCode).toBe(2);
    const lines = r.stdout.split("\n").map((l) => JSON.parse(l) as Rendered & { type: string });
    expect(lines.map((l) => [l.type, l.code, l.line, l.column])).toEqual([
      ["diagnostic", "undefined-name", 2, 32],
      ["diagnostic", "out-of-range", 3, 18],
    ]);
    expect(readdirSync(dir)).toEqual(["p.lth"]);
  });
});
