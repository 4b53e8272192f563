// A small Wadler-style pretty printer: a group prints on one line when it fits the width,
// otherwise each of its line breaks becomes a new line.

export type Doc =
  | string
  | readonly Doc[]
  | { readonly kind: "group"; readonly contents: Doc; shouldBreak: boolean }
  | { readonly kind: "indent"; readonly contents: Doc }
  /** soft: nothing when flat; line: a space when flat; hard: always a new line. */
  | { readonly kind: "line"; readonly mode: "soft" | "line" | "hard" }
  | { readonly kind: "ifBreak"; readonly broken: Doc; readonly flat: Doc }
  /** Forces every enclosing group to break (after a `//` comment). */
  | { readonly kind: "breakParent" };

export const line: Doc = { kind: "line", mode: "line" };
export const softline: Doc = { kind: "line", mode: "soft" };
export const hardline: Doc = { kind: "line", mode: "hard" };
export const breakParent: Doc = { kind: "breakParent" };

export function group(contents: Doc): Doc {
  return { kind: "group", contents, shouldBreak: false };
}

export function indent(contents: Doc): Doc {
  return { kind: "indent", contents };
}

export function ifBreak(broken: Doc, flat: Doc = ""): Doc {
  return { kind: "ifBreak", broken, flat };
}

export function join(separator: Doc, docs: readonly Doc[]): Doc[] {
  return docs.flatMap((d, i) => (i === 0 ? [d] : [separator, d]));
}

/** Marks every group that contains a hard line or a breakParent as broken; returns whether `doc` does. */
function propagateBreaks(doc: Doc): boolean {
  if (typeof doc === "string") return false;
  if (Array.isArray(doc)) {
    let any = false;
    for (const d of doc as readonly Doc[]) any = propagateBreaks(d) || any;
    return any;
  }
  const node = doc as Exclude<Doc, string | readonly Doc[]>;
  switch (node.kind) {
    case "group": {
      const inner = propagateBreaks(node.contents);
      if (inner) node.shouldBreak = true;
      return node.shouldBreak;
    }
    case "indent":
      return propagateBreaks(node.contents);
    case "ifBreak":
      return propagateBreaks(node.broken) || propagateBreaks(node.flat);
    case "line":
      return node.mode === "hard";
    case "breakParent":
      return true;
  }
}

type Mode = "flat" | "break";
type Command = readonly [indentation: number, mode: Mode, doc: Doc];

/** Whether `next`, then the rest of the output up to the next line break, fits in `width`. */
function fits(next: Command, rest: readonly Command[], width: number): boolean {
  const stack: Command[] = [next];
  let restIndex = rest.length;
  let remaining = width;
  while (remaining >= 0) {
    let command = stack.pop();
    if (!command) {
      if (restIndex === 0) return true;
      command = rest[--restIndex]!;
    }
    const [ind, mode, doc] = command;
    if (typeof doc === "string") {
      remaining -= doc.length;
      continue;
    }
    if (Array.isArray(doc)) {
      for (let i = doc.length - 1; i >= 0; i--) stack.push([ind, mode, doc[i]!]);
      continue;
    }
    const node = doc as Exclude<Doc, string | readonly Doc[]>;
    switch (node.kind) {
      case "group":
        if (node.shouldBreak && mode === "break") return true;
        stack.push([ind, node.shouldBreak ? "break" : mode, node.contents]);
        break;
      case "indent":
        stack.push([ind + 2, mode, node.contents]);
        break;
      case "ifBreak":
        stack.push([ind, mode, mode === "break" ? node.broken : node.flat]);
        break;
      case "line":
        if (mode === "break" || node.mode === "hard") return true;
        if (node.mode === "line") remaining -= 1;
        break;
      case "breakParent":
        break;
    }
  }
  return false;
}

export function print(doc: Doc, width: number): string {
  propagateBreaks(doc);
  const out: string[] = [];
  let column = 0;
  const commands: Command[] = [[0, "break", doc]];
  while (commands.length > 0) {
    const [ind, mode, d] = commands.pop()!;
    if (typeof d === "string") {
      out.push(d);
      column += d.length;
      continue;
    }
    if (Array.isArray(d)) {
      for (let i = d.length - 1; i >= 0; i--) commands.push([ind, mode, d[i]!]);
      continue;
    }
    const node = d as Exclude<Doc, string | readonly Doc[]>;
    switch (node.kind) {
      case "group": {
        const flat = !node.shouldBreak && fits([ind, "flat", node.contents], commands, width - column);
        commands.push([ind, flat ? "flat" : "break", node.contents]);
        break;
      }
      case "indent":
        commands.push([ind + 2, mode, node.contents]);
        break;
      case "ifBreak":
        commands.push([ind, mode, mode === "break" ? node.broken : node.flat]);
        break;
      case "line":
        if (mode === "flat" && node.mode !== "hard") {
          if (node.mode === "line") {
            out.push(" ");
            column += 1;
          }
        } else {
          out.push("\n" + " ".repeat(ind));
          column = ind;
        }
        break;
      case "breakParent":
        break;
    }
  }
  // No line ends in spaces (an indented blank line, a space before a new line).
  // Not /[ \t]+$/gm: in multiline mode `$` also matches before U+2028 and U+2029, which a string may hold.
  return out.join("").replace(/[ \t]+(?=\n|$)/g, "");
}
