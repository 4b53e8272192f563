// Properties over random input: `check` never throws (only diagnostics come out), and on
// any text that parses, `fmt` is idempotent, keeps every comment and keeps the meaning.

import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { formatText } from "../../dsl/commands/fmt.js";
import { DIAGNOSTIC_CODES, renderDiagnostic } from "../../dsl/diagnostics.js";
import { OPS } from "../../dsl/ops.js";
import { lthLexer } from "../../dsl/lexer.js";
import { parseText } from "../../dsl/parse.js";
import { compile } from "../../compiler/compile.js";
import { CompileError } from "../../compiler/stages.js";
import { mutated, tokenSoup } from "./mutations.js";

const PATH = "/p/main.lth";
const everyForm = readFileSync(join(import.meta.dirname, "../fixtures/valid/every-form.lth"), "utf8");
const lenet = readFileSync(join(import.meta.dirname, "../../pipelines/lenet-imp.lth"), "utf8");

/** Checks `text`; fails the property if anything is thrown or a diagnostic is malformed. */
function checkNeverThrows(text: string): void {
  const result = checkProgram(PATH, new ModuleLoader(memoryHost({ [PATH]: text, "/p/shared/data.lth": "let data = mnist()\n" })));
  if ("problem" in result) throw new Error(result.problem);
  expect(Array.isArray(result.diagnostics)).toBe(true);
  for (const d of result.diagnostics) {
    expect(DIAGNOSTIC_CODES).toContain(d.code);
    expect(d.range.start).toBeLessThanOrEqual(d.range.end);
    expect(d.range.end).toBeLessThanOrEqual(d.file.text.length);
    const r = renderDiagnostic(d, "/p");
    expect(r.line).toBeGreaterThanOrEqual(1);
    expect(r.column).toBeGreaterThanOrEqual(1);
    expect(r.message.length).toBeGreaterThan(0);
  }
}

function meaning(text: string): unknown {
  return JSON.parse(JSON.stringify(parseText(PATH, text).ast.items, (k, v) => (k === "range" || k === "yieldRange" ? undefined : v)));
}

/** When `text` parses: formatting is idempotent, keeps the comments and the meaning. */
function formatLaws(text: string): void {
  const first = formatText(PATH, text);
  if ("errors" in first) return;
  const second = formatText(PATH, first.text);
  if ("errors" in second) throw new Error(`formatted text does not parse:\n${first.text}`);
  expect(second.text).toBe(first.text);
  expect(meaning(first.text)).toEqual(meaning(text));
  const comments = (t: string) => parseText(PATH, t).ast.comments.map((c) => c.text.replace(/\s+/g, " ").trim()).sort();
  expect(comments(first.text)).toEqual(comments(text));
}

// ---- a generator of syntactically valid programs, with comments anywhere ----------------

const name = fc.constantFrom("data", "net0", "dense", "t", "xs", "rounds", "a_1");
const literal = fc.constantFrom("0", "42", "0.5", "1.2e-3", "20%", "12.5%", "5 epochs", "1 epoch", "300 steps", '"a \\"b\\"\\n"', "true", "false");
const { expr } = fc.letrec<{ expr: string; call: string; block: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    literal,
    name,
    tie("call"),
    tie("call").map((c) => `${c} |> ${c}`),
    fc.array(tie("expr"), { maxLength: 4 }).map((items) => `[${items.join(", ")}]`),
    fc.tuple(name, tie("expr")).map(([n, i]) => `${n}[${i}]`),
    tie("expr").map((e) => `(${e})`),
    fc.constantFrom("-1", "-2.5", "-x"),
    fc.tuple(fc.integer({ min: 1, max: 5 }), tie("expr"), name, tie("block")).map(([n, from, v, b]) => `repeat ${n} from ${from} as ${v} ${b}`),
    fc.tuple(name, tie("expr"), tie("block")).map(([v, over, b]) => `for ${v} in ${over} ${b}`),
  ),
  call: fc
    .tuple(fc.constantFrom(...OPS.keys()), fc.array(tie("expr"), { maxLength: 3 }), fc.array(fc.tuple(fc.constantFrom("lr", "seed", "to", "scope"), tie("expr")), { maxLength: 2 }))
    .map(([op, positional, named]) => `${op}(${[...positional, ...named.map(([k, v]) => `${k}: ${v}`)].join(", ")})`),
  block: fc.tuple(fc.array(fc.tuple(name, tie("expr")), { maxLength: 2 }), tie("expr")).map(([lets, y]) => `{\n${lets.map(([n, e]) => `let ${n} = ${e}\n`).join("")}yield ${y}\n}`),
}));

const item = fc.oneof(
  fc.tuple(name, expr).map(([n, e]) => `let ${n} = ${e}`),
  fc.constantFrom('import "shared/data.lth"', "defaults train { lr: 0.1, batch: 60 }", "defaults prune {}", 'report "r" { a, b, }', "report { dense }"),
);

/** A valid text with comments put at random token boundaries (after any token). */
const commented = fc.array(item, { maxLength: 6 }).chain((items) => {
  const text = items.join("\n");
  const gaps = lthLexer.tokenize(text).tokens.map((t) => t.startOffset + t.image.length);
  return fc.subarray(gaps, { maxLength: Math.min(6, gaps.length) }).chain((chosen) =>
    fc.array(fc.boolean(), { minLength: chosen.length, maxLength: chosen.length }).map((kinds) => {
      let out = text;
      [...chosen].sort((a, b) => b - a).forEach((at, i) => {
        const comment = kinds[i] ? ` /* c${i} */ ` : ` // c${i}\n`;
        out = out.slice(0, at) + comment + out.slice(at);
      });
      return out;
    }),
  );
});

describe("check never throws", () => {
  it("on arbitrary text", () => {
    fc.assert(fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), checkNeverThrows), { numRuns: 300 });
  });

  it("on soups of the language's own tokens", () => {
    fc.assert(fc.property(tokenSoup, checkNeverThrows), { numRuns: 500 });
  });

  it("on mutations of valid files", () => {
    fc.assert(fc.property(mutated(everyForm), checkNeverThrows), { numRuns: 200 });
    fc.assert(fc.property(mutated(lenet), checkNeverThrows), { numRuns: 200 });
  });

  it("and what checks clean compiles, or fails with a CompileError at a place in the file", () => {
    let compiled = 0;
    const compiles = (text: string) => {
      const result = checkProgram(PATH, new ModuleLoader(memoryHost({ [PATH]: text, "/p/shared/data.lth": "let data = mnist()\n" })));
      if ("problem" in result || !result.ok) return;
      try {
        compile(result.program);
        compiled++;
      } catch (e) {
        expect(e).toBeInstanceOf(CompileError);
        const { file, range } = e as CompileError;
        expect(range.end).toBeLessThanOrEqual(result.program.root.source.text.length + (file === PATH ? 0 : Infinity));
      }
    };
    fc.assert(fc.property(mutated(everyForm), compiles), { numRuns: 200, seed: 5 });
    fc.assert(fc.property(mutated(lenet), compiles), { numRuns: 200, seed: 6 });
    expect(compiled).toBeGreaterThan(20);
  });

  // Exponential work on these inputs would never finish: the suite's timeout catches that
  // without a wall-clock limit that a busy machine could trip.
  it("on deep nesting and long chains, without throwing and with fmt's laws holding", () => {
    for (const text of [
      `let a = ${"[".repeat(100_000)}`,
      `let a = ${"(".repeat(50_000)}1${")".repeat(50_000)}`,
      `let a = ${"-".repeat(100_000)}1`,
      `let a = net0${" |> prune(10%)".repeat(200)}`,
      `let a = xs${"[0]".repeat(200)}`,
      `let a = ${"repeat 1 from x as t { yield ".repeat(90)}t${" }".repeat(90)}`,
      `let a = ${"repeat 1 from ".repeat(300)}n${" as t { yield t }".repeat(300)}`,
      `let a = ${"for a in ".repeat(1000)}[n]${" { yield a }".repeat(1000)}`,
      "/*".repeat(10_000),
    ]) {
      checkNeverThrows(text);
      formatLaws(text);
    }
  });
});

describe("fmt on anything that parses", () => {
  it("is idempotent and keeps comments and meaning, for mutations of valid files", () => {
    fc.assert(fc.property(mutated(everyForm), formatLaws), { numRuns: 200 });
  });

  it("is idempotent and keeps comments and meaning, for generated programs with comments anywhere", () => {
    fc.assert(
      fc.property(commented, (text) => {
        expect(parseText(PATH, text).diagnostics).toEqual([]);
        formatLaws(text);
      }),
      { numRuns: 1000 },
    );
  });
});
