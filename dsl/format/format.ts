// `lth fmt`: the canonical text of a `.lth` file, printed from its AST. Every comment is
// kept: each one is attached to the nearest list element (item, block `let`, argument,
// list element, report name, pipe step) before or after it, and printed beside it.

import type * as A from "../ast.js";
import type { Range, SourceFile } from "../source.js";
import { breakParent, group, hardline, ifBreak, indent, join, line, print, softline, type Doc } from "./doc.js";

export const LINE_WIDTH = 80;

/** A node whose parts are a list, where comments can sit between elements. */
type Container =
  | A.FileNode
  | A.Block
  | A.CallExpr
  | A.DefaultsItem
  | A.ResourcesItem
  | A.ReportItem
  | A.ListExpr
  | A.PipeExpr;

type Slot = A.Item | A.LetItem | A.Expr | A.Arg | A.Identifier;

interface Attached {
  readonly leading: A.Comment[];
  readonly trailing: A.Comment[];
}

export function formatFile(source: SourceFile, ast: A.FileNode): string {
  return new Formatter(source, ast).run();
}

class Formatter {
  private readonly attached = new Map<Slot, Attached>();
  /** Comments moved out of the middle of an element; each gets a line of its own. */
  private readonly hoisted = new Set<A.Comment>();
  /** Comments after the last element of a container (or in an empty one). */
  private readonly dangling = new Map<Container, A.Comment[]>();

  constructor(
    private readonly source: SourceFile,
    private readonly ast: A.FileNode,
  ) {}

  run(): string {
    for (const comment of this.ast.comments) this.attach(comment, this.ast);
    const text = print(this.file(), LINE_WIDTH);
    return text.length === 0 ? "" : `${text}\n`;
  }

  // ---- attaching comments -----------------------------------------------------------------

  /** `statement`: the item or block line the container belongs to. */
  private attach(comment: A.Comment, container: Container, statement?: Slot): void {
    const slots = slotsOf(container);
    const inside = slots.find((s) => contains(s.range, comment.range));
    if (inside) {
      const owner = container.kind === "File" || container.kind === "Block" ? inside : statement;
      const nested = innermostContainer(inside, comment.range);
      if (nested && nested !== container) this.attach(comment, nested, owner);
      else {
        // Inside an element but not between the parts of a list: it moves above the line.
        this.at(owner ?? inside).leading.push(comment);
        this.hoisted.add(comment);
      }
      return;
    }
    const before = [...slots].reverse().find((s) => s.range.end <= comment.range.start);
    const after = slots.find((s) => s.range.start >= comment.range.end);
    const sameLine = (a: number, b: number) => this.source.line(a) === this.source.line(b);
    // `a, /* note */ b` belongs to b; `a, // note` and `a /* note */` (line end) to a.
    const inlineBeforeNext = comment.block && after !== undefined && sameLine(comment.range.end, after.range.start);
    if (before && sameLine(before.range.end, comment.range.start) && !inlineBeforeNext) {
      this.at(before).trailing.push(comment);
    } else if (after) {
      this.at(after).leading.push(comment);
    } else {
      const list = this.dangling.get(container) ?? [];
      list.push(comment);
      this.dangling.set(container, list);
    }
  }

  private at(slot: Slot): Attached {
    let entry = this.attached.get(slot);
    if (!entry) {
      entry = { leading: [], trailing: [] };
      this.attached.set(slot, entry);
    }
    return entry;
  }

  /** Whether the source has an empty line just above `offset`. */
  private blankLineBefore(offset: number): boolean {
    const text = this.source.text;
    let i = offset;
    let newlines = 0;
    while (i > 0 && /\s/.test(text[i - 1]!)) if (text[--i] === "\n") newlines++;
    return i > 0 && newlines >= 2;
  }

  // ---- comments in the output ---------------------------------------------------------------

  private commentText(comment: A.Comment): string {
    if (!comment.block) return comment.text.trimEnd();
    return comment.text.replace(/\r\n?/g, "\n").replace(/[ \t]+(?=\n|$)/g, "");
  }

  /** `start`: where the slot's text begins, when before its node (`yield` before the result). */
  private leading(slot: Slot, statement: boolean, start = slot.range.start): Doc[] {
    const written = this.writtenBefore(slot);
    const docs: Doc[] = [];
    let inline = false;
    written.forEach((c, i) => {
      if (statement && i > 0 && this.blankLineBefore(c.range.start)) docs.push(hardline);
      // `/* note */ x` stays on x's line; anything else gets a line of its own.
      const next = written[i + 1]?.range.start ?? start;
      inline = c.block && this.source.line(c.range.end) === this.source.line(next);
      docs.push(this.commentText(c), inline ? " " : hardline);
    });
    if (statement && written.length > 0 && !inline && this.blankLineBefore(start)) docs.push(hardline);
    // Comments moved out of the middle of the line come last, right above it.
    for (const c of this.attached.get(slot)?.leading ?? []) if (this.hoisted.has(c)) docs.push(this.commentText(c), hardline);
    return docs;
  }

  /** The comments that stood before a slot in the source (not those moved out of it). */
  private writtenBefore(slot: Slot): A.Comment[] {
    return (this.attached.get(slot)?.leading ?? []).filter((c) => !this.hoisted.has(c));
  }

  /** Where a statement's text begins, its comments included: blank lines above it count from there. */
  private statementStart(slot: Slot, start: number): number {
    return this.writtenBefore(slot)[0]?.range.start ?? start;
  }

  private trailing(slot: Slot): Doc[] {
    return (this.attached.get(slot)?.trailing ?? []).flatMap((c) => [" ", this.commentText(c), c.block ? "" : breakParent]);
  }

  private danglingComments(container: Container, statement: boolean, previous: Range | undefined): Doc[] {
    const comments = this.dangling.get(container) ?? [];
    const docs: Doc[] = [];
    comments.forEach((c, i) => {
      if (i > 0 || previous) docs.push(hardline);
      if (statement && (i > 0 || previous) && this.blankLineBefore(c.range.start)) docs.push(hardline);
      docs.push(this.commentText(c), c.block ? "" : breakParent);
    });
    return docs;
  }

  /** A slot with its comments: `// before` on lines above, `// after` at the line's end. */
  private withComments(slot: Slot, doc: Doc, statement = false, start = slot.range.start): Doc {
    return [...this.leading(slot, statement, start), doc, ...this.trailing(slot)];
  }

  // ---- the file and its items -----------------------------------------------------------------

  private file(): Doc {
    const items = this.ast.items;
    const docs: Doc[] = [];
    items.forEach((item, i) => {
      if (i > 0) {
        docs.push(hardline);
        if (this.blankLineBefore(this.statementStart(item, item.range.start))) docs.push(hardline);
      }
      docs.push(this.withComments(item, this.item(item), true));
    });
    docs.push(this.danglingComments(this.ast, true, items[items.length - 1]?.range));
    return docs;
  }

  private item(item: A.Item): Doc {
    switch (item.kind) {
      case "Import":
        return ["import ", this.string(item.path)];
      case "Let":
        return this.letItem(item);
      case "Defaults":
        return ["defaults ", item.op.name, " ", this.commaList(item, "{", item.args.map((a) => [a, this.arg(a)] as const))];
      case "Resources":
        return ["resources ", item.op.name, " ", this.commaList(item, "{", item.args.map((a) => [a, this.arg(a)] as const))];
      case "Report": {
        const names = item.names.map((n) => [n, n.name] as const);
        return ["report ", item.title ? [this.string(item.title), " "] : "", this.commaList(item, "{", names)];
      }
    }
  }

  private letItem(item: A.LetItem): Doc {
    return ["let ", item.name.name, " = ", this.expr(item.value)];
  }

  /**
   * A comma-separated list: `(a, b)`, `[a, b]` or `{ a, b }` on one line when it fits, else
   * one element a line with a trailing comma. Each element's comments sit after its comma.
   */
  private commaList(container: Container, open: "(" | "[" | "{", elements: readonly (readonly [Slot, Doc])[]): Doc {
    const close = open === "(" ? ")" : open === "[" ? "]" : "}";
    const dangling = this.danglingComments(container, false, elements.length > 0 ? container.range : undefined);
    if (elements.length === 0 && dangling.length === 0) return open + close;
    const edge = open === "{" ? line : softline;
    const docs = elements.map(([slot, doc], i) => [
      ...this.leading(slot, false),
      doc,
      i < elements.length - 1 ? "," : ifBreak(","),
      ...this.trailing(slot),
    ]);
    return group([open, indent([edge, join(line, docs), dangling]), edge, close]);
  }

  // ---- expressions ----------------------------------------------------------------------------

  private expr(e: A.Expr): Doc {
    switch (e.kind) {
      case "Number":
        return e.text;
      case "Percent":
        return `${e.text}%`;
      case "Duration":
        return `${e.text} ${e.count === 1 ? e.unit.slice(0, -1) : e.unit}`;
      case "Quantity":
        return `${e.text} ${e.unit}`;
      case "String":
        return this.string(e);
      case "Bool":
        return String(e.value);
      case "Name":
        return e.name;
      case "Call":
        return this.call(e);
      case "Pipe":
        return this.pipe(e);
      case "List":
        return this.commaList(e, "[", e.items.map((item) => [item, this.expr(item)] as const));
      case "Index":
        return [this.expr(e.target), "[", this.expr(e.index), "]"];
      case "Negate":
        return ["-", this.expr(e.operand)];
      case "Paren":
        return ["(", this.expr(e.inner), ")"];
      case "Repeat":
        return ["repeat ", this.expr(e.count), " from ", this.expr(e.from), " as ", e.variable.name, " ", this.block(e.body)];
      case "For":
        if (e.replicate) return ["replicate ", this.expr(e.replicate.count), " as ", e.variable.name, " ", this.block(e.body)];
        return ["for ", e.variable.name, " in ", this.expr(e.over), " ", this.block(e.body)];
      case "Missing":
        throw new Error("a file with syntax errors cannot be formatted");
    }
  }

  private call(call: A.CallExpr): Doc {
    return [call.op.name, this.commaList(call, "(", call.args.map((a) => [a, this.arg(a)] as const))];
  }

  private arg(arg: A.Arg): Doc {
    return arg.name ? [arg.name.name, ": ", this.expr(arg.value)] : this.expr(arg.value);
  }

  /**
   * `a |> f() |> g()` on one line when it fits, else one step a line. A comment after a
   * step keeps the line break after it: on one line it would read as the next step's.
   */
  private pipe(pipe: A.PipeExpr): Doc {
    const [input, ...calls] = pipeSteps(pipe);
    const step = (slot: Slot, doc: Doc, last: boolean): Doc => [
      this.withComments(slot, doc),
      !last && (this.attached.get(slot)?.trailing.length ?? 0) > 0 ? breakParent : "",
    ];
    const rest = calls.map((c, i) => [line, "|> ", step(c, this.call(c as A.CallExpr), i === calls.length - 1)]);
    // A pipe's range ends with its last step, so nothing dangles after it; printed all the same.
    const dangling = this.danglingComments(pipe, false, pipe.range);
    return group([step(input!, this.expr(input as A.Expr), calls.length === 0), indent([...rest, dangling])]);
  }

  private block(body: A.Block): Doc {
    const docs: Doc[] = [];
    const statements: Slot[] = [...body.lets, body.result];
    statements.forEach((s, i) => {
      const start = s === body.result ? body.yieldRange.start : s.range.start;
      if (i > 0) {
        docs.push(hardline);
        if (this.blankLineBefore(this.statementStart(s, start))) docs.push(hardline);
      }
      const doc = s === body.result ? ["yield ", this.expr(body.result)] : this.letItem(s as A.LetItem);
      docs.push(this.withComments(s, doc, true, start));
    });
    docs.push(this.danglingComments(body, true, body.result.range));
    return ["{", indent([hardline, docs]), hardline, "}"];
  }

  private string(s: A.StringLiteral): string {
    return `"${s.value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  }
}

// ---- the shape of containers ------------------------------------------------------------------

function contains(outer: Range, inner: Range): boolean {
  return outer.start <= inner.start && inner.end <= outer.end;
}

/** `a |> f() |> g()` as [a, f(), g()]. */
function pipeSteps(pipe: A.PipeExpr): Slot[] {
  const calls: A.CallExpr[] = [];
  let e: A.Expr = pipe;
  while (e.kind === "Pipe") {
    calls.unshift(e.call);
    e = e.input;
  }
  return [e, ...calls];
}

function slotsOf(container: Container): readonly Slot[] {
  switch (container.kind) {
    case "File":
      return container.items;
    case "Block":
      return [...container.lets, container.result];
    case "Call":
    case "Defaults":
    case "Resources":
      return container.args;
    case "Report":
      return container.names;
    case "List":
      return container.items;
    case "Pipe":
      return pipeSteps(container);
  }
}

/** The innermost container holding `range`, starting from `node`, which holds it. */
function innermostContainer(node: A.Node, range: Range): Container | undefined {
  if (isContainer(node)) return node;
  const child = childrenOf(node).find((c) => contains(c.range, range));
  return child && innermostContainer(child, range);
}

function isContainer(node: A.Node): node is Container {
  switch (node.kind) {
    case "File":
    case "Block":
    case "Call":
    case "Defaults":
    case "Resources":
    case "Report":
    case "List":
    case "Pipe":
      return true;
    default:
      return false;
  }
}

/** The parts of a node that is not a container. */
function childrenOf(node: A.Node): A.Node[] {
  switch (node.kind) {
    case "Let":
    case "Arg":
      return [node.value];
    case "Index":
      return [node.target, node.index];
    case "Negate":
      return [node.operand];
    case "Paren":
      return [node.inner];
    case "Repeat":
      return [node.count, node.from, node.body];
    case "For":
      // A replicate's list is made from its count, which is what the text holds.
      return node.replicate ? [node.replicate.count, node.body] : [node.over, node.body];
    default:
      return [];
  }
}
