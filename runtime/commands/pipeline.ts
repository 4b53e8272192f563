// What `plan`, `run`, `show`, `graph` and `gc` share: a pipeline file, checked and compiled,
// or its diagnostics printed (a language error is exit status 2: `EXIT` in dsl/commands/io.ts).

import { closest } from "../../dsl/check/suggest.js";
import { resolve } from "node:path";
import { CompileError, compile } from "../../compiler/compile.js";
import type { Stage, StageGraph } from "../../compiler/stage.js";
import { checkProgram, ModuleLoader } from "../../dsl/check/index.js";
import { displayPath, formatDiagnosticLine, renderDiagnostic, RUNTIME_CODE, type RenderedDiagnostic } from "../../dsl/diagnostics.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { SourceFile } from "../../dsl/source.js";
import { readFileSync } from "node:fs";
import { storeDir, Store } from "../store/store.js";
import { problems, resolveTargets, selectStages } from "../plan.js";

export interface LoadedPipeline {
  readonly graph: StageGraph;
}

/**
 * How a command that stops before running says why: always a `file:line:col: error: …` line
 * on stderr; with `--json`, also the diagnostics in `lth check --json`'s shape on stdout, as
 * one array (`array`) or as one `{"type":"diagnostic",…}` line each (`lines`, for run's event stream).
 */
export type JsonErrors = "array" | "lines" | undefined;

/** An error found after checking (compiling, or an op that cannot run here), in check's JSON shape. */
function runtimeDiagnostic(file: string, offset: number, message: string, cwd: string): RenderedDiagnostic {
  const source = new SourceFile(file, readFileSync(file, "utf8"));
  const start = source.position(offset);
  return { file: displayPath(file, cwd), line: start.line, column: start.column, endLine: start.line, endColumn: start.column, severity: "error", code: RUNTIME_CODE, message };
}

function reportErrors(io: CommandIO, json: JsonErrors, errors: readonly (RenderedDiagnostic | string)[]): void {
  if (errors.length === 0) return;
  for (const e of errors) io.err(typeof e === "string" ? e : formatDiagnosticLine(e));
  if (!json) return;
  const rendered = errors.filter((e): e is RenderedDiagnostic => typeof e !== "string");
  if (json === "array") io.out(JSON.stringify(rendered, null, 2));
  else for (const d of rendered) io.out(JSON.stringify({ type: "diagnostic", ...d }));
}

export function loadPipeline(file: string, io: CommandIO, json?: JsonErrors): LoadedPipeline | undefined {
  const loader = new ModuleLoader();
  const checked = checkProgram(resolve(io.cwd, file), loader);
  if ("problem" in checked) {
    reportErrors(io, json, [`${file}: ${checked.problem}`]);
    return undefined;
  }
  if (!checked.ok) {
    reportErrors(io, json, checked.diagnostics.map((d) => renderDiagnostic(d, io.cwd)));
    return undefined;
  }
  try {
    return { graph: compile(checked.program) };
  } catch (e) {
    if (!(e instanceof CompileError)) throw e;
    reportErrors(io, json, [runtimeDiagnostic(e.file, e.range.start, e.message, io.cwd)]);
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
export function selectedStages(command: string, file: string, names: readonly string[], io: CommandIO, json?: JsonErrors): { graph: StageGraph; stages: Stage[] } | undefined {
  const loaded = loadPipeline(file, io, json);
  if (!loaded) return undefined;
  const { graph } = loaded;
  const targets = names.length ? resolveTargets(graph, names) : undefined;
  if (targets && "unknown" in targets) {
    const bindings = [...graph.bindings.keys()];
    const near = closest(targets.unknown, bindings);
    io.err(`lth ${command}: ${file} has no binding or stage named '${targets.unknown}'${near ? `; did you mean '${near}'?` : ""} (bindings: ${bindings.join(", ")})`);
    return undefined;
  }
  const stages = selectStages(graph, targets?.ids);
  const bad = problems(stages);
  reportErrors(io, json, bad.map((p) => runtimeDiagnostic(p.stage.source.file, p.stage.source.range.start, p.message, io.cwd)));
  return bad.length ? undefined : { graph, stages };
}

export function openStore(graph: StageGraph, option: string | undefined, cwd: string): Store {
  return new Store(resolve(cwd, storeDir(graph.file, option)));
}
