// The `.lth` tokens (LANGUAGE.md, Lexical structure). Keywords come before Identifier and
// use it as their longer_alt, so `letter` is a name and `let` a keyword.

import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: "a name" });

function keyword(word: string): TokenType {
  return createToken({
    name: word[0]!.toUpperCase() + word.slice(1),
    pattern: new RegExp(word),
    longer_alt: Identifier,
    label: `'${word}'`,
  });
}

export const Let = keyword("let");
export const Import = keyword("import");
export const Defaults = keyword("defaults");
export const Repeat = keyword("repeat");
export const From = keyword("from");
export const As = keyword("as");
export const Yield = keyword("yield");
export const For = keyword("for");
export const Replicate = keyword("replicate");
export const In = keyword("in");
export const Report = keyword("report");
export const Resources = keyword("resources");
export const True = keyword("true");
export const False = keyword("false");

export const KEYWORDS = [Let, Import, Defaults, Resources, Repeat, From, As, Yield, For, In, Replicate, Report, True, False];

const number = String.raw`\d+(?:\.\d+)?(?:[eE][+-]?\d+)?`;

/** `20%`: a percentage; no space before the sign. */
export const PercentLiteral = createToken({
  name: "PercentLiteral",
  pattern: new RegExp(`${number}%`),
  label: "a percentage",
});

/** `5 epochs`, `1 epoch`, `500 steps`: a duration; whitespace between count and unit. */
export const DurationLiteral = createToken({
  name: "DurationLiteral",
  pattern: new RegExp(`${number}\\s*(?:epochs|epoch|steps|step)(?![A-Za-z0-9_])`),
  start_chars_hint: [..."0123456789"],
  line_breaks: true,
  label: "a duration",
});

/**
 * `16 GB`, `512 MB`; `2 h`, `30 min`, `90 s`, `1 d`: a memory size or a time, for `resources`
 * blocks. The unit follows on the same line (a space or none), so a number at the end of a
 * line never takes the next line's first word for its unit.
 */
export const QuantityLiteral = createToken({
  name: "QuantityLiteral",
  pattern: new RegExp(`${number}[ \\t]*(?:KB|MB|GB|TB|h|min|s|d)(?![A-Za-z0-9_])`),
  start_chars_hint: [..."0123456789"],
  label: "a memory size or a time",
});

export const NumberLiteral = createToken({ name: "NumberLiteral", pattern: new RegExp(number), label: "a number" });

export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*"/,
  label: "a string",
});

/** A string that reaches the end of its line: reported, then parsed as if it were closed. */
export const UnterminatedString = createToken({
  name: "UnterminatedString",
  pattern: /"(?:[^"\\\n\r]|\\[^\n\r])*\\?/,
  categories: [StringLiteral],
  label: "a string",
});

export const Pipe = createToken({ name: "Pipe", pattern: /\|>/, label: "'|>'" });
export const Minus = createToken({ name: "Minus", pattern: /-/, label: "'-'" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /]/, label: "']'" });
export const LCurly = createToken({ name: "LCurly", pattern: /{/, label: "'{'" });
export const RCurly = createToken({ name: "RCurly", pattern: /}/, label: "'}'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Colon = createToken({ name: "Colon", pattern: /:/, label: "':'" });
export const Equals = createToken({ name: "Equals", pattern: /=/, label: "'='" });

export const LineComment = createToken({ name: "LineComment", pattern: /\/\/[^\n\r]*/, group: "comments" });
export const BlockComment = createToken({
  name: "BlockComment",
  pattern: /\/\*[\s\S]*?\*\//,
  line_breaks: true,
  group: "comments",
});
/** A block comment that never closes runs to the end of the file; reported as an error. */
export const UnterminatedBlockComment = createToken({
  name: "UnterminatedBlockComment",
  pattern: /\/\*[\s\S]*/,
  line_breaks: true,
  group: "comments",
});

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });

export const allTokens: TokenType[] = [
  WhiteSpace,
  LineComment,
  BlockComment,
  UnterminatedBlockComment,
  ...KEYWORDS,
  Identifier,
  PercentLiteral,
  DurationLiteral,
  QuantityLiteral,
  NumberLiteral,
  StringLiteral,
  UnterminatedString,
  Pipe,
  Minus,
  LParen,
  RParen,
  LBracket,
  RBracket,
  LCurly,
  RCurly,
  Comma,
  Colon,
  Equals,
];

export const lthLexer = new Lexer(allTokens, {
  positionTracking: "full",
  ensureOptimizations: false,
});
