// The VS Code client: starts `lth lsp --stdio` from the installed lth (the workspace's
// node_modules/.bin/lth, else the `lth.path` setting, else lth on the PATH) and hands it every
// .lth file. Syntax colouring comes from syntaxes/lth.tmLanguage.json (dsl/editor/grammar.ts).
"use strict";
const { existsSync } = require("node:fs");
const { join } = require("node:path");
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

/** The lth command: the setting, else the first workspace folder's local install, else the PATH's. */
function lthCommand() {
  const configured = vscode.workspace.getConfiguration("lth").get("path");
  if (configured) return configured;
  for (const folder of vscode.workspace.workspaceFolders ?? []) {
    const local = join(folder.uri.fsPath, "node_modules", ".bin", process.platform === "win32" ? "lth.cmd" : "lth");
    if (existsSync(local)) return local;
  }
  return "lth";
}

function activate(context) {
  const server = { command: lthCommand(), args: ["lsp", "--stdio"], options: { shell: process.platform === "win32" } };
  client = new LanguageClient("lth", "lth", { run: server, debug: server }, { documentSelector: [{ scheme: "file", language: "lth" }] });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
