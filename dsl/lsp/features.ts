// What the language server computes, as plain functions over an analysed file: diagnostics,
// hover, completion, definition, references, rename, symbols, folding and formatting. They
// reuse the checker, the op table and the formatter; nothing here loads a tensor engine or
// the runtime. Positions are LSP's: 0-based lines, UTF-16 characters, as `TextDocument` counts.

import { pathToFileURL } from "node:url";
import type {
  CodeLens,
  CompletionItem,
  Diagnostic as LspDiagnostic,
  DocumentSymbol,
  FoldingRange,
  Hover,
  Location,
  Position,
  TextEdit,
} from "vscode-languageserver/node.js";
import { CompletionItemKind, DiagnosticSeverity, InsertTextFormat, MarkupKind, SymbolKind } from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import type * as A from "../ast.js";
import type { Analysis, Binding, Module } from "../check/index.js";
import type { Diagnostic } from "../diagnostics.js";
import { formatFile } from "../format/format.js";
import { OPS, type OpDecl, type ParamDecl } from "../ops.js";
import { showBounds, showDefault, signature } from "../ops-doc.js";
import { showType, type Type } from "../types.js";

export const uriOf = (path: string): string => pathToFileURL(path).href;

/** The LSP document of a module's text (for positions). */
export function documentOf(m: Module): TextDocument {
  return TextDocument.create(uriOf(m.source.path), "lth", 0, m.source.text);
}

function rangeIn(doc: TextDocument, r: { start: number; end: number }) {
  return { start: doc.positionAt(r.start), end: doc.positionAt(r.end) };
}

/** Each file's diagnostics, by URI: the root's and those of the files it imports (an empty list clears a file's). */
export function diagnosticsByFile(analysis: Analysis): Map<string, LspDiagnostic[]> {
  const out = new Map<string, LspDiagnostic[]>(analysis.modules.map((m) => [uriOf(m.source.path), []]));
  const docs = new Map<string, TextDocument>();
  for (const d of analysis.diagnostics) {
    const uri = uriOf(d.file.path);
    let doc = docs.get(uri);
    if (!doc) docs.set(uri, (doc = TextDocument.create(uri, "lth", 0, d.file.text)));
    const list = out.get(uri) ?? [];
    list.push(toLsp(d, doc));
    out.set(uri, list);
  }
  return out;
}

function toLsp(d: Diagnostic, doc: TextDocument): LspDiagnostic {
  return { range: rangeIn(doc, d.range), severity: d.severity === "error" ? DiagnosticSeverity.Error : DiagnosticSeverity.Warning, code: d.code, source: "lth", message: d.message };
}

// ---- the tree at a position ----------------------------------------------------------

function children(n: A.Node | A.Arg): (A.Node | A.Arg)[] {
  switch (n.kind) {
    case "File":
      return [...n.items];
    case "Let":
      return [n.name, n.value];
    case "Report":
      return [...n.names];
    case "Defaults":
    case "Resources":
      return [n.op, ...n.args];
    case "Import":
      return [n.path];
    case "Arg":
      return [...(n.name ? [n.name] : []), n.value];
    case "Call":
      return [n.op, ...n.args];
    case "Pipe":
      return [n.input, n.call];
    case "List":
      return [...n.items];
    case "Index":
      return [n.target, n.index];
    case "Negate":
      return [n.operand];
    case "Paren":
      return [n.inner];
    case "Block":
      return [...n.lets, n.result];
    case "Repeat":
      return [n.count, n.from, n.variable, n.body];
    case "For":
      return [...(n.replicate ? [n.replicate.count] : []), n.variable, n.over, n.body];
    default:
      return [];
  }
}

/** The nodes that contain `offset`, outermost first. */
export function pathAt(root: A.FileNode, offset: number): (A.Node | A.Arg)[] {
  const path: (A.Node | A.Arg)[] = [];
  let node: A.Node | A.Arg | undefined = root;
  while (node) {
    path.push(node);
    node = children(node).find((c) => c.range.start <= offset && offset <= c.range.end && c.range.end > c.range.start);
  }
  return path;
}

/** The binding a name at `offset` refers to (a use, a `let`'s name, a loop variable, a report's entry). */
function bindingAt(analysis: Analysis, m: Module, offset: number): Binding | undefined {
  const r = analysis.resolution;
  if (!r) return undefined;
  const path = pathAt(m.ast, offset);
  const leaf = path[path.length - 1];
  const parent = path[path.length - 2];
  if (leaf?.kind === "Name") return r.refs.get(leaf);
  if (leaf?.kind === "Identifier") {
    if (parent?.kind === "Let") return r.letOf.get(parent);
    if (parent?.kind === "Report") return r.fileScopes.get(m)?.get(leaf.name);
    if ((parent?.kind === "Repeat" || parent?.kind === "For") && parent.variable === leaf) {
      for (const b of r.refs.values()) if (b.kind === "loop" && b.node === leaf) return b;
      return { kind: "loop", name: leaf.name, node: leaf, module: m, loop: parent };
    }
  }
  return undefined;
}

function definitionNode(b: Binding): A.Identifier {
  return b.kind === "let" ? b.node.name : b.node;
}

// ---- hover ---------------------------------------------------------------------------

const UNITS: Record<string, string> = {
  epochs: "**epochs**: passes over the training set (a length in steps is epochs × ⌈examples / batch⌉)",
  steps: "**steps**: optimizer steps, one minibatch each (for the convex testbed's full-batch methods, one pass)",
  "%": "**percent**: a share; `20%` is 0.2",
  KB: "**KB**: kilobytes (10³ bytes)",
  MB: "**MB**: megabytes (10⁶ bytes)",
  GB: "**GB**: gigabytes (10⁹ bytes)",
  TB: "**TB**: terabytes (10¹² bytes)",
  s: "**s**: seconds",
  min: "**min**: minutes",
  h: "**h**: hours",
  d: "**d**: days",
};

function paramLine(p: ParamDecl): string {
  const unit = p.unit ? `; unit ${p.unit}` : "";
  const bounds = p.bounds ? `; ${showBounds(p.bounds, p.type)}` : "";
  const def = p.default ? ` = ${showDefault(p.default)}` : p.optional ? " (optional)" : "";
  return `- \`${p.name}: ${showType(p.type)}${def}\` — ${p.doc}${unit}${bounds}`;
}


export function opMarkdown(op: OpDecl): string {
  return ["```lth", signature(op), "```", op.doc, "", ...op.params.map(paramLine)].join("\n");
}

export function hover(analysis: Analysis, m: Module, offset: number): Hover | null {
  const doc = documentOf(m);
  const path = pathAt(m.ast, offset);
  const leaf = path[path.length - 1];
  const parent = path[path.length - 2];
  const md = (value: string, node: { range: A.Node["range"] }): Hover => ({ contents: { kind: MarkupKind.Markdown, value }, range: rangeIn(doc, node.range) });
  if (!leaf) return null;
  // An op's name: its signature, parameters and doc.
  if (leaf.kind === "Identifier" && (parent?.kind === "Call" || parent?.kind === "Defaults" || parent?.kind === "Resources") && parent.op === leaf) {
    const op = OPS.get(leaf.name);
    return op ? md(opMarkdown(op), leaf) : null;
  }
  // A parameter's name in a call.
  if (leaf.kind === "Identifier" && parent?.kind === "Arg" && parent.name === leaf) {
    const call = path[path.length - 3];
    const opName = call?.kind === "Call" || call?.kind === "Defaults" || call?.kind === "Resources" ? call.op.name : undefined;
    const p = opName ? OPS.get(opName)?.params.find((q) => q.name === leaf.name) : undefined;
    return p ? md(`(parameter of \`${opName}\`)\n${paramLine(p)}`, leaf) : null;
  }
  const binding = bindingAt(analysis, m, offset);
  if (binding && (leaf.kind === "Name" || leaf.kind === "Identifier")) {
    const type = typeOf(analysis, binding);
    const where = binding.module.source.path === m.source.path ? "" : ` (from ${binding.module.source.path})`;
    return md(["```lth", `${binding.name}${type ? `: ${showType(type)}` : ""}`, "```", `${binding.kind === "loop" ? "loop variable" : "binding"}${where}`].join("\n"), leaf);
  }
  if (leaf.kind === "Duration") return md(UNITS[leaf.unit]!, leaf);
  if (leaf.kind === "Percent") return md(UNITS["%"]!, leaf);
  if (leaf.kind === "Quantity") return md(UNITS[leaf.unit] ?? leaf.unit, leaf);
  return null;
}

function typeOf(analysis: Analysis, b: Binding): Type | undefined {
  if (b.kind === "let") return analysis.info?.get(b.node.value)?.type;
  // A loop variable: the type of any use of it.
  for (const [name, ref] of analysis.resolution?.refs ?? []) if (ref === b || (ref.kind === "loop" && ref.node === b.node)) return analysis.info?.get(name)?.type;
  return undefined;
}

// ---- completion -------------------------------------------------------------------------

const KEYWORDS = ["let", "import", "defaults", "report", "repeat", "from", "as", "for", "in", "replicate", "yield", "true", "false"];

/** The call the cursor is inside, by the text before it: the op's name and the parameter names already written. */
function enclosingCall(text: string, offset: number): { op: string; named: Set<string>; positional: number; argStart: number } | undefined {
  let depth = 0;
  for (let i = offset - 1; i >= 0; i--) {
    const c = text[i];
    if (c === ")" || c === "]" || c === "}") depth++;
    else if (c === "[" || c === "{") {
      if (depth === 0) return undefined;
      depth--;
    } else if (c === "(") {
      if (depth > 0) {
        depth--;
        continue;
      }
      const name = /([A-Za-z_][A-Za-z0-9_]*)\s*$/.exec(text.slice(0, i))?.[1];
      if (!name) return undefined;
      const inside = text.slice(i + 1, offset);
      // Top-level arguments of the call written so far.
      const args: string[] = [];
      let d = 0;
      let from = 0;
      for (let j = 0; j < inside.length; j++) {
        const ch = inside[j]!;
        if ("([{".includes(ch)) d++;
        else if (")]}".includes(ch)) d--;
        else if (ch === "," && d === 0) {
          args.push(inside.slice(from, j));
          from = j + 1;
        }
      }
      const named = new Set(args.flatMap((a) => /^\s*([A-Za-z_]\w*)\s*:/.exec(a)?.[1] ?? []));
      const positional = args.filter((a) => !/^\s*[A-Za-z_]\w*\s*:/.test(a)).length;
      return { op: name, named, positional, argStart: i + 1 + from };
    }
  }
  return undefined;
}

function bindingsInScope(analysis: Analysis, m: Module, text: string): string[] {
  const names = new Set<string>(analysis.resolution?.fileScopes.get(m)?.keys() ?? []);
  // While the file does not parse, the names it writes.
  for (const match of text.matchAll(/\blet\s+([A-Za-z_]\w*)/g)) names.add(match[1]!);
  for (const match of text.matchAll(/\bas\s+([A-Za-z_]\w*)|\bfor\s+([A-Za-z_]\w*)\s+in\b/g)) names.add((match[1] ?? match[2])!);
  return [...names].sort();
}

function enumValues(t: Type): readonly string[] | undefined {
  return t.kind === "Enum" ? (t as { values: readonly string[] }).values : undefined;
}

export function complete(analysis: Analysis, m: Module, text: string, offset: number): CompletionItem[] {
  const before = text.slice(0, offset);
  // After a number: its units.
  const number = /(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(before);
  if (number && !/[A-Za-z_]\w*\d+(?:\.\d+)?\s*[A-Za-z]*$/.test(before.slice(Math.max(0, before.length - 40)))) {
    const units = ["epochs", "epoch", "steps", "step"];
    const items: CompletionItem[] = units.filter((u) => u.startsWith(number[2]!)).map((u) => ({ label: u, kind: CompletionItemKind.Unit, detail: UNITS[u.endsWith("s") ? u : `${u}s`] }));
    if (number[2] === "") items.push({ label: "%", kind: CompletionItemKind.Unit, detail: "percent (no space: 20%)" });
    return items;
  }
  const call = enclosingCall(text, offset);
  const op = call ? OPS.get(call.op) : undefined;
  const names = bindingsInScope(analysis, m, text);
  const bindingItems = names.map((n): CompletionItem => ({ label: n, kind: CompletionItemKind.Variable }));
  if (op && call) {
    // After `param:`, an enum parameter's values.
    const valueOf = /([A-Za-z_]\w*)\s*:\s*([A-Za-z_]\w*)?$/.exec(before.slice(call.argStart));
    if (valueOf) {
      const p = op.params.find((q) => q.name === valueOf[1]);
      const values = p ? enumValues(p.type) : undefined;
      if (values) return values.map((v) => ({ label: v, kind: CompletionItemKind.EnumMember, detail: `${p!.name} of ${op.name}` }));
      return [...bindingItems, ...opItems()];
    }
    // The parameters not yet given (positional ones count from the first).
    const remaining = op.params.filter((p, i) => !call.named.has(p.name) && i >= call.positional);
    const params = remaining.map(
      (p, i): CompletionItem => ({
        label: `${p.name}:`,
        kind: CompletionItemKind.Property,
        detail: `${showType(p.type)}${p.default ? ` = ${showDefault(p.default)}` : p.optional ? " (optional)" : ""}`,
        documentation: { kind: MarkupKind.Markdown, value: paramLine(p) },
        insertText: `${p.name}: `,
        sortText: `0${String(i).padStart(3, "0")}`,
      }),
    );
    return [...params, ...bindingItems.map((b) => ({ ...b, sortText: `1${b.label}` })), ...opItems().map((o) => ({ ...o, sortText: `2${o.label}` }))];
  }
  return [...bindingItems, ...opItems(), ...KEYWORDS.map((k): CompletionItem => ({ label: k, kind: CompletionItemKind.Keyword }))];
}

function opItems(): CompletionItem[] {
  return [...OPS.values()].map((op) => ({
    label: op.name,
    kind: CompletionItemKind.Function,
    detail: signature(op),
    documentation: { kind: MarkupKind.Markdown, value: opMarkdown(op) },
    insertText: `${op.name}($0)`,
    insertTextFormat: InsertTextFormat.Snippet,
  }));
}

// ---- definition, references, rename ----------------------------------------------------

export function definition(analysis: Analysis, m: Module, offset: number): Location | null {
  const b = bindingAt(analysis, m, offset);
  if (!b) return null;
  const doc = documentOf(b.module);
  return { uri: doc.uri, range: rangeIn(doc, definitionNode(b).range) };
}

/** Every place the binding at `offset` is named: its definition (when asked) and each use, in every file. */
export function references(analysis: Analysis, m: Module, offset: number, includeDeclaration: boolean): Location[] {
  const b = bindingAt(analysis, m, offset);
  if (!b || !analysis.resolution) return [];
  const def = definitionNode(b);
  const same = (x: Binding) => definitionNode(x) === def;
  const out: Location[] = [];
  const locate = (mod: Module, range: A.Node["range"]) => {
    const doc = documentOf(mod);
    out.push({ uri: doc.uri, range: rangeIn(doc, range) });
  };
  if (includeDeclaration) locate(b.module, def.range);
  const moduleOf = new Map<A.Node, Module>();
  for (const mod of analysis.modules) {
    const visit = (n: A.Node | A.Arg) => {
      if (n.kind === "Name") moduleOf.set(n, mod);
      if (n.kind === "Report") for (const id of n.names) if (analysis.resolution!.fileScopes.get(mod)?.get(id.name) && same(analysis.resolution!.fileScopes.get(mod)!.get(id.name)!)) locate(mod, id.range);
      children(n).forEach(visit);
    };
    visit(mod.ast);
  }
  for (const [name, ref] of analysis.resolution.refs) if (same(ref)) locate(moduleOf.get(name) ?? b.module, name.range);
  return out.sort((x, y) => (x.uri === y.uri ? x.range.start.line - y.range.start.line || x.range.start.character - y.range.start.character : x.uri < y.uri ? -1 : 1));
}

export function rename(analysis: Analysis, m: Module, offset: number, newName: string): Map<string, TextEdit[]> | { problem: string } {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(newName) || KEYWORDS.includes(newName)) return { problem: `'${newName}' is not a name lth accepts` };
  if (OPS.has(newName)) return { problem: `'${newName}' is the name of an op` };
  const locations = references(analysis, m, offset, true);
  if (locations.length === 0) return { problem: "no binding here to rename" };
  const edits = new Map<string, TextEdit[]>();
  for (const l of locations) edits.set(l.uri, [...(edits.get(l.uri) ?? []), { range: l.range, newText: newName }]);
  return edits;
}

// ---- symbols, folding, formatting --------------------------------------------------------

export function symbols(m: Module): DocumentSymbol[] {
  const doc = documentOf(m);
  const letSymbol = (l: A.LetItem): DocumentSymbol => {
    const inner = blockLets(l.value).map(letSymbol);
    return { name: l.name.name, kind: SymbolKind.Variable, range: rangeIn(doc, l.range), selectionRange: rangeIn(doc, l.name.range), ...(inner.length ? { children: inner } : {}) };
  };
  return m.ast.items.flatMap((item): DocumentSymbol[] => {
    switch (item.kind) {
      case "Let":
        return [letSymbol(item)];
      case "Report":
        return [{ name: item.title ? `report ${item.title.value}` : "report", kind: SymbolKind.Object, range: rangeIn(doc, item.range), selectionRange: rangeIn(doc, item.title?.range ?? item.range) }];
      case "Defaults":
        return [{ name: `defaults ${item.op.name}`, kind: SymbolKind.Namespace, range: rangeIn(doc, item.range), selectionRange: rangeIn(doc, item.op.range) }];
      case "Import":
        return [{ name: `import ${item.path.value}`, kind: SymbolKind.Module, range: rangeIn(doc, item.range), selectionRange: rangeIn(doc, item.path.range) }];
      default:
        return [];
    }
  });
}

function blockLets(e: A.Expr): A.LetItem[] {
  if (e.kind === "Repeat" || e.kind === "For") return [...e.body.lets];
  if (e.kind === "Pipe") return blockLets(e.input);
  if (e.kind === "Paren") return blockLets(e.inner);
  return [];
}

export function folding(m: Module): FoldingRange[] {
  const doc = documentOf(m);
  const out: FoldingRange[] = [];
  const visit = (n: A.Node | A.Arg) => {
    const start = doc.positionAt(n.range.start).line;
    const end = doc.positionAt(n.range.end).line;
    if (end > start && ["Let", "Report", "Defaults", "Resources", "Block", "List", "Call"].includes(n.kind)) out.push({ startLine: start, endLine: end - 1 });
    children(n).forEach(visit);
  };
  m.ast.items.forEach(visit);
  for (const c of m.ast.comments) {
    const [start, end] = [doc.positionAt(c.range.start).line, doc.positionAt(c.range.end).line];
    if (c.block && end > start) out.push({ startLine: start, endLine: end, kind: "comment" });
  }
  const seen = new Set<string>();
  return out.filter((f) => f.endLine > f.startLine && !seen.has(`${f.startLine}:${f.endLine}`) && seen.add(`${f.startLine}:${f.endLine}`)).sort((a, b) => a.startLine - b.startLine);
}

/** The whole document rewritten in canonical form (`lth fmt`), or nothing when it is already, or does not parse. */
export function formatting(m: Module): TextEdit[] {
  if (m.syntaxErrors) return [];
  const formatted = formatFile(m.source, m.ast);
  if (formatted === m.source.text) return [];
  const doc = documentOf(m);
  return [{ range: { start: { line: 0, character: 0 }, end: doc.positionAt(m.source.text.length) }, newText: formatted }];
}

/** What a lens provider says of one binding (the runtime's `bindingLenses`). */
export interface BindingLens {
  readonly name: string;
  readonly title: string;
}

/** The command a lens runs: `lth run FILE NAME`. */
export const RUN_COMMAND = "lth.run";

/** A lens above each top-level binding the provider speaks of, running it when clicked. */
export function codeLenses(m: Module, lenses: readonly BindingLens[]): CodeLens[] {
  const doc = documentOf(m);
  const byName = new Map(lenses.map((l) => [l.name, l.title]));
  return m.ast.items.flatMap((item): CodeLens[] => {
    if (item.kind !== "Let") return [];
    const title = byName.get(item.name.name);
    return title ? [{ range: rangeIn(doc, item.name.range), command: { title, command: RUN_COMMAND, arguments: [m.source.path, item.name.name] } }] : [];
  });
}

export type { Position };
