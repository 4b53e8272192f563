// Builds the typed AST from Chevrotain's CST. After error recovery a CST node can lack
// any child, so every child is read through `first`, and a lost expression becomes a
// `Missing` node; the checker never sees such a tree (syntax errors stop it first).

import type { CstNode, IToken } from "chevrotain";
import type * as A from "./ast.js";
import type * as C from "./cst.js";
import type { Range } from "./source.js";

/** A problem the builder finds that the grammar cannot express (a bad escape). */
export interface BuildProblem {
  readonly range: Range;
  readonly message: string;
}

function first<T>(xs: readonly T[] | undefined): T | undefined {
  return xs?.[0];
}

function present(token: IToken | undefined): token is IToken {
  return token !== undefined && !token.isInsertedInRecovery && Number.isFinite(token.startOffset);
}

function tokenRange(token: IToken): Range {
  return { start: token.startOffset, end: token.startOffset + token.image.length };
}

function nodeRange(node: CstNode, fallback: number): Range {
  const { startOffset, endOffset } = node.location ?? { startOffset: NaN, endOffset: NaN };
  if (Number.isFinite(startOffset) && Number.isFinite(endOffset)) return { start: startOffset, end: endOffset! + 1 };
  if (Number.isFinite(startOffset)) return { start: startOffset, end: startOffset };
  return { start: fallback, end: fallback };
}

/** Replicates one block may unroll into; the checker reports a count above 10,000, as it does a repeat's rounds. */
export const MAX_REPLICATES = 10_001;

export class AstBuilder {
  readonly problems: BuildProblem[] = [];
  /** Where the last real token ended: the anchor for nodes that recovery left empty. */
  private lastEnd = 0;

  file(node: C.FileCstNode, comments: readonly A.Comment[], length: number): A.FileNode {
    const items: A.Item[] = [];
    for (const item of node.children.item ?? []) {
      const built = this.item(item);
      if (built) items.push(built);
    }
    return { kind: "File", range: { start: 0, end: length }, items, comments };
  }

  private item(node: C.ItemCstNode): A.Item | undefined {
    const c = node.children;
    const importItem = first(c.importItem);
    if (importItem) return this.importItem(importItem);
    const defaultsItem = first(c.defaultsItem);
    if (defaultsItem) return this.defaultsItem(defaultsItem);
    const resourcesItem = first(c.resourcesItem);
    if (resourcesItem) return this.resourcesItem(resourcesItem);
    const letItem = first(c.letItem);
    if (letItem) return this.letItem(letItem);
    const reportItem = first(c.reportItem);
    if (reportItem) return this.reportItem(reportItem);
    return undefined;
  }

  /** An import whose path recovery lost is dropped: there is nothing to load. */
  private importItem(node: C.ImportItemCstNode): A.ImportItem | undefined {
    const path = first(node.children.StringLiteral);
    if (!present(path)) return undefined;
    return { kind: "Import", range: this.range(node), path: this.string(path, path.startOffset) };
  }

  private defaultsItem(node: C.DefaultsItemCstNode): A.DefaultsItem {
    const range = this.range(node);
    const args = first(node.children.args);
    return {
      kind: "Defaults",
      range,
      op: this.identifier(first(node.children.Identifier), range.end),
      args: args ? this.args(args, "defaults") : [],
    };
  }

  private resourcesItem(node: C.ResourcesItemCstNode): A.ResourcesItem {
    const range = this.range(node);
    const args = first(node.children.args);
    return {
      kind: "Resources",
      range,
      op: this.identifier(first(node.children.Identifier), range.end),
      args: args ? this.args(args, "resources") : [],
    };
  }

  letItem(node: C.LetItemCstNode): A.LetItem {
    const range = this.range(node);
    return {
      kind: "Let",
      range,
      name: this.identifier(first(node.children.Identifier), range.end),
      value: this.expression(first(node.children.expression), range.end),
    };
  }

  private reportItem(node: C.ReportItemCstNode): A.ReportItem {
    const range = this.range(node);
    const titleToken = first(node.children.StringLiteral);
    const names = (node.children.Identifier ?? []).filter(present).map((t) => this.identifier(t, range.end));
    return present(titleToken)
      ? { kind: "Report", range, title: this.string(titleToken, range.end), names }
      : { kind: "Report", range, names };
  }

  private expression(node: C.ExpressionCstNode | undefined, fallback: number): A.Expr {
    if (!node) return this.missing(fallback);
    const range = this.range(node);
    let expr = this.unary(first(node.children.unary), range.start);
    for (const callNode of node.children.call ?? []) {
      const call = this.call(callNode);
      expr = { kind: "Pipe", range: { start: expr.range.start, end: call.range.end }, input: expr, call };
    }
    return expr;
  }

  private unary(node: C.UnaryCstNode | undefined, fallback: number): A.Expr {
    if (!node) return this.missing(fallback);
    const range = this.range(node);
    const postfix = first(node.children.postfix);
    if (postfix) return this.postfix(postfix);
    return { kind: "Negate", range, operand: this.unary(first(node.children.unary), range.end) };
  }

  private postfix(node: C.PostfixCstNode): A.Expr {
    const range = this.range(node);
    let expr = this.primary(first(node.children.primary), range.start);
    const closers = node.children.RBracket ?? [];
    (node.children.expression ?? []).forEach((indexNode, i) => {
      const index = this.expression(indexNode, expr.range.end);
      const closer = closers[i];
      const end = present(closer) ? closer.startOffset + 1 : index.range.end;
      expr = { kind: "Index", range: { start: expr.range.start, end }, target: expr, index };
    });
    return expr;
  }

  private primary(node: C.PrimaryCstNode | undefined, fallback: number): A.Expr {
    if (!node) return this.missing(fallback);
    const c = node.children;
    const call = first(c.call);
    if (call) return this.call(call);
    const name = first(c.Identifier);
    if (present(name)) return { kind: "Name", range: this.see(name), name: name.image };
    const literal = first(c.literal);
    if (literal) return this.literal(literal);
    const list = first(c.list);
    if (list) return this.list(list);
    const repeat = first(c.repeat);
    if (repeat) return this.repeat(repeat);
    const forLoop = first(c.forLoop);
    if (forLoop) return this.forLoop(forLoop);
    const replicate = first(c.replicate);
    if (replicate) return this.replicate(replicate);
    const paren = first(c.parenthesized);
    if (paren) {
      const range = this.range(paren);
      return { kind: "Paren", range, inner: this.expression(first(paren.children.expression), range.start) };
    }
    return this.missing(fallback);
  }

  private call(node: C.CallCstNode): A.CallExpr {
    const range = this.range(node);
    const args = first(node.children.args);
    return {
      kind: "Call",
      range,
      op: this.identifier(first(node.children.Identifier), range.start),
      args: args ? this.args(args, "call") : [],
    };
  }

  /**
   * Arguments, positional ones first (LANGUAGE.md, Grammar); every entry of a `defaults`
   * block is named. The grammar's comments say so, so breaking either is a syntax error.
   */
  private args(node: C.ArgsCstNode, owner: "call" | "defaults" | "resources"): A.Arg[] {
    let named = false;
    return (node.children.arg ?? []).map((argNode) => {
      const range = this.range(argNode);
      const nameToken = first(argNode.children.Identifier);
      const value = this.expression(first(argNode.children.expression), range.end);
      if (present(nameToken)) {
        named = true;
        return { kind: "Arg", range, name: this.identifier(nameToken, range.start), value };
      }
      if (owner !== "call") this.problems.push({ range, message: `a ${owner} entry needs a ${owner === "defaults" ? "parameter " : ""}name: write \`name: value\`` });
      else if (named) this.problems.push({ range, message: "a positional argument cannot follow a named one" });
      return { kind: "Arg", range, value };
    });
  }

  private list(node: C.ListCstNode): A.ListExpr {
    const range = this.range(node);
    const items = (node.children.expression ?? []).map((e) => this.expression(e, range.end));
    return { kind: "List", range, items };
  }

  /**
   * A loop's count as written (`repeat INT`, `replicate INT`): a whole number, with an
   * optional minus so that the checker reports `-1` by its range; a fraction is a problem here.
   */
  private count(c: { NumberLiteral?: IToken[]; Minus?: IToken[] }, start: number, what: string): { count: A.NumberLiteral | A.NegateExpr; literal: A.NumberLiteral; negative: boolean } {
    const countToken = first(c.NumberLiteral);
    const minus = first(c.Minus);
    const literal: A.NumberLiteral = present(countToken)
      ? this.number(countToken)
      : { kind: "Number", range: { start, end: start }, value: NaN, integer: true, text: "" };
    if (present(countToken) && !literal.integer) this.problems.push({ range: literal.range, message: `${what}; found ${literal.text}` });
    const count: A.NumberLiteral | A.NegateExpr = present(minus)
      ? { kind: "Negate", range: { start: minus.startOffset, end: literal.range.end }, operand: literal }
      : literal;
    return { count, literal, negative: present(minus) };
  }

  private repeat(node: C.RepeatCstNode): A.RepeatExpr {
    const range = this.range(node);
    const c = node.children;
    // The grammar's `repeat INT`: a count of rounds is whole.
    const { count } = this.count(c, range.start, "'repeat' takes a whole number of rounds");
    return {
      kind: "Repeat",
      range,
      count,
      from: this.expression(first(c.expression), count.range.end),
      variable: this.identifier(first(c.Identifier), range.end),
      body: this.block(first(c.block), range.end),
    };
  }

  /** `replicate N as seed { … }`: a `for` over 1 … N, marked (see `A.ForExpr`). */
  private replicate(node: C.ReplicateCstNode): A.ForExpr {
    const range = this.range(node);
    const c = node.children;
    const { count, literal, negative } = this.count(c, range.start, "'replicate' takes a whole number of replicates");
    const n = negative || !Number.isInteger(literal.value) ? 0 : Math.min(literal.value, MAX_REPLICATES);
    const items: A.NumberLiteral[] = Array.from({ length: n }, (_, i) => ({ kind: "Number", range: literal.range, value: i + 1, integer: true, text: String(i + 1) }));
    return {
      kind: "For",
      range,
      variable: this.identifier(first(c.Identifier), range.end),
      over: { kind: "List", range: count.range, items },
      body: this.block(first(c.block), range.end),
      replicate: { count },
    };
  }

  private forLoop(node: C.ForLoopCstNode): A.ForExpr {
    const range = this.range(node);
    const c = node.children;
    return {
      kind: "For",
      range,
      variable: this.identifier(first(c.Identifier), range.start),
      over: this.expression(first(c.expression), range.end),
      body: this.block(first(c.block), range.end),
    };
  }

  /** A block's `let`s, then its one `yield` last (LANGUAGE.md: block := "{" let* "yield" expr "}"). */
  private block(node: C.BlockCstNode | undefined, fallback: number): A.Block {
    if (!node) {
      return { kind: "Block", range: { start: fallback, end: fallback }, lets: [], result: this.missing(fallback), yieldRange: { start: fallback, end: fallback } };
    }
    const range = this.range(node);
    const yields = node.children.yieldClause ?? [];
    const [firstYield, secondYield] = yields;
    const yieldToken = first(firstYield?.children.Yield);
    const yieldRange = present(yieldToken) ? tokenRange(yieldToken) : { start: range.end, end: range.end };
    const letNodes = node.children.letItem ?? [];
    const closer = first(node.children.RCurly);
    if (!firstYield && present(closer)) {
      this.problems.push({ range: tokenRange(closer), message: "expected 'yield' but found '}': a block ends with 'yield' and its result" });
    }
    const lateLet = letNodes.find((l) => firstYield && nodeRange(l, 0).start > yieldRange.start);
    if (lateLet) {
      this.problems.push({ range: this.range(lateLet), message: "a block's 'let's come before its 'yield'" });
    } else if (secondYield) {
      this.problems.push({ range: this.range(secondYield), message: "a block has one 'yield', at its end" });
    }
    return {
      kind: "Block",
      range,
      lets: letNodes.map((l) => this.letItem(l)),
      result: this.expression(first(firstYield?.children.expression), yieldRange.end),
      yieldRange,
    };
  }


  private literal(node: C.LiteralCstNode): A.Expr {
    const c = node.children;
    const number = first(c.NumberLiteral);
    if (present(number)) return this.number(number);
    const percent = first(c.PercentLiteral);
    if (present(percent)) {
      const text = percent.image.slice(0, -1);
      return { kind: "Percent", range: this.see(percent), value: Number(text), text };
    }
    const duration = first(c.DurationLiteral);
    if (present(duration)) {
      const [, text = "", unit = ""] = /^(\S+?)\s*(epochs?|steps?)$/.exec(duration.image) ?? [];
      return {
        kind: "Duration",
        range: this.see(duration),
        count: Number(text),
        unit: unit.startsWith("epoch") ? "epochs" : "steps",
        text,
      };
    }
    const quantity = first(c.QuantityLiteral);
    if (present(quantity)) {
      const [, text = "", unit = ""] = /^(\S+?)[ \t]*(KB|MB|GB|TB|min|h|s|d)$/.exec(quantity.image) ?? [];
      return { kind: "Quantity", range: this.see(quantity), value: Number(text), unit: unit as A.QuantityUnit, text };
    }
    const string = first(c.StringLiteral);
    if (present(string)) return this.string(string, string.startOffset);
    const bool = first(c.True) ?? first(c.False);
    if (present(bool)) return { kind: "Bool", range: this.see(bool), value: bool.image === "true" };
    return this.missing(this.range(node).start);
  }

  private number(token: IToken): A.NumberLiteral {
    return {
      kind: "Number",
      range: this.see(token),
      value: Number(token.image),
      integer: /^\d+$/.test(token.image),
      text: token.image,
    };
  }

  /** Decodes a string literal; `\"`, `\\` and `\n` are its only escapes. */
  private string(token: IToken | undefined, fallback: number): A.StringLiteral {
    if (!present(token)) return { kind: "String", range: { start: fallback, end: fallback }, value: "" };
    const range = this.see(token);
    const closed = token.image.length >= 2 && token.image.endsWith('"') && token.tokenType.name === "StringLiteral";
    const body = token.image.slice(1, closed ? -1 : undefined);
    let value = "";
    for (let i = 0; i < body.length; i++) {
      const ch = body[i]!;
      if (ch !== "\\") {
        value += ch;
        continue;
      }
      const next = body[i + 1];
      const escapeStart = range.start + 1 + i;
      if (next === '"' || next === "\\") value += next;
      else if (next === "n") value += "\n";
      else {
        this.problems.push({
          range: { start: escapeStart, end: escapeStart + (next === undefined ? 1 : 2) },
          message:
            next === undefined
              ? "a string cannot end with a lone backslash"
              : `unknown escape '\\${next}' in a string; the escapes are \\", \\\\ and \\n`,
        });
        if (next !== undefined) value += next;
      }
      i++;
    }
    return { kind: "String", range, value };
  }

  private identifier(token: IToken | undefined, fallback: number): A.Identifier {
    if (!present(token)) return { kind: "Identifier", range: { start: fallback, end: fallback }, name: "" };
    return { kind: "Identifier", range: this.see(token), name: token.image };
  }

  private missing(at: number): A.MissingExpr {
    const offset = Number.isFinite(at) ? at : this.lastEnd;
    return { kind: "Missing", range: { start: offset, end: offset } };
  }

  private see(token: IToken): Range {
    const r = tokenRange(token);
    this.lastEnd = Math.max(this.lastEnd, r.end);
    return r;
  }

  private range(node: CstNode): Range {
    return nodeRange(node, this.lastEnd);
  }
}
