// The `.lth` grammar (LANGUAGE.md, Grammar) as a Chevrotain CstParser. Error recovery is
// on, so one pass reports every syntax error; ast.ts turns the CST into the typed AST.

import type { IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
import { CstParser, EOF } from "./chevrotain.js";
import {
  allTokens,
  As,
  Colon,
  Comma,
  Defaults,
  DurationLiteral,
  Equals,
  False,
  For,
  From,
  Identifier,
  Import,
  In,
  KEYWORDS,
  LBracket,
  LCurly,
  Let,
  LParen,
  Minus,
  NumberLiteral,
  PercentLiteral,
  Pipe,
  QuantityLiteral,
  RBracket,
  RCurly,
  Repeat,
  Replicate,
  Report,
  Resources,
  RParen,
  StringLiteral,
  True,
  Yield,
} from "./lexer.js";

export function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return "the end of the file";
  const image = token.image.length > 24 ? `${token.image.slice(0, 21)}...` : token.image;
  return `'${image.replace(/\s+/g, " ")}'`;
}

function label(type: TokenType): string {
  return String(type.LABEL ?? type.name);
}

const STATEMENT_KEYWORDS: readonly TokenType[] = [Let, Import, Defaults, Resources, Report, Yield];

const ITEM_STARTS = "an item starts with 'let', 'import', 'defaults', 'resources' or 'report'";

/** What a person would call the thing that was expected, by grammar rule. */
const RULE_EXPECTATION: Record<string, string> = {
  file: "'let', 'import', 'defaults', 'resources' or 'report'",
  item: "'let', 'import', 'defaults', 'resources' or 'report'",
  expression: "an expression",
  unary: "an expression",
  postfix: "an expression",
  primary: "an expression",
  literal: "a value",
  block: "'let', 'yield' or '}'",
};

const messages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, previous, ruleName }) {
    if (ruleName === "call" && expected === LParen) {
      return `expected '(' after '${previous.image}': what follows '|>' must be a call`;
    }
    if (ruleName === "call" && expected === Identifier) {
      return `expected a call after '|>' but found ${describeToken(actual)}`;
    }
    if (ruleName === "block" && expected === RCurly) {
      return `expected 'let', 'yield' or '}' in a block but found ${describeToken(actual)}`;
    }
    if (ruleName === "replicate" && expected === NumberLiteral) {
      return `expected the number of replicates, written out ('replicate 3 as seed { … }'), but found ${describeToken(actual)}`;
    }
    if (ruleName === "replicate" && expected === As) {
      return `expected 'as' and the name bound to 1 … N ('replicate 3 as seed { … }') but found ${describeToken(actual)}`;
    }
    if (expected === EOF) {
      return `unexpected ${describeToken(actual)}; ${ITEM_STARTS}`;
    }
    if (expected === Identifier && KEYWORDS.includes(actual.tokenType)) {
      return `'${actual.image}' is a reserved word and cannot be used as a name`;
    }
    return `expected ${label(expected)} but found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `unexpected ${describeToken(firstRedundant)}; ${ITEM_STARTS}`;
  },
  buildNoViableAltMessage({ actual, ruleName }) {
    const first = actual[0]!;
    return `expected ${RULE_EXPECTATION[ruleName] ?? "something else"} but found ${describeToken(first)}`;
  },
  buildEarlyExitMessage({ actual, ruleName }) {
    return `expected ${RULE_EXPECTATION[ruleName] ?? "something else"} but found ${describeToken(actual[0]!)}`;
  },
};

class LthParser extends CstParser {
  constructor() {
    super(allTokens, {
      recoveryEnabled: true,
      nodeLocationTracking: "onlyOffset",
      errorMessageProvider: messages,
      maxLookahead: 3,
    });
    this.performSelfAnalysis();
  }

  /**
   * Recovery may drop a stray token to go on, but never one that starts an item or a
   * block's line: dropping the `let` after a dangling `|>` would glue two lines together
   * and report the second one's name as the error.
   */
  // Chevrotain asks with the expected type; the token it would drop is the next one.
  override canTokenTypeBeDeletedInRecovery(): boolean {
    return !STATEMENT_KEYWORDS.includes(this.LA(1).tokenType);
  }

  // file := item*
  file = this.RULE("file", () => {
    this.MANY(() => this.SUBRULE(this.item));
  });

  // item := import | defaults | resources | let | report
  item = this.RULE("item", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.importItem) },
      { ALT: () => this.SUBRULE(this.defaultsItem) },
      { ALT: () => this.SUBRULE(this.resourcesItem) },
      { ALT: () => this.SUBRULE(this.letItem) },
      { ALT: () => this.SUBRULE(this.reportItem) },
    ]);
  });

  // import := "import" STRING
  importItem = this.RULE("importItem", () => {
    this.CONSUME(Import);
    this.CONSUME(StringLiteral);
  });

  // defaults := "defaults" IDENT "{" args? "}"
  defaultsItem = this.RULE("defaultsItem", () => {
    this.CONSUME(Defaults);
    this.CONSUME(Identifier);
    this.CONSUME(LCurly);
    this.OPTION(() => this.SUBRULE(this.args));
    this.CONSUME(RCurly);
  });

  // resources := "resources" IDENT "{" args? "}"   (what each job of the op asks a cluster for)
  resourcesItem = this.RULE("resourcesItem", () => {
    this.CONSUME(Resources);
    this.CONSUME(Identifier);
    this.CONSUME(LCurly);
    this.OPTION(() => this.SUBRULE(this.args));
    this.CONSUME(RCurly);
  });

  // let := "let" IDENT "=" expr
  letItem = this.RULE("letItem", () => {
    this.CONSUME(Let);
    this.CONSUME(Identifier);
    this.CONSUME(Equals);
    this.SUBRULE(this.expression);
  });

  // report := "report" STRING? "{" IDENT ("," IDENT)* ","? "}"
  reportItem = this.RULE("reportItem", () => {
    this.CONSUME(Report);
    this.OPTION(() => this.CONSUME(StringLiteral));
    this.CONSUME(LCurly);
    this.CONSUME(Identifier);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.CONSUME2(Identifier);
    });
    this.OPTION2(() => this.CONSUME2(Comma));
    this.CONSUME(RCurly);
  });

  // expr := unary ("|>" call)*
  expression = this.RULE("expression", () => {
    this.SUBRULE(this.unary);
    this.MANY(() => {
      this.CONSUME(Pipe);
      this.SUBRULE(this.call);
    });
  });

  // A leading "-" is unary minus (LANGUAGE.md, Lexical structure).
  unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Minus);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.postfix) },
    ]);
  });

  // postfix := primary ("[" expr "]")*
  postfix = this.RULE("postfix", () => {
    this.SUBRULE(this.primary);
    this.MANY(() => {
      this.CONSUME(LBracket);
      this.SUBRULE(this.expression);
      this.CONSUME(RBracket);
    });
  });

  // primary := call | IDENT | literal | list | repeat | for | replicate | "(" expr ")"
  primary = this.RULE("primary", () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.call) },
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.SUBRULE(this.literal) },
      { ALT: () => this.SUBRULE(this.list) },
      { ALT: () => this.SUBRULE(this.repeat) },
      { ALT: () => this.SUBRULE(this.forLoop) },
      { ALT: () => this.SUBRULE(this.replicate) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
    ]);
  });

  // call := IDENT "(" args? ")"
  call = this.RULE("call", () => {
    this.CONSUME(Identifier);
    this.CONSUME(LParen);
    this.OPTION(() => this.SUBRULE(this.args));
    this.CONSUME(RParen);
  });

  // args := arg ("," arg)* ","?
  args = this.RULE("args", () => {
    this.SUBRULE(this.arg);
    this.MANY(() => {
      this.CONSUME(Comma);
      this.SUBRULE2(this.arg);
    });
    this.OPTION(() => this.CONSUME2(Comma));
  });

  // arg := (IDENT ":")? expr
  arg = this.RULE("arg", () => {
    this.OPTION(() => {
      this.CONSUME(Identifier);
      this.CONSUME(Colon);
    });
    this.SUBRULE(this.expression);
  });

  // list := "[" (expr ("," expr)* ","?)? "]"
  list = this.RULE("list", () => {
    this.CONSUME(LBracket);
    this.OPTION(() => {
      this.SUBRULE(this.expression);
      this.MANY(() => {
        this.CONSUME(Comma);
        this.SUBRULE2(this.expression);
      });
      this.OPTION2(() => this.CONSUME2(Comma));
    });
    this.CONSUME(RBracket);
  });

  // repeat := "repeat" INT "from" expr "as" IDENT block
  // The count is any number literal, with an optional minus, so that `repeat 0`,
  // `repeat -1` and `repeat 2.5` get the checker's precise range and type errors.
  repeat = this.RULE("repeat", () => {
    this.CONSUME(Repeat);
    this.OPTION(() => this.CONSUME(Minus));
    this.CONSUME(NumberLiteral);
    this.CONSUME(From);
    this.SUBRULE(this.expression);
    this.CONSUME(As);
    this.CONSUME(Identifier);
    this.SUBRULE(this.block);
  });

  // for := "for" IDENT "in" expr block
  forLoop = this.RULE("forLoop", () => {
    this.CONSUME(For);
    this.CONSUME(Identifier);
    this.CONSUME(In);
    this.SUBRULE(this.expression);
    this.SUBRULE(this.block);
  });

  // replicate := "replicate" INT "as" IDENT block
  // The count is any number literal, with an optional minus, as repeat's.
  replicate = this.RULE("replicate", () => {
    this.CONSUME(Replicate);
    this.OPTION(() => this.CONSUME(Minus));
    this.CONSUME(NumberLiteral);
    this.CONSUME(As);
    this.CONSUME(Identifier);
    this.SUBRULE(this.block);
  });

  // block := "{" let* "yield" expr "}", parsed as "{" (let | yield expr)* "}": build-ast.ts
  // checks for the one `yield` at the end, so a missing or misplaced one is one error at
  // the right place instead of a recovery that swallows the items after the block.
  block = this.RULE("block", () => {
    this.CONSUME(LCurly);
    this.MANY(() =>
      this.OR([{ ALT: () => this.SUBRULE(this.letItem) }, { ALT: () => this.SUBRULE(this.yieldClause) }]),
    );
    this.CONSUME(RCurly);
  });

  yieldClause = this.RULE("yieldClause", () => {
    this.CONSUME(Yield);
    this.SUBRULE(this.expression);
  });

  parenthesized = this.RULE("parenthesized", () => {
    this.CONSUME(LParen);
    this.SUBRULE(this.expression);
    this.CONSUME(RParen);
  });

  // literal := NUMBER | QUANTITY | STRING | "true" | "false"
  literal = this.RULE("literal", () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(PercentLiteral) },
      { ALT: () => this.CONSUME(DurationLiteral) },
      { ALT: () => this.CONSUME(QuantityLiteral) },
      { ALT: () => this.CONSUME(StringLiteral) },
      { ALT: () => this.CONSUME(True) },
      { ALT: () => this.CONSUME(False) },
    ]);
  });
}

/** One parser instance serves every parse; Chevrotain resets it on each `input =`. */
export const lthParser = new LthParser();
