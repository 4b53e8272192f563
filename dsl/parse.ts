// Text to AST: lex, parse with recovery, build the AST, and turn every lexing, parsing and
// literal problem into a `syntax` diagnostic anchored where LANGUAGE.md says.

import type { IRecognitionException, IToken, TokenType } from "chevrotain";
import { EOF } from "./chevrotain.js";
import type { Comment, FileNode } from "./ast.js";
import { AstBuilder } from "./build-ast.js";
import type { FileCstNode } from "./cst.js";
import { error, type Diagnostic } from "./diagnostics.js";
import {
  Defaults,
  For,
  Identifier,
  Import,
  LBracket,
  LCurly,
  Let,
  lthLexer,
  LParen,
  Minus,
  NumberLiteral,
  Pipe,
  RBracket,
  Repeat,
  RCurly,
  Report,
  RParen,
  UnterminatedBlockComment,
  UnterminatedString,
  Yield,
} from "./lexer.js";
import { describeToken, lthParser } from "./parser.js";
import { closest } from "./check/suggest.js";
import { SourceFile } from "./source.js";

export interface ParsedFile {
  readonly source: SourceFile;
  readonly ast: FileNode;
  /** Syntax diagnostics only; empty when the text matches the grammar. */
  readonly diagnostics: readonly Diagnostic[];
}

export function parseSource(source: SourceFile): ParsedFile {
  const diagnostics: Diagnostic[] = [];
  const syntax = (start: number, end: number, message: string) =>
    diagnostics.push(error(source, { start, end }, "syntax", message));

  const lexed = lthLexer.tokenize(source.text);
  const blockComments = (lexed.groups["comments"] ?? []).filter((t) => t.image.startsWith("/*"));
  /** Ends of unexpected characters: a parse error right after one is its echo, not news. */
  const lexErrorEnds = new Set<number>();
  // Text that a comment trying to nest spilled into the code, up to its stray closer: the
  // first unexpected token there is the error, told as what it is; the rest are echoes.
  const spilled: { start: number; end: number; message: string; reported: boolean }[] = [];
  for (const e of lexed.errors) {
    lexErrorEnds.add(e.offset + e.length);
    const text = source.text.slice(e.offset, e.offset + e.length);
    const nested = text.startsWith("*/") ? nestedCommentBefore(blockComments, e.offset) : undefined;
    if (nested) {
      const line = source.position(nested.startOffset).line;
      const message = `comments do not nest: the comment on line ${line} ended at its first '*/'`;
      spilled.push({ start: nested.startOffset + nested.image.length, end: e.offset, message, reported: false });
      continue;
    }
    // `20 %`: a percentage written with a space, the one slip a stray '%' almost always is.
    const number = text.startsWith("%") ? numberJustBefore(lexed.tokens, source.text, e.offset) : undefined;
    if (number) {
      syntax(e.offset, e.offset + 1, `write ${number.image}% with no space: a percentage's '%' follows its number directly`);
      continue;
    }
    const shown = [...text].length === 1 ? `character '${visible(text)}'` : `characters '${visible(text)}'`;
    // Bytes that are not UTF-8 reach the text as U+FFFD: say so, since the editor may not show them.
    syntax(e.offset, e.offset + e.length, `unexpected ${shown}${text.includes("\uFFFD") ? " (the file is not UTF-8 text here)" : ""}`);
  }
  for (const token of lexed.tokens) {
    if (token.tokenType === UnterminatedString) {
      syntax(token.startOffset, token.startOffset + 1, "unterminated string; close it with '\"' before the end of the line");
      // The string took the rest of its line, closing brackets included.
      lexErrorEnds.add(token.startOffset + token.image.length);
    }
  }
  let unterminatedComment = false;
  const comments: Comment[] = [];
  for (const token of lexed.groups["comments"] ?? []) {
    const start = token.startOffset;
    if (token.tokenType === UnterminatedBlockComment) {
      syntax(start, start + 2, "unterminated comment; close it with '*/'");
      unterminatedComment = true;
    }
    comments.push({
      kind: "Comment",
      range: { start, end: start + token.image.length },
      text: token.image,
      block: token.image.startsWith("/*"),
    });
  }

  /** A file that could not be parsed at all: no items, its comments, its diagnostics. */
  const unparsed = (): ParsedFile => {
    const ast: FileNode = { kind: "File", range: { start: 0, end: source.text.length }, items: [], comments };
    return { source, ast, diagnostics: onePerPosition(diagnostics) };
  };

  const tooDeep = firstTooDeep(lexed.tokens);
  if (tooDeep) {
    // The parser and every later phase recurse on nesting; past this depth no real
    // experiment goes, and the JavaScript stack would.
    const { token, problem } = tooDeep;
    syntax(token.startOffset, token.startOffset + token.image.length, problem);
    return unparsed();
  }

  lthParser.input = lexed.tokens;
  const cst = withinStack(() => lthParser.file() as FileCstNode);
  if (!cst) {
    syntax(0, 0, TOO_DEEP);
    return unparsed();
  }
  for (const e of lthParser.errors) {
    const { start, end } = parseErrorRange(e, lexed.tokens);
    if (followsLexError(source.text, start, lexErrorEnds)) continue;
    const spill = spilled.find((s) => s.start <= start && start < s.end);
    if (spill) {
      if (!spill.reported) syntax(start, end, `unexpected ${describeToken(e.token)}; ${spill.message}`);
      spill.reported = true;
      continue;
    }
    if (e.token.tokenType === EOF) {
      // The comment took the rest of the file, so the file ends early.
      if (unterminatedComment) continue;
      // What stands after the last token is unreadable: that, not the early end, is the news.
      if (lexed.errors.some((l) => l.offset >= start)) continue;
    }
    // `2 epocs`: a misspelt unit reads as a name after a number.
    const number = e.token.tokenType === Identifier ? numberJustBefore(lexed.tokens, source.text, e.token.startOffset) : undefined;
    // For a count other than 1, the plural first: `2 epocs` is `2 epochs`, `1 epoc` `1 epoch`.
    const unit = number && closest(e.token.image, Number(number.image) === 1 ? UNIT_WORDS : [...UNIT_WORDS].sort((a, b) => Number(b.endsWith("s")) - Number(a.endsWith("s"))));
    if (number && unit) {
      syntax(start, end, `'${e.token.image}' is not a unit; did you mean '${unit}'? (${number.image} ${unit})`);
      continue;
    }
    syntax(start, end, e.message);
  }

  // A spill that parsed cleanly leaves the stray closer as the only sign.
  for (const s of spilled) if (!s.reported) syntax(s.end, s.end + 2, `'*/' closes no comment; ${s.message}`);

  const builder = new AstBuilder();
  const ast = builder.file(cst, comments, source.text.length);
  for (const p of builder.problems) syntax(p.range.start, p.range.end, p.message);

  return { source, ast, diagnostics: onePerPosition(diagnostics) };
}

export const TOO_DEEP = "this file nests too deeply to read";

/** The units a number may take (LANGUAGE.md, Lexical structure), for "did you mean" on a misspelt one. */
const UNIT_WORDS = ["epoch", "epochs", "step", "steps", "KB", "MB", "GB", "TB", "min"];

/** The number literal that ends right before `offset`, on the same line, with only spaces between; else undefined. */
function numberJustBefore(tokens: readonly IToken[], text: string, offset: number): IToken | undefined {
  let before: IToken | undefined;
  for (const t of tokens) {
    if (t.startOffset >= offset) break;
    before = t;
  }
  if (!before || before.tokenType !== NumberLiteral) return undefined;
  return /^[ \t]*$/.test(text.slice(before.endOffset! + 1, offset)) ? before : undefined;
}

/**
 * Runs a recursive phase; undefined if it ran out of stack. The limits below keep real
 * files far from that, so this is the last guard, not the rule: a file that reaches it
 * gets a diagnostic instead of a stack trace.
 */
export function withinStack<T>(run: () => T): T | undefined {
  try {
    return run();
  } catch (e) {
    if (e instanceof RangeError && /call stack/.test(e.message)) return undefined;
    throw e;
  }
}

/**
 * How deep brackets and `repeat`/`for` may nest, and how many minus signs may stand in a
 * row; how many pipes and indexes one item or block `let` may hold (each pipe and index
 * nests the tree one level deeper).
 */
export const MAX_NESTING = 100;
export const MAX_CHAIN = 200;

function firstTooDeep(tokens: readonly IToken[]): { token: IToken; problem: string } | undefined {
  let depth = 0;
  let minuses = 0;
  let chain = 0;
  /** `repeat`/`for` seen whose block has not opened: each counts as a level already. */
  let openingLoops = 0;
  let previous: TokenType | undefined;
  for (const token of tokens) {
    const type = token.tokenType;
    const indexing = type === LBracket && previous !== undefined && INDEXABLE_ENDS.has(previous);
    previous = type;
    if (type === Repeat || type === For) {
      depth++;
      openingLoops++;
    } else if (type === LCurly && openingLoops > 0) openingLoops--;
    else if (type === LParen || type === LBracket || type === LCurly) depth++;
    else if (type === RParen || type === RBracket || type === RCurly) depth = Math.max(0, depth - 1);
    minuses = type === Minus ? minuses + 1 : 0;
    if (STATEMENT_STARTS.has(type)) chain = 0;
    else if (type === Pipe || indexing) chain++;
    if (depth > MAX_NESTING || minuses > MAX_NESTING) return { token, problem: `nesting deeper than ${MAX_NESTING} levels` };
    if (chain > MAX_CHAIN) return { token, problem: `more than ${MAX_CHAIN} pipes and indexes in one binding` };
  }
  return undefined;
}

const STATEMENT_STARTS: ReadonlySet<TokenType> = new Set([Let, Yield, Import, Defaults, Report]);
/** A '[' after one of these indexes; after anything else it opens a list. */
const INDEXABLE_ENDS: ReadonlySet<TokenType> = new Set([Identifier, RParen, RBracket, RCurly]);

/**
 * The unexpected token; at the end of the file, the end of the previous token
 * (LANGUAGE.md, Diagnostics).
 */
function parseErrorRange(e: IRecognitionException, tokens: readonly IToken[]): { start: number; end: number } {
  const token = e.token;
  if (token.tokenType !== EOF && Number.isFinite(token.startOffset)) {
    return { start: token.startOffset, end: token.startOffset + token.image.length };
  }
  const last = tokens[tokens.length - 1];
  const end = last ? last.startOffset + last.image.length : 0;
  return { start: end, end };
}

/** The block comment just before `offset` if it holds an opener of its own (an attempt to nest). */
function nestedCommentBefore(blockComments: readonly IToken[], offset: number): IToken | undefined {
  const before = blockComments.filter((c) => c.startOffset + c.image.length <= offset).at(-1);
  return before && before.image.indexOf("/*", 2) >= 0 ? before : undefined;
}

function followsLexError(text: string, start: number, lexErrorEnds: ReadonlySet<number>): boolean {
  let i = start;
  while (i > 0 && /\s/.test(text[i - 1]!)) i--;
  return lexErrorEnds.has(i);
}

/** Recovery can report one unexpected token twice (in a rule and at the top level). */
function onePerPosition(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<number>();
  return diagnostics
    .sort((a, b) => a.range.start - b.range.start)
    .filter((d) => {
      if (seen.has(d.range.start)) return false;
      seen.add(d.range.start);
      return true;
    });
}

export function parseText(path: string, text: string): ParsedFile {
  return parseSource(new SourceFile(path, text));
}

/** Text for a message: control, format and replacement characters written as \u{…} escapes, so a message never carries them raw. */
function visible(text: string): string {
  return text.replace(/[\p{Cc}\p{Cf}\u2028\u2029\uFFFD]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
