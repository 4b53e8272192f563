// One diagnostic type for every phase, and its two renderings (LANGUAGE.md, Diagnostics):
// the editor-style text line and the JSON object.

import { relative } from "node:path";
import type { Range, SourceFile } from "./source.js";

/** Stable codes that tests and tools match on. The table in LANGUAGE.md lists them. */
export const DIAGNOSTIC_CODES = [
  "syntax",
  "undefined-name",
  "duplicate-binding",
  "duplicate-arg",
  "cycle",
  "unknown-op",
  "unknown-param",
  "missing-arg",
  "too-many-args",
  "type-mismatch",
  "out-of-range",
  "unknown-enum",
  "import-not-found",
  "import-cycle",
  "data-not-found",
  "lineage-mismatch",
  /** A warning: an argument that changes no result (a seed given to a magnitude prune). */
  "ineffective-arg",
] as const;

export type DiagnosticCode = (typeof DIAGNOSTIC_CODES)[number];

/**
 * The code of an error found after checking, by the commands that compile and run a pipeline:
 * a call that cannot run here (a data file that is malformed, or missing, which `check` reports
 * as `data-not-found`; an architecture that does not fit its data). Only their `--json` output
 * carries it; `check` never reports it.
 */
export const RUNTIME_CODE = "cannot-run";

export type Severity = "error" | "warning";

export interface Diagnostic {
  readonly file: SourceFile;
  readonly range: Range;
  readonly severity: Severity;
  readonly code: DiagnosticCode;
  readonly message: string;
}

/** The JSON shape of `lth check --json`, one object per diagnostic. */
export interface RenderedDiagnostic {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Severity;
  code: DiagnosticCode | typeof RUNTIME_CODE;
  message: string;
}

export function error(file: SourceFile, range: Range, code: DiagnosticCode, message: string): Diagnostic {
  return { file, range, severity: "error", code, message };
}

export function warning(file: SourceFile, range: Range, code: DiagnosticCode, message: string): Diagnostic {
  return { file, range, severity: "warning", code, message };
}

export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === "error");
}

/**
 * Diagnostics in reading order: files in the order given (first appearance), then by
 * position; exact repeats (one imported file reached from two roots) appear once.
 */
export function sortDiagnostics(diagnostics: readonly Diagnostic[]): Diagnostic[] {
  const fileOrder = new Map<string, number>();
  for (const d of diagnostics) if (!fileOrder.has(d.file.path)) fileOrder.set(d.file.path, fileOrder.size);
  const seen = new Set<string>();
  const unique = diagnostics.filter((d) => {
    const key = `${d.file.path}\0${d.range.start}\0${d.range.end}\0${d.code}\0${d.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort(
    (a, b) =>
      fileOrder.get(a.file.path)! - fileOrder.get(b.file.path)! ||
      a.range.start - b.range.start ||
      a.range.end - b.range.end,
  );
}

/** A path as a person reads it: relative to the working directory when inside it. */
export function displayPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel === "" || rel.startsWith("..") ? path : rel;
}

export function renderDiagnostic(d: Diagnostic, cwd?: string): RenderedDiagnostic {
  const start = d.file.position(d.range.start);
  const end = d.file.position(d.range.end);
  return {
    file: displayPath(d.file.path, cwd),
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    severity: d.severity,
    code: d.code,
    message: d.message,
  };
}

/** `pipelines/bad.lth:4:16: error: unknown op 'trian'; did you mean 'train'?` */
export function formatDiagnosticLine(r: RenderedDiagnostic): string {
  return `${r.file}:${r.line}:${r.column}: ${r.severity}: ${r.message}`;
}
