// `lth run FILE [NAME…]`: brings the named bindings (default: all) up to date. Stage lines
// and a live progress bar for people, JSON lines with `--json`; exit 0 when everything is
// up to date, 1 when a stage failed, 2 on a usage or language error.

import { availableParallelism } from "node:os";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { BACKEND_CHOICES, type BackendChoice } from "../engine/backend.js";
import { LocalExecutor } from "../execute/local.js";
import { execute, type RunEvent } from "../execute/scheduler.js";
import { createReporter } from "../ui/progress.js";
import { showEvent } from "../ui/run-events.js";
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
  const jobs = options.jobs === undefined ? availableParallelism() : Number(options.jobs);
  if (!Number.isInteger(jobs) || jobs < 1) {
    io.err(`lth run: --jobs must be a whole number of at least 1; found '${options.jobs}'`);
    return EXIT.usage;
  }
  const selected = selectedStages("run", file, names, io, options.json ? "lines" : undefined);
  if (!selected) return EXIT.usage;
  const { graph, stages } = selected;

  const store = openStore(graph, options.store, io.cwd);
  const release = await store.lock((message) => io.err(`lth run: ${message}`));
  store.clearTemp();

  const reporter = options.json ? undefined : createReporter(process.stdout);
  const onEvent = (e: RunEvent) => {
    if (options.json) {
      if (e.type !== "progress" || e.final) io.out(JSON.stringify(e));
      return;
    }
    showEvent(reporter!, e);
  };
  const executor = new LocalExecutor({ store, jobs, backend, onEvent });
  const execution = execute(graph, stages, { store, executor, onEvent });
  const stop = (signal: NodeJS.Signals) => {
    execution.abort();
    reporter?.close();
    io.err(`lth run: stopped by ${signal}; finished stages stay cached`);
    void release().finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    const counts = await execution.done;
    return counts.failed > 0 ? EXIT.failed : EXIT.ok;
  } finally {
    reporter?.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await release();
  }
}
