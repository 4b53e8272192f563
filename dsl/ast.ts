// The typed AST of a `.lth` file. Every node carries the source range it came from, so a
// problem found in any later phase still points at the exact text.

import type { Range } from "./source.js";

interface NodeBase {
  readonly range: Range;
}

export interface Identifier extends NodeBase {
  readonly kind: "Identifier";
  readonly name: string;
}

export interface Comment extends NodeBase {
  readonly kind: "Comment";
  /** The comment as written, delimiters included. */
  readonly text: string;
  readonly block: boolean;
}

// ---- expressions -------------------------------------------------------------------

export interface NumberLiteral extends NodeBase {
  readonly kind: "Number";
  readonly value: number;
  /** Written without a fraction or exponent, so an `Int`. */
  readonly integer: boolean;
  readonly text: string;
}

export interface PercentLiteral extends NodeBase {
  readonly kind: "Percent";
  /** In percent: `20%` is 20. */
  readonly value: number;
  readonly text: string;
}

export type DurationUnit = "epochs" | "steps";

export interface DurationLiteral extends NodeBase {
  readonly kind: "Duration";
  readonly count: number;
  readonly unit: DurationUnit;
  /** The count as written (`5`, `0.5`). */
  readonly text: string;
}

/** Units of a `resources` entry: memory sizes (decimal, as SLURM reads them) and times. */
export type QuantityUnit = "KB" | "MB" | "GB" | "TB" | "s" | "min" | "h" | "d";

/** `16 GB`, `2 h`: a memory size or a time, written only in `resources` blocks. */
export interface QuantityLiteral extends NodeBase {
  readonly kind: "Quantity";
  readonly value: number;
  readonly unit: QuantityUnit;
  /** The number as written. */
  readonly text: string;
}

export interface StringLiteral extends NodeBase {
  readonly kind: "String";
  readonly value: string;
}

export interface BoolLiteral extends NodeBase {
  readonly kind: "Bool";
  readonly value: boolean;
}

export interface NameExpr extends NodeBase {
  readonly kind: "Name";
  readonly name: string;
}

export interface Arg extends NodeBase {
  readonly kind: "Arg";
  /** Present for a named argument `k: v`. */
  readonly name?: Identifier;
  readonly value: Expr;
}

export interface CallExpr extends NodeBase {
  readonly kind: "Call";
  readonly op: Identifier;
  readonly args: readonly Arg[];
}

/** `input |> call`: the call with `input` as its first positional argument. */
export interface PipeExpr extends NodeBase {
  readonly kind: "Pipe";
  readonly input: Expr;
  readonly call: CallExpr;
}

export interface ListExpr extends NodeBase {
  readonly kind: "List";
  readonly items: readonly Expr[];
}

export interface IndexExpr extends NodeBase {
  readonly kind: "Index";
  readonly target: Expr;
  readonly index: Expr;
}

export interface NegateExpr extends NodeBase {
  readonly kind: "Negate";
  readonly operand: Expr;
}

export interface ParenExpr extends NodeBase {
  readonly kind: "Paren";
  readonly inner: Expr;
}

export interface Block extends NodeBase {
  readonly kind: "Block";
  readonly lets: readonly LetItem[];
  readonly result: Expr;
  /** The `yield` keyword, for diagnostics and formatting. */
  readonly yieldRange: Range;
}

/** `repeat N from X as t { ... yield e }`: a fold of N rounds. */
export interface RepeatExpr extends NodeBase {
  readonly kind: "Repeat";
  readonly count: NumberLiteral | NegateExpr;
  readonly from: Expr;
  readonly variable: Identifier;
  readonly body: Block;
}

/**
 * `for x in list { ... yield e }`: a map over a list. `replicate N as seed { ... yield e }`
 * is one too, over the list 1 … N (`over`, made from the count, each item spanning it), with
 * `replicate` set: its value is a `Replicates`.
 */
export interface ForExpr extends NodeBase {
  readonly kind: "For";
  readonly variable: Identifier;
  readonly over: Expr;
  readonly body: Block;
  /** Set for `replicate N as seed`: the count as written. */
  readonly replicate?: { readonly count: NumberLiteral | NegateExpr };
}

/** Stands where error recovery dropped an expression; only in files with syntax errors. */
export interface MissingExpr extends NodeBase {
  readonly kind: "Missing";
}

export type Literal = NumberLiteral | PercentLiteral | DurationLiteral | QuantityLiteral | StringLiteral | BoolLiteral;

export type Expr =
  | Literal
  | NameExpr
  | CallExpr
  | PipeExpr
  | ListExpr
  | IndexExpr
  | NegateExpr
  | ParenExpr
  | RepeatExpr
  | ForExpr
  | MissingExpr;

// ---- items -------------------------------------------------------------------------

export interface ImportItem extends NodeBase {
  readonly kind: "Import";
  readonly path: StringLiteral;
}

export interface DefaultsItem extends NodeBase {
  readonly kind: "Defaults";
  readonly op: Identifier;
  readonly args: readonly Arg[];
}

/** `resources op { cpus: 4, mem: 16 GB }`: what each batch job of the op asks for; never part of a key. */
export interface ResourcesItem extends NodeBase {
  readonly kind: "Resources";
  readonly op: Identifier;
  readonly args: readonly Arg[];
}

export interface LetItem extends NodeBase {
  readonly kind: "Let";
  readonly name: Identifier;
  readonly value: Expr;
}

export interface ReportItem extends NodeBase {
  readonly kind: "Report";
  readonly title?: StringLiteral;
  readonly names: readonly Identifier[];
}

export type Item = ImportItem | DefaultsItem | ResourcesItem | LetItem | ReportItem;

export interface FileNode extends NodeBase {
  readonly kind: "File";
  readonly items: readonly Item[];
  /** Every comment in the file, in order; the formatter puts each one back. */
  readonly comments: readonly Comment[];
}

export type Node = Expr | Item | FileNode | Arg | Block | Identifier;
