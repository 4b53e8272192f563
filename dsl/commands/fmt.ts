// `lth fmt FILE… [--check]`: rewrite files in canonical form, or, with --check, list the
// ones that are not. A file with syntax errors is left exactly as it is.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { formatDiagnosticLine, renderDiagnostic, type Diagnostic } from "../diagnostics.js";
import { formatFile } from "../format/format.js";
import { parseSource } from "../parse.js";
import { SourceFile } from "../source.js";
import { EXIT, filesOrUsage, plural, type CommandIO } from "./io.js";

export interface FmtOptions {
  readonly check?: boolean;
}

/** The canonical text, or the syntax errors that prevent formatting. */
export function formatText(path: string, text: string): { text: string } | { errors: readonly Diagnostic[] } {
  const parsed = parseSource(new SourceFile(path, text));
  if (parsed.diagnostics.length > 0) return { errors: parsed.diagnostics };
  return { text: formatFile(parsed.source, parsed.ast) };
}

export function fmtCommand(args: readonly string[], options: FmtOptions, io: CommandIO): number {
  const files = filesOrUsage("fmt", args, io);
  if (!files) return EXIT.usage;
  let status: number = EXIT.ok;
  const unformatted: string[] = [];
  for (const file of files) {
    const path = resolve(io.cwd, file);
    let original: string;
    try {
      original = readFileSync(path, "utf8");
    } catch (e) {
      io.err(`lth fmt: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      status = EXIT.usage;
      continue;
    }
    const formatted = formatText(path, original);
    if ("errors" in formatted) {
      io.out(formatted.errors.map((d) => formatDiagnosticLine(renderDiagnostic(d, io.cwd))).join("\n"));
      io.err(`lth fmt: ${file} has syntax errors; left unchanged`);
      status = EXIT.usage;
      continue;
    }
    if (formatted.text === original) continue;
    unformatted.push(file);
    if (options.check) continue;
    // Written beside the file and renamed over it, so a crash never leaves half a file.
    const temporary = `${path}.${process.pid}.fmt`;
    writeFileSync(temporary, formatted.text);
    renameSync(temporary, path);
  }
  for (const file of unformatted) io.out(options.check ? `${file}: not formatted` : `formatted ${file}`);
  if (options.check && unformatted.length > 0) {
    io.err(`${plural(unformatted.length, "file")} would be reformatted by 'lth fmt'`);
    if (status === EXIT.ok) status = EXIT.failed;
  }
  return status;
}
