// `lth lsp`: a Language Server Protocol server over standard input and output
// (vscode-languageserver). Each change re-checks the file and what it imports, the open
// documents' unsaved text taking the place of the files on disk, and publishes diagnostics
// for every file involved; hover, completion, definition, references, rename, symbols,
// folding and formatting are answered from the latest analysis (features.ts).

import { fileURLToPath } from "node:url";
import { createConnection, StreamMessageReader, StreamMessageWriter, TextDocuments, TextDocumentSyncKind, type Connection } from "vscode-languageserver/node.js";
import { TextDocument } from "vscode-languageserver-textdocument";
import { analyseProgram, diskHost, ModuleLoader, type Analysis, type Module, type SourceHost } from "../check/index.js";
import { LANGUAGE_VERSION } from "../ops.js";
import { codeLenses, uriOf, complete, definition, diagnosticsByFile, folding, formatting, hover, references, rename, RUN_COMMAND, symbols, type BindingLens } from "./features.js";

/**
 * What the server asks of the runtime, which dsl/ does not load: each binding's lens from the
 * store beside a file, and running one binding. `lth lsp` passes the runtime's; without them
 * there are no lenses.
 */
export interface ServerOptions {
  readonly lenses?: (path: string) => readonly BindingLens[];
  readonly run?: (path: string, name: string) => Promise<{ ok: boolean; message: string }>;
}

/** Starts the server on the given streams (standard input and output for `lth lsp`); resolves when the client exits. */
export function startServer(options: ServerOptions = {}, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<number> {
  const connection: Connection = createConnection(new StreamMessageReader(input), new StreamMessageWriter(output));
  const documents = new TextDocuments(TextDocument);
  /** URIs this server published diagnostics for, by the document whose analysis did. */
  const published = new Map<string, Set<string>>();
  let shutdown = false;

  // Open documents' text first, then the disk.
  const host: SourceHost = {
    read(path) {
      for (const d of documents.all()) if (fileURLToPath(d.uri) === path) return { text: d.getText() };
      return diskHost.read(path);
    },
  };

  const pathOf = (uri: string): string | undefined => {
    try {
      return fileURLToPath(uri);
    } catch {
      return undefined;
    }
  };

  /** Analyses since the last change to any open document (an import may be one of them). */
  const analyses = new Map<string, { analysis: Analysis; module: Module; text: string }>();

  /** The analysis of an open document and its module, from its current text. */
  function analyse(uri: string): { analysis: Analysis; module: Module; text: string } | undefined {
    const cached = analyses.get(uri);
    if (cached) return cached;
    const doc = documents.get(uri);
    const path = pathOf(uri);
    if (!doc || !path) return undefined;
    const analysis = analyseProgram(path, new ModuleLoader(host));
    if ("problem" in analysis) return undefined;
    const result = { analysis, module: analysis.root, text: doc.getText() };
    analyses.set(uri, result);
    return result;
  }

  /** The client asks for diagnostics itself (LSP 3.17's pull model): they are not pushed. */
  let pull = false;

  function validate(uri: string): void {
    if (pull) return;
    const a = analyse(uri);
    if (!a) return;
    const byFile = diagnosticsByFile(a.analysis);
    // Files this document's last analysis reported on and this one no longer does: cleared.
    for (const old of published.get(uri) ?? []) if (!byFile.has(old)) byFile.set(old, []);
    for (const [file, diagnostics] of byFile) void connection.sendDiagnostics({ uri: file, diagnostics });
    published.set(uri, new Set([...byFile].filter(([, d]) => d.length > 0).map(([f]) => f)));
  }

  connection.onInitialize((params) => {
    pull = params.capabilities.textDocument?.diagnostic !== undefined;
    return {
    capabilities: {
      // Diagnostics are pushed as each document changes, or pulled by clients that ask.
      diagnosticProvider: { interFileDependencies: true, workspaceDiagnostics: false },
      textDocumentSync: TextDocumentSyncKind.Incremental,
      hoverProvider: true,
      completionProvider: { triggerCharacters: ["(", ",", ":", " "] },
      definitionProvider: true,
      referencesProvider: true,
      renameProvider: true,
      documentSymbolProvider: true,
      documentFormattingProvider: true,
      foldingRangeProvider: true,
      ...(options.lenses ? { codeLensProvider: { resolveProvider: false } } : {}),
      ...(options.run ? { executeCommandProvider: { commands: [RUN_COMMAND] } } : {}),
    },
    serverInfo: { name: "lth", version: `language ${LANGUAGE_VERSION}` },
    };
  });
  connection.languages.diagnostics.on((p) => {
    const a = analyse(p.textDocument.uri);
    const path = pathOf(p.textDocument.uri);
    const items = a && path ? (diagnosticsByFile(a.analysis).get(uriOf(path)) ?? []) : [];
    return { kind: "full", items };
  });

  documents.onDidChangeContent((e) => {
    analyses.clear();
    validate(e.document.uri);
  });
  documents.onDidClose((e) => {
    analyses.clear();
    for (const file of published.get(e.document.uri) ?? []) void connection.sendDiagnostics({ uri: file, diagnostics: [] });
    published.delete(e.document.uri);
  });

  const at = <T>(uri: string, position: { line: number; character: number }, f: (a: NonNullable<ReturnType<typeof analyse>>, offset: number) => T): T | null => {
    const a = analyse(uri);
    const doc = documents.get(uri);
    if (!a || !doc) return null;
    return f(a, doc.offsetAt(position));
  };

  connection.onHover((p) => at(p.textDocument.uri, p.position, (a, o) => hover(a.analysis, a.module, o)));
  connection.onCompletion((p) => at(p.textDocument.uri, p.position, (a, o) => complete(a.analysis, a.module, a.text, o)) ?? []);
  connection.onDefinition((p) => at(p.textDocument.uri, p.position, (a, o) => definition(a.analysis, a.module, o)));
  connection.onReferences((p) => at(p.textDocument.uri, p.position, (a, o) => references(a.analysis, a.module, o, p.context.includeDeclaration)) ?? []);
  connection.onRenameRequest((p) =>
    at(p.textDocument.uri, p.position, (a, o) => {
      const edits = rename(a.analysis, a.module, o, p.newName);
      if ("problem" in edits) throw new Error(edits.problem);
      return { changes: Object.fromEntries(edits) };
    }),
  );
  connection.onDocumentSymbol((p) => {
    const a = analyse(p.textDocument.uri);
    return a ? symbols(a.module) : [];
  });
  connection.onFoldingRanges((p) => {
    const a = analyse(p.textDocument.uri);
    return a ? folding(a.module) : [];
  });
  connection.onDocumentFormatting((p) => {
    const a = analyse(p.textDocument.uri);
    return a ? formatting(a.module) : [];
  });
  // Lenses come from the store beside the saved file: computed when asked, asked again after a save or a run.
  connection.onCodeLens((p) => {
    const a = analyse(p.textDocument.uri);
    const path = pathOf(p.textDocument.uri);
    if (!a || !path || !options.lenses) return [];
    try {
      return codeLenses(a.module, options.lenses(path));
    } catch (e) {
      connection.console.error(`lth lsp: lenses of ${path}: ${e instanceof Error ? e.message : String(e)}`);
      return [];
    }
  });
  const refreshLenses = () => void connection.sendRequest("workspace/codeLens/refresh").catch(() => undefined);
  documents.onDidSave(() => refreshLenses());
  connection.onExecuteCommand(async (p) => {
    if (p.command !== RUN_COMMAND || !options.run) return null;
    const [path, name] = (p.arguments ?? []) as [string, string];
    const result = await options.run(path, name);
    refreshLenses();
    if (!result.ok) void connection.window.showErrorMessage(result.message);
    return result;
  });
  connection.onShutdown(() => {
    shutdown = true;
  });

  documents.listen(connection);
  return new Promise((resolve) => {
    connection.onExit(() => resolve(shutdown ? 0 : 1));
    connection.listen();
  });
}
