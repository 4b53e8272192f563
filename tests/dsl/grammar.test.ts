// The TextMate grammar (dsl/editor/vscode/syntaxes/lth.tmLanguage.json) is the one generated
// from the lexer and the op table, and run over text with vscode-textmate and
// vscode-oniguruma (as VS Code runs it) it gives keywords, ops, units, strings, numbers and
// comments their scopes. UPDATE_GRAMMAR=1 rewrites the file.

import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as oniguruma from "vscode-oniguruma";
import * as textmate from "vscode-textmate";
import { grammarText, SCOPE } from "../../dsl/editor/grammar.js";
import { OPS } from "../../dsl/ops.js";

const repo = join(import.meta.dirname, "../..");
const file = join(repo, "dsl/editor/vscode/syntaxes/lth.tmLanguage.json");

async function loadGrammar(): Promise<textmate.IGrammar> {
  const wasm = readFileSync(join(createRequire(import.meta.url).resolve("vscode-oniguruma"), "../onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new textmate.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (s: string[]) => new oniguruma.OnigScanner(s), createOnigString: (s: string) => new oniguruma.OnigString(s) }),
    loadGrammar: async (scope) => (scope === SCOPE ? textmate.parseRawGrammar(readFileSync(file, "utf8"), file) : null),
  });
  return (await registry.loadGrammar(SCOPE))!;
}

/** Each token of each line with its innermost scope. */
function tokens(grammar: textmate.IGrammar, text: string): [string, string][] {
  let state = textmate.INITIAL;
  const out: [string, string][] = [];
  for (const line of text.split("\n")) {
    const r = grammar.tokenizeLine(line, state);
    for (const t of r.tokens) out.push([line.slice(t.startIndex, t.endIndex), t.scopes[t.scopes.length - 1]!]);
    state = r.ruleStack;
  }
  return out;
}

const scopeOf = (ts: [string, string][], text: string) => ts.filter(([t]) => t === text).map(([, s]) => s);

describe("the TextMate grammar", () => {
  it("is the one generated from the lexer's keywords and the op table", () => {
    if (process.env["UPDATE_GRAMMAR"]) writeFileSync(file, grammarText());
    expect(readFileSync(file, "utf8")).toBe(grammarText());
    const grammar = JSON.parse(readFileSync(file, "utf8")) as { repository: { calls: { patterns: { match: string }[] } } };
    for (const op of OPS.keys()) expect(grammar.repository.calls.patterns[0]!.match).toContain(op);
  });

  it("scopes keywords, ops, units, strings, numbers and comments as VS Code would", async () => {
    const grammar = await loadGrammar();
    const ts = tokens(
      grammar,
      `// the dense net
let data = idx("a \\"b\\".gz", train: 1000, seed: 1)
/* block
   comment */
let rounds = repeat 3 from net0 as t {
  yield prune(t, 20%) |> rewind(to: net0) |> train(data, 2 epochs, lr: 1.2e-3)
}
let mine = helper(data, true)
report "r" { rounds }
`,
    );
    expect(scopeOf(ts, "// the dense net")).toEqual(["comment.line.double-slash.lth"]);
    // A block comment, over its lines: every piece of it.
    for (const [t, sc] of ts) if (/block|comment \*\/|^\/\*$/.test(t)) expect(sc, t).toBe("comment.block.lth");
    expect(ts.some(([t]) => t.includes("block"))).toBe(true);
    expect(scopeOf(ts, "let")).toEqual(["keyword.other.let.lth", "keyword.other.let.lth", "keyword.other.let.lth"]);
    expect(scopeOf(ts, "data")[0]).toBe("entity.name.variable.lth");
    for (const k of ["repeat", "from", "as", "yield", "report"]) expect(scopeOf(ts, k), k).toEqual(["keyword.control.lth"]);
    for (const op of ["idx", "prune", "rewind"]) expect(scopeOf(ts, op), op).toEqual(["support.function.lth"]);
    // \`train:\` in idx(…) is a parameter; train(…) the op.
    expect(scopeOf(ts, "train")).toEqual(["variable.parameter.lth", "support.function.lth"]);
    expect(scopeOf(ts, "helper")).toEqual(["entity.name.function.lth"]);
    expect(scopeOf(ts, "%")).toEqual(["keyword.other.unit.lth"]);
    expect(scopeOf(ts, "epochs")).toEqual(["keyword.other.unit.lth"]);
    expect(scopeOf(ts, "20")).toEqual(["constant.numeric.lth"]);
    expect(scopeOf(ts, "1.2e-3")).toEqual(["constant.numeric.lth"]);
    expect(scopeOf(ts, "1000")).toEqual(["constant.numeric.lth"]);
    expect(scopeOf(ts, "\\\"")).toEqual(["constant.character.escape.lth", "constant.character.escape.lth"]);
    expect(ts.filter(([, s]) => s === "string.quoted.double.lth").map(([t]) => t).join("")).toContain('"a ');
    expect(scopeOf(ts, "lr")).toEqual(["variable.parameter.lth"]);
    expect(scopeOf(ts, "true")).toEqual(["constant.language.boolean.lth"]);
    expect(scopeOf(ts, "|>")).toEqual(["keyword.operator.pipe.lth", "keyword.operator.pipe.lth"]);
  });

  it("colours every shipped pipeline without leaving a name unscoped", async () => {
    const grammar = await loadGrammar();
    const text = readFileSync(join(repo, "pipelines/quickstart.lth"), "utf8");
    const ts = tokens(grammar, text);
    // Every word is a keyword, an op, a name, a unit, a number, or inside a comment or string.
    for (const [t, s] of ts) if (/^[A-Za-z_]\w*$/.test(t)) expect(s, t).not.toBe(SCOPE);
  });

  it("is the extension's grammar, for .lth files, with its language configuration", () => {
    const manifest = JSON.parse(readFileSync(join(repo, "dsl/editor/vscode/package.json"), "utf8")) as {
      contributes: { languages: { id: string; extensions: string[]; configuration: string }[]; grammars: { scopeName: string; path: string }[] };
    };
    expect(manifest.contributes.languages[0]).toMatchObject({ id: "lth", extensions: [".lth"] });
    expect(manifest.contributes.grammars[0]).toMatchObject({ scopeName: SCOPE, path: "./syntaxes/lth.tmLanguage.json" });
    const config = JSON.parse(readFileSync(join(repo, "dsl/editor/vscode", manifest.contributes.languages[0]!.configuration), "utf8")) as { comments: unknown };
    expect(config.comments).toEqual({ lineComment: "//", blockComment: ["/*", "*/"] });
  });
});
