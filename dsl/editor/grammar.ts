// The TextMate grammar of `.lth` files (editors' syntax colouring: VS Code's extension in
// dsl/editor/vscode, and any editor that reads TextMate grammars), generated from the lexer's
// keywords and the op table, so that a new op is coloured as one. tests/dsl/grammar.test.ts
// checks that the file in the extension is this grammar (UPDATE_GRAMMAR=1 rewrites it) and runs
// it over the fixtures with vscode-textmate.

import { KEYWORDS as LEXER_KEYWORDS } from "../lexer.js";
import { OPS } from "../ops.js";

export const SCOPE = "source.lth";

/** The keywords as the lexer knows them, `true` and `false` aside (they are constants). */
export const KEYWORDS: readonly string[] = LEXER_KEYWORDS.map((t) => (t.PATTERN instanceof RegExp ? t.PATTERN.source : String(t.PATTERN))).filter((w) => w !== "true" && w !== "false");

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

export function lthGrammar(): Record<string, unknown> {
  const ops = [...OPS.keys()].sort((a, b) => b.length - a.length || a.localeCompare(b)).map(escapeRegex);
  return {
    $schema: "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
    name: "lth",
    scopeName: SCOPE,
    fileTypes: ["lth"],
    patterns: [{ include: "#comments" }, { include: "#strings" }, { include: "#let" }, { include: "#keywords" }, { include: "#quantities" }, { include: "#numbers" }, { include: "#constants" }, { include: "#calls" }, { include: "#parameters" }, { include: "#names" }, { include: "#punctuation" }],
    repository: {
      comments: {
        patterns: [
          { name: "comment.line.double-slash.lth", match: "//.*$" },
          { name: "comment.block.lth", begin: "/\\*", end: "\\*/" },
        ],
      },
      strings: {
        name: "string.quoted.double.lth",
        begin: '"',
        end: '"|$',
        patterns: [{ name: "constant.character.escape.lth", match: '\\\\["\\\\n]' }],
      },
      let: {
        match: "\\b(let)\\s+([A-Za-z_][A-Za-z0-9_]*)",
        captures: { "1": { name: "keyword.other.let.lth" }, "2": { name: "entity.name.variable.lth" } },
      },
      keywords: { name: "keyword.control.lth", match: `\\b(${KEYWORDS.filter((k) => k !== "let").join("|")})\\b` },
      // A number with its unit: 20%, 2 epochs, 500 steps, 4 GB, 30 min.
      quantities: {
        patterns: [
          { match: "\\b(\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)(%)", captures: { "1": { name: "constant.numeric.lth" }, "2": { name: "keyword.other.unit.lth" } } },
          {
            match: "\\b(\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)\\s+(epochs?|steps?|KB|MB|GB|TB|s|min|h|d)\\b",
            captures: { "1": { name: "constant.numeric.lth" }, "2": { name: "keyword.other.unit.lth" } },
          },
        ],
      },
      numbers: { name: "constant.numeric.lth", match: "\\b\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?\\b" },
      constants: { name: "constant.language.boolean.lth", match: "\\b(true|false)\\b" },
      calls: {
        patterns: [
          // The standard library's ops, from the op table.
          { match: `\\b(${ops.join("|")})\\s*(?=\\()`, captures: { "1": { name: "support.function.lth" } } },
          { match: "\\b([A-Za-z_][A-Za-z0-9_]*)\\s*(?=\\()", captures: { "1": { name: "entity.name.function.lth" } } },
        ],
      },
      parameters: { match: "\\b([A-Za-z_][A-Za-z0-9_]*)\\s*(:)", captures: { "1": { name: "variable.parameter.lth" }, "2": { name: "punctuation.separator.key-value.lth" } } },
      names: { name: "variable.other.lth", match: "\\b[A-Za-z_][A-Za-z0-9_]*\\b" },
      punctuation: {
        patterns: [
          { name: "keyword.operator.pipe.lth", match: "\\|>" },
          { name: "punctuation.separator.comma.lth", match: "," },
          { name: "punctuation.bracket.lth", match: "[()\\[\\]{}]" },
        ],
      },
    },
  };
}

/** The grammar file's text, as checked in. */
export function grammarText(): string {
  return `${JSON.stringify(lthGrammar(), null, 2)}\n`;
}
