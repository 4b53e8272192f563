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
import { problems, resolveTargets, selectStages } from "../plan.js";

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

/**
 * The pipeline and the stages the named bindings need (all, with no names); each stage an op
 * this version cannot run is an error at its call. Undefined (said on stderr) on any problem.
 */
export function selectedStages(command: string, file: string, names: readonly string[], io: CommandIO): { graph: StageGraph; stages: Stage[] } | undefined {
  const loaded = loadPipeline(file, io);
  if (!loaded) return undefined;
  const { graph } = loaded;
  const targets = names.length ? resolveTargets(graph, names) : undefined;
  if (targets && "unknown" in targets) {
    io.err(`lth ${command}: ${file} has no binding or stage named '${targets.unknown}'`);
    return undefined;
  }
  const stages = selectStages(graph, targets?.ids);
  const bad = problems(stages);
  for (const p of bad) io.err(`${stageWhere(p.stage, io.cwd)}: error: ${p.message}`);
  return bad.length ? undefined : { graph, stages };
}

export function openStore(graph: StageGraph, option: string | undefined, cwd: string): Store {
  return new Store(resolve(cwd, storeDir(graph.file, option)));
}
