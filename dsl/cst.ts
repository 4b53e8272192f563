// Generated from the parser's grammar by chevrotain's generateCstDts; do not edit.
// tests/dsl/parser.test.ts fails when this falls out of date (UPDATE_CST=1 rewrites it).

import type { CstNode, ICstVisitor, IToken } from "chevrotain";

export interface FileCstNode extends CstNode {
  name: "file";
  children: FileCstChildren;
}

export type FileCstChildren = {
  item?: ItemCstNode[];
};

export interface ItemCstNode extends CstNode {
  name: "item";
  children: ItemCstChildren;
}

export type ItemCstChildren = {
  importItem?: ImportItemCstNode[];
  defaultsItem?: DefaultsItemCstNode[];
  resourcesItem?: ResourcesItemCstNode[];
  letItem?: LetItemCstNode[];
  reportItem?: ReportItemCstNode[];
};

export interface ImportItemCstNode extends CstNode {
  name: "importItem";
  children: ImportItemCstChildren;
}

export type ImportItemCstChildren = {
  Import: IToken[];
  StringLiteral: IToken[];
};

export interface DefaultsItemCstNode extends CstNode {
  name: "defaultsItem";
  children: DefaultsItemCstChildren;
}

export type DefaultsItemCstChildren = {
  Defaults: IToken[];
  Identifier: IToken[];
  LCurly: IToken[];
  args?: ArgsCstNode[];
  RCurly: IToken[];
};

export interface ResourcesItemCstNode extends CstNode {
  name: "resourcesItem";
  children: ResourcesItemCstChildren;
}

export type ResourcesItemCstChildren = {
  Resources: IToken[];
  Identifier: IToken[];
  LCurly: IToken[];
  args?: ArgsCstNode[];
  RCurly: IToken[];
};

export interface LetItemCstNode extends CstNode {
  name: "letItem";
  children: LetItemCstChildren;
}

export type LetItemCstChildren = {
  Let: IToken[];
  Identifier: IToken[];
  Equals: IToken[];
  expression: ExpressionCstNode[];
};

export interface ReportItemCstNode extends CstNode {
  name: "reportItem";
  children: ReportItemCstChildren;
}

export type ReportItemCstChildren = {
  Report: IToken[];
  StringLiteral?: IToken[];
  LCurly: IToken[];
  Identifier: (IToken)[];
  Comma?: (IToken)[];
  RCurly: IToken[];
};

export interface ExpressionCstNode extends CstNode {
  name: "expression";
  children: ExpressionCstChildren;
}

export type ExpressionCstChildren = {
  unary: UnaryCstNode[];
  Pipe?: IToken[];
  call?: CallCstNode[];
};

export interface UnaryCstNode extends CstNode {
  name: "unary";
  children: UnaryCstChildren;
}

export type UnaryCstChildren = {
  Minus?: IToken[];
  unary?: UnaryCstNode[];
  postfix?: PostfixCstNode[];
};

export interface PostfixCstNode extends CstNode {
  name: "postfix";
  children: PostfixCstChildren;
}

export type PostfixCstChildren = {
  primary: PrimaryCstNode[];
  LBracket?: IToken[];
  expression?: ExpressionCstNode[];
  RBracket?: IToken[];
};

export interface PrimaryCstNode extends CstNode {
  name: "primary";
  children: PrimaryCstChildren;
}

export type PrimaryCstChildren = {
  call?: CallCstNode[];
  Identifier?: IToken[];
  literal?: LiteralCstNode[];
  list?: ListCstNode[];
  repeat?: RepeatCstNode[];
  forLoop?: ForLoopCstNode[];
  replicate?: ReplicateCstNode[];
  parenthesized?: ParenthesizedCstNode[];
};

export interface CallCstNode extends CstNode {
  name: "call";
  children: CallCstChildren;
}

export type CallCstChildren = {
  Identifier: IToken[];
  LParen: IToken[];
  args?: ArgsCstNode[];
  RParen: IToken[];
};

export interface ArgsCstNode extends CstNode {
  name: "args";
  children: ArgsCstChildren;
}

export type ArgsCstChildren = {
  arg: (ArgCstNode)[];
  Comma?: (IToken)[];
};

export interface ArgCstNode extends CstNode {
  name: "arg";
  children: ArgCstChildren;
}

export type ArgCstChildren = {
  Identifier?: IToken[];
  Colon?: IToken[];
  expression: ExpressionCstNode[];
};

export interface ListCstNode extends CstNode {
  name: "list";
  children: ListCstChildren;
}

export type ListCstChildren = {
  LBracket: IToken[];
  expression?: (ExpressionCstNode)[];
  Comma?: (IToken)[];
  RBracket: IToken[];
};

export interface RepeatCstNode extends CstNode {
  name: "repeat";
  children: RepeatCstChildren;
}

export type RepeatCstChildren = {
  Repeat: IToken[];
  Minus?: IToken[];
  NumberLiteral: IToken[];
  From: IToken[];
  expression: ExpressionCstNode[];
  As: IToken[];
  Identifier: IToken[];
  block: BlockCstNode[];
};

export interface ForLoopCstNode extends CstNode {
  name: "forLoop";
  children: ForLoopCstChildren;
}

export type ForLoopCstChildren = {
  For: IToken[];
  Identifier: IToken[];
  In: IToken[];
  expression: ExpressionCstNode[];
  block: BlockCstNode[];
};

export interface ReplicateCstNode extends CstNode {
  name: "replicate";
  children: ReplicateCstChildren;
}

export type ReplicateCstChildren = {
  Replicate: IToken[];
  Minus?: IToken[];
  NumberLiteral: IToken[];
  As: IToken[];
  Identifier: IToken[];
  block: BlockCstNode[];
};

export interface BlockCstNode extends CstNode {
  name: "block";
  children: BlockCstChildren;
}

export type BlockCstChildren = {
  LCurly: IToken[];
  letItem?: LetItemCstNode[];
  yieldClause?: YieldClauseCstNode[];
  RCurly: IToken[];
};

export interface YieldClauseCstNode extends CstNode {
  name: "yieldClause";
  children: YieldClauseCstChildren;
}

export type YieldClauseCstChildren = {
  Yield: IToken[];
  expression: ExpressionCstNode[];
};

export interface ParenthesizedCstNode extends CstNode {
  name: "parenthesized";
  children: ParenthesizedCstChildren;
}

export type ParenthesizedCstChildren = {
  LParen: IToken[];
  expression: ExpressionCstNode[];
  RParen: IToken[];
};

export interface LiteralCstNode extends CstNode {
  name: "literal";
  children: LiteralCstChildren;
}

export type LiteralCstChildren = {
  NumberLiteral?: IToken[];
  PercentLiteral?: IToken[];
  DurationLiteral?: IToken[];
  QuantityLiteral?: IToken[];
  StringLiteral?: IToken[];
  True?: IToken[];
  False?: IToken[];
};

export interface ICstNodeVisitor<IN, OUT> extends ICstVisitor<IN, OUT> {
  file(children: FileCstChildren, param?: IN): OUT;
  item(children: ItemCstChildren, param?: IN): OUT;
  importItem(children: ImportItemCstChildren, param?: IN): OUT;
  defaultsItem(children: DefaultsItemCstChildren, param?: IN): OUT;
  resourcesItem(children: ResourcesItemCstChildren, param?: IN): OUT;
  letItem(children: LetItemCstChildren, param?: IN): OUT;
  reportItem(children: ReportItemCstChildren, param?: IN): OUT;
  expression(children: ExpressionCstChildren, param?: IN): OUT;
  unary(children: UnaryCstChildren, param?: IN): OUT;
  postfix(children: PostfixCstChildren, param?: IN): OUT;
  primary(children: PrimaryCstChildren, param?: IN): OUT;
  call(children: CallCstChildren, param?: IN): OUT;
  args(children: ArgsCstChildren, param?: IN): OUT;
  arg(children: ArgCstChildren, param?: IN): OUT;
  list(children: ListCstChildren, param?: IN): OUT;
  repeat(children: RepeatCstChildren, param?: IN): OUT;
  forLoop(children: ForLoopCstChildren, param?: IN): OUT;
  replicate(children: ReplicateCstChildren, param?: IN): OUT;
  block(children: BlockCstChildren, param?: IN): OUT;
  yieldClause(children: YieldClauseCstChildren, param?: IN): OUT;
  parenthesized(children: ParenthesizedCstChildren, param?: IN): OUT;
  literal(children: LiteralCstChildren, param?: IN): OUT;
}

