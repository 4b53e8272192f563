// `lth run FILE [NAME…]`: brings the named bindings (default: all) up to date. Stage lines
// and a live progress bar for people, JSON lines with `--json`; exit 0 when everything is
// up to date, 1 when a stage failed, 2 on a usage or language error, 130 when stopped by
// SIGINT or SIGTERM. The run itself is execute/run.ts, shared with the API.

import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { BACKEND_CHOICES, type BackendChoice } from "../engine/backend.js";
import { defaultJobs } from "../execute/local.js";
import { runStages } from "../execute/run.js";
import { openStore, selectedStages } from "./pipeline.js";

export interface RunOptions {
  readonly json?: boolean;
  readonly store?: string;
  readonly backend?: string;
  readonly jobs?: string;
}

export async function runCommand(file: string, names: readonly string[], options: RunOptions, io: CommandIO): Promise<number> {
  const backend = (options.backend ?? "auto") as BackendChoice;
  if (!BACKEND_CHOICES.includes(backend)) {
    io.err(`lth run: unknown backend '${backend}'; use ${BACKEND_CHOICES.join(", ")}`);
    return EXIT.usage;
  }
  const jobs = options.jobs === undefined ? defaultJobs(backend) : Number(options.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    io.err(`lth run: --jobs must be a whole number of at least 1; found '${options.jobs}'`);
    return EXIT.usage;
  }
  const selected = selectedStages("run", file, names, io, options.json ? "lines" : undefined);
  if (!selected) return EXIT.usage;
  const { graph, stages } = selected;

  const store = openStore(graph, options.store, io.cwd);
  const result = await runStages(graph, stages, {
    store,
    jobs,
    backend,
    show: options.json ? { json: (line) => io.out(line) } : "lines",
    say: (message) => io.err(`lth run: ${message}`),
  });
  // Stopped by SIGINT or SIGTERM (said, and the lock released): at once, whatever the stages in flight do.
  if ("stopped" in result) process.exit(130);
  return result.counts.failed > 0 ? EXIT.failed : EXIT.ok;
}
