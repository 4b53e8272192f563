// `lth codegen FILE -o OUT.ts`: the pipeline as a TypeScript script on lth's API.

import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { checkProgram, ModuleLoader } from "../../dsl/check/index.js";
import { EXIT, type CommandIO } from "../../dsl/commands/io.js";
import { formatDiagnosticLine, renderDiagnostic } from "../../dsl/diagnostics.js";
import { codegen } from "../codegen/script.js";

export function codegenCommand(file: string, options: { out?: string }, io: CommandIO): number {
  const checked = checkProgram(resolve(io.cwd, file), new ModuleLoader());
  if ("problem" in checked) {
    io.err(`${file}: ${checked.problem}`);
    return EXIT.usage;
  }
  if (!checked.ok) {
    for (const d of checked.diagnostics) io.err(formatDiagnosticLine(renderDiagnostic(d, io.cwd)));
    return EXIT.usage;
  }
  const out = resolve(io.cwd, options.out ?? file.replace(/\.lth$/, "") + ".ts");
  const text = codegen(checked.program, { out });
  if (options.out === "-") io.out(text);
  else {
    writeFileSync(out, text);
    io.err(`wrote ${out}`);
  }
  return EXIT.ok;
}
