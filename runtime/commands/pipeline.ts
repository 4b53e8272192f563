// What `plan`, `run`, `show`, `graph` and `gc` share: a pipeline file, checked and compiled,
// or its diagnostics printed (a language error is exit status 2, ARCHITECTURE.md).

import { resolve } from "node:path";
import { CompileError, compile } from "../../compiler/compile.js";
import type { Stage, StageGraph } from "../../compiler/stage.js";
import { checkProgram, ModuleLoader } from "../../dsl/check/index.js";
import { formatDiagnosticLine, renderDiagnostic } from "../../dsl/diagnostics.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { SourceFile } from "../../dsl/source.js";
import { readFileSync } from "node:fs";
import { storeDir, Store } from "../store/store.js";

export interface LoadedPipeline {
  readonly graph: StageGraph;
}

export function loadPipeline(file: string, io: CommandIO): LoadedPipeline | undefined {
  const loader = new ModuleLoader();
  const checked = checkProgram(resolve(io.cwd, file), loader);
  if ("problem" in checked) {
    io.err(`${file}: ${checked.problem}`);
    return undefined;
  }
  if (!checked.ok) {
    for (const d of checked.diagnostics) io.err(formatDiagnosticLine(renderDiagnostic(d, io.cwd)));
    return undefined;
  }
  try {
    return { graph: compile(checked.program) };
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    io.err(`${where(e.file, e.range.start, io.cwd)}: error: ${e.message}`);
    return undefined;
  }
}

/** `file:line:column`, relative to the working folder, for a place in a source file. */
export function where(file: string, offset: number, cwd: string): string {
  const source = new SourceFile(file, readFileSync(file, "utf8"));
  const p = source.position(offset);
  const shown = file.startsWith(`${cwd}/`) ? file.slice(cwd.length + 1) : file;
  return `${shown}:${p.line}:${p.column}`;
}

export function stageWhere(stage: Stage, cwd: string): string {
  return where(stage.source.file, stage.source.range.start, cwd);
}

export function openStore(graph: StageGraph, option: string | undefined, cwd: string): Store {
  return new Store(resolve(cwd, storeDir(graph.file, option)));
}
