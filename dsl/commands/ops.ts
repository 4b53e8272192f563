// `lth ops`: the standard library table, for people, for Markdown, or as JSON.

import { opsJson, renderOpsMarkdown, renderOpsText } from "../ops-doc.js";
import { EXIT, type CommandIO } from "./io.js";

export interface OpsOptions {
  readonly json?: boolean;
  readonly markdown?: boolean;
}

export function opsCommand(options: OpsOptions, io: CommandIO): number {
  if (options.json) io.out(JSON.stringify(opsJson(), null, 2));
  else if (options.markdown) io.out(renderOpsMarkdown());
  else io.out(renderOpsText());
  return EXIT.ok;
}
