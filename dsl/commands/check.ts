// `lth check FILE…`: parse and type-check, look for the data files calls name, print
// diagnostics (text or --json), write nothing.

import { resolve } from "node:path";
import { checkProgram, diskDataFiles, ModuleLoader } from "../check/index.js";
import { formatDiagnosticLine, renderDiagnostic, sortDiagnostics, type Diagnostic } from "../diagnostics.js";
import { EXIT, filesOrUsage, plural, type CommandIO } from "./io.js";

export interface CheckOptions {
  readonly json?: boolean;
}

export function checkCommand(args: readonly string[], options: CheckOptions, io: CommandIO): number {
  const files = filesOrUsage("check", args, io);
  if (!files) return EXIT.usage;
  const loader = new ModuleLoader();
  const diagnostics: Diagnostic[] = [];
  let unreadable = 0;
  for (const file of files) {
    // Data files too: `check` promises every mistake that can be found before anything runs.
    const result = checkProgram(resolve(io.cwd, file), loader, { dataFiles: diskDataFiles });
    if ("problem" in result) {
      io.err(`lth check: cannot read ${file}: ${result.problem}`);
      unreadable++;
      continue;
    }
    diagnostics.push(...result.diagnostics);
  }
  const rendered = sortDiagnostics(diagnostics).map((d) => renderDiagnostic(d, io.cwd));
  if (options.json) io.out(JSON.stringify(rendered, null, 2));
  else if (rendered.length > 0) io.out(rendered.map(formatDiagnosticLine).join("\n"));

  const errors = rendered.filter((d) => d.severity === "error").length;
  const warnings = rendered.length - errors;
  const checked = files.length - unreadable;
  if (!options.json && checked > 0) {
    const found = rendered.length === 0 ? "no problems" : [errors && plural(errors, "error"), warnings && plural(warnings, "warning")].filter(Boolean).join(", ");
    io.err(`checked ${plural(checked, "file")}: ${found}`);
  }
  if (unreadable > 0) return EXIT.usage;
  return errors > 0 ? EXIT.failed : EXIT.ok;
}
