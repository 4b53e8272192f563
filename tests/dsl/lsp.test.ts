// `lth lsp` driven over stdio by a JSON-RPC client, as an editor drives it: initialize, open
// files with mistakes, and ask for diagnostics, hover, completion, definition, references,
// rename, symbols, folding and formatting at marked positions.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node.js";

const cli = join(import.meta.dirname, "../../dist/cli.js");

/** A text with `|` marks: the text without them, and each mark's offset. */
function marked(text: string): { text: string; marks: number[] } {
  const marks: number[] = [];
  let out = "";
  for (const ch of text) {
    if (ch === "|") marks.push(out.length);
    else out += ch;
  }
  return { text: out, marks };
}

/** LSP position of an offset (0-based line and UTF-16 character). */
function position(text: string, offset: number): { line: number; character: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

interface PublishedDiagnostics {
  uri: string;
  diagnostics: { range: { start: { line: number; character: number }; end: { line: number; character: number } }; code: string; severity: number; message: string }[];
}

describe("lth lsp", () => {
  const dir = mkdtempSync(join(tmpdir(), "lth-lsp-"));
  let server: ChildProcess;
  let client: MessageConnection;
  const diagnostics = new Map<string, PublishedDiagnostics[]>();
  const waiters: (() => void)[] = [];

  beforeAll(async () => {
    server = spawn(process.execPath, [cli, "lsp", "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
    client = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
    client.onNotification("textDocument/publishDiagnostics", (p: PublishedDiagnostics) => {
      diagnostics.set(p.uri, [...(diagnostics.get(p.uri) ?? []), p]);
      for (const w of waiters.splice(0)) w();
    });
    client.listen();
    const init = (await client.sendRequest("initialize", { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} })) as { capabilities: Record<string, unknown> };
    expect(init.capabilities).toMatchObject({ hoverProvider: true, definitionProvider: true, documentFormattingProvider: true });
    await client.sendNotification("initialized", {});
  });

  afterAll(async () => {
    try {
      await client.sendRequest("shutdown");
      await client.sendNotification("exit");
    } finally {
      client.dispose();
      server.kill();
    }
  });

  /** Opens a file (written to disk too) and waits for its diagnostics. */
  async function open(name: string, text: string, version = 1): Promise<{ uri: string; diagnostics: PublishedDiagnostics["diagnostics"] }> {
    const path = join(dir, name);
    writeFileSync(path, text);
    const uri = pathToFileURL(path).href;
    const before = diagnostics.get(uri)?.length ?? 0;
    const arrived = new Promise<void>((resolve) => {
      const check = () => ((diagnostics.get(uri)?.length ?? 0) > before ? resolve() : waiters.push(check));
      waiters.push(check);
    });
    await client.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "lth", version, text } });
    await arrived;
    return { uri, diagnostics: diagnostics.get(uri)!.at(-1)!.diagnostics };
  }

  const source = marked(`let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
let trained = tr|ain(ne|t0, data, 2 epocs)
let pruned = prune(trained, 20%, scope: |)
let wrong = prune(net0, 150%)
let dense = train(net0, data, 3 epochs, |)
report "r" { dense }
`);

  it("publishes each mistake with its range and code, as lth check finds it", async () => {
    const { diagnostics: d } = await open("main.lth", source.text);
    // A syntax error hides the rest: the unit hint first.
    expect(d.map((x) => x.code)).toContain("syntax");
    expect(d.find((x) => x.code === "syntax")!.message).toContain("did you mean 'epochs'?");
    expect(d[0]!.range.start.line).toBe(2);
  });

  it("reports type errors with codes and ranges once the file parses", async () => {
    const text = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
let wrong = prune(net0, 150%)
let bad = train(net0, data, 2 epochs, lr: "fast")
`;
    const { diagnostics: d } = await open("types.lth", text);
    const codes = d.map((x) => x.code).sort();
    expect(codes.length).toBeGreaterThanOrEqual(2);
    const range = d.find((x) => x.message.includes("150%"))?.range;
    expect(range?.start).toEqual({ line: 2, character: 24 });
    expect(d.every((x) => x.severity === 1 || x.severity === 2)).toBe(true);
  });

  it("hovers an op with its signature, parameters and doc; a binding with its type", async () => {
    const text = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
let trained = train(net0, data, 2 epochs)
`;
    const { uri } = await open("hover.lth", text);
    const opHover = (await client.sendRequest("textDocument/hover", { textDocument: { uri }, position: { line: 2, character: 16 } })) as { contents: { value: string } };
    expect(opHover.contents.value).toContain("train(");
    expect(opHover.contents.value).toMatch(/`lr: Number = 0\.1` — learning rate/);
    const nameHover = (await client.sendRequest("textDocument/hover", { textDocument: { uri }, position: { line: 2, character: 22 } })) as { contents: { value: string } };
    expect(nameHover.contents.value).toContain("net0: Net");
    const unitHover = (await client.sendRequest("textDocument/hover", { textDocument: { uri }, position: { line: 2, character: 33 } })) as { contents: { value: string } };
    expect(unitHover.contents.value).toContain("passes over the training set");
  });

  it("completes a call's remaining parameters with defaults, an enum's values, and units after a number", async () => {
    const text = source.text;
    const { uri } = await open("complete.lth", text);
    const at = (mark: number) => client.sendRequest("textDocument/completion", { textDocument: { uri }, position: position(text, source.marks[mark]!) }) as Promise<{ label: string; detail?: string }[]>;
    const enumItems = await at(2);
    expect(enumItems.map((i) => i.label).sort()).toEqual(["global", "layerwise"]);
    const params = await at(3);
    const labels = params.map((i) => i.label);
    expect(labels).toContain("lr:");
    expect(labels).toContain("batch:");
    expect(labels).not.toContain("net:");
    expect(params.find((i) => i.label === "lr:")!.detail).toBe("Number = 0.1");
    // After "2 epocs" was typed as "2 ep": the units.
    const typed = "let a = train(net0, data, 2 ep";
    const { uri: u2 } = await open("units.lth", typed);
    const units = (await client.sendRequest("textDocument/completion", { textDocument: { uri: u2 }, position: position(typed, typed.length) })) as { label: string }[];
    expect(units.map((u) => u.label)).toEqual(["epochs", "epoch"]);
  });

  it("goes to a binding's definition, across an import, and finds its references", async () => {
    writeFileSync(join(dir, "shared.lth"), `let data = mnist(train: 1000, test: 500)\nlet net0 = init(lenet_300_100(), data, seed: 7)\n`);
    const text = `import "shared.lth"
let trained = train(net0, data, 1 epoch)
let again = train(net0, data, 2 epochs)
report "r" { trained, again }
`;
    const { uri } = await open("uses.lth", text);
    const def = (await client.sendRequest("textDocument/definition", { textDocument: { uri }, position: { line: 1, character: 21 } })) as { uri: string; range: { start: { line: number; character: number } } };
    expect(def.uri).toBe(pathToFileURL(join(dir, "shared.lth")).href);
    expect(def.range.start).toEqual({ line: 1, character: 4 });
    const local = (await client.sendRequest("textDocument/definition", { textDocument: { uri }, position: { line: 3, character: 14 } })) as { uri: string; range: { start: { line: number } } };
    expect([local.uri, local.range.start.line]).toEqual([uri, 1]);
    const refs = (await client.sendRequest("textDocument/references", { textDocument: { uri }, position: { line: 1, character: 21 }, context: { includeDeclaration: true } })) as { uri: string; range: { start: { line: number } } }[];
    expect(refs.map((r) => [r.uri.endsWith("shared.lth") ? "shared" : "uses", r.range.start.line])).toEqual([
      ["shared", 1],
      ["uses", 1],
      ["uses", 2],
    ]);
    const edit = (await client.sendRequest("textDocument/rename", { textDocument: { uri }, position: { line: 1, character: 5 }, newName: "first" })) as { changes: Record<string, { newText: string; range: { start: { line: number } } }[]> };
    expect(edit.changes[uri]!.map((e) => [e.range.start.line, e.newText])).toEqual([
      [1, "first"],
      [3, "first"],
    ]);
  });

  it("lists symbols, folds blocks, and formats as lth fmt does", async () => {
    const text = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
let rounds = repeat 2 from net0 as t {
  let p = prune(t, 20%)
  yield p
}
report "r" {rounds}
`;
    const { uri } = await open("shape.lth", text);
    const symbols = (await client.sendRequest("textDocument/documentSymbol", { textDocument: { uri } })) as { name: string; children?: { name: string }[] }[];
    expect(symbols.map((s) => s.name)).toEqual(["data", "net0", "rounds", 'report r']);
    expect(symbols[2]!.children!.map((c) => c.name)).toEqual(["p"]);
    const folds = (await client.sendRequest("textDocument/foldingRange", { textDocument: { uri } })) as { startLine: number; endLine: number }[];
    expect(folds).toContainEqual({ startLine: 2, endLine: 4 });
    const edits = (await client.sendRequest("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })) as { newText: string }[];
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toContain('report "r" { rounds }');
  });

  it("shows beside each binding whether it is cached and what it is, or why it will run, and runs one on command", async () => {
    const text = `let data = mnist(train: 200, test: 100, seed: 1)
let net0 = init(mlp(hidden: [16]), data, seed: 1)
let trained = train(net0, data, 1 epoch)
`;
    const { uri } = await open("lens.lth", text);
    const lenses = async () =>
      Object.fromEntries(
        ((await client.sendRequest("textDocument/codeLens", { textDocument: { uri } })) as { range: { start: { line: number } }; command: { title: string; command: string; arguments: string[] } }[]).map((l) => [l.command.arguments[1], l]),
      );
    const before = await lenses();
    expect(before["trained"]!.command.title).toMatch(/^will run: new/);
    expect(before["trained"]!.range.start.line).toBe(2);
    expect(before["trained"]!.command.command).toBe("lth.run");
    const ran = (await client.sendRequest("workspace/executeCommand", { command: "lth.run", arguments: before["trained"]!.command.arguments })) as { ok: boolean };
    expect(ran.ok).toBe(true);
    const after = await lenses();
    expect(after["trained"]!.command.title).toMatch(/^cached · \d+\.\d\d% · 100\.0% of weights$/);
    expect(after["data"]!.command.title).toBe("cached · 200 train / 100 test");
    // Saved with another learning rate: it will run, and says why.
    const edited = text.replace("1 epoch)", "1 epoch, lr: 0.05)");
    writeFileSync(join(dir, "lens.lth"), edited);
    await client.sendNotification("textDocument/didChange", { textDocument: { uri, version: 2 }, contentChanges: [{ text: edited }] });
    await client.sendNotification("textDocument/didSave", { textDocument: { uri } });
    const changed = await lenses();
    expect(changed["trained"]!.command.title).toContain("will run: params changed");
    expect(changed["trained"]!.command.title).toContain("lr");
    expect(changed["net0"]!.command.title).toMatch(/^cached/);
  });

  it("answers a client that pulls diagnostics (LSP 3.17), and then pushes none", async () => {
    const puller = spawn(process.execPath, [cli, "lsp", "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
    const c = createMessageConnection(new StreamMessageReader(puller.stdout!), new StreamMessageWriter(puller.stdin!));
    let pushed = 0;
    c.onNotification("textDocument/publishDiagnostics", () => pushed++);
    c.listen();
    try {
      const init = (await c.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: { textDocument: { diagnostic: { dynamicRegistration: false } } } })) as { capabilities: { diagnosticProvider?: unknown } };
      expect(init.capabilities.diagnosticProvider).toBeDefined();
      await c.sendNotification("initialized", {});
      const path = join(dir, "pulled.lth");
      const text = "let data = mnist(train: 1000, test: 500)\nlet a = init(mlp(hidden: [8]), dat, seed: 1)\n";
      writeFileSync(path, text);
      const uri = pathToFileURL(path).href;
      await c.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "lth", version: 1, text } });
      const report = (await c.sendRequest("textDocument/diagnostic", { textDocument: { uri } })) as { kind: string; items: { code: string; range: { start: { line: number; character: number } } }[] };
      expect(report.kind).toBe("full");
      expect(report.items.map((d) => [d.code, d.range.start.line, d.range.start.character])).toEqual([["undefined-name", 1, 31]]);
      expect(pushed).toBe(0);
      await c.sendRequest("shutdown");
      await c.sendNotification("exit");
    } finally {
      c.dispose();
      puller.kill();
    }
  });
});
