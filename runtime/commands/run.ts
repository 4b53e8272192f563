// `lth run FILE [NAME…]`: brings the named bindings (default: all) up to date. Stage lines
// and a live progress bar for people, JSON lines with `--json`; exit 0 when everything is
// up to date, 1 when a stage failed, 2 on a usage or language error, 130 when stopped by
// SIGINT or SIGTERM. The run itself is execute/run.ts, shared with the API.

import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { BACKEND_CHOICES, type BackendChoice } from "../engine/backend.js";
import { defaultJobs } from "../execute/local.js";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { runStages, type ExecutorChoice } from "../execute/run.js";
import type { SlurmSite } from "../execute/slurm.js";
import { openStore, selectedStages } from "./pipeline.js";

export interface RunOptions {
  readonly json?: boolean;
  readonly store?: string;
  readonly backend?: string;
  readonly jobs?: string;
  readonly executor?: string;
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  readonly constraint?: string;
  readonly gres?: boolean;
  readonly sbatch?: readonly string[];
  readonly cpus?: string;
}

/** Site settings in `slurm.json` beside the pipeline; the command line's options override them. */
export const SLURM_CONFIG = "slurm.json";
const SLURM_KEYS = ["partition", "account", "qos", "constraint", "gpuFlag", "extra", "cpus"] as const;

/** `--executor` and its site settings, or what is wrong with them (naming the file or option at fault). */
export function executorChoice(file: string, options: RunOptions): ExecutorChoice | { problem: string } {
  const kind = options.executor ?? "local";
  if (kind === "local") return { kind: "local" };
  if (kind !== "slurm") return { problem: `unknown executor '${kind}'; use local or slurm` };
  const path = join(dirname(resolve(file)), SLURM_CONFIG);
  let config: Record<string, unknown> = {};
  if (existsSync(path)) {
    try {
      config = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    } catch (e) {
      return { problem: `${path}: not JSON (${e instanceof Error ? e.message : String(e)})` };
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) return { problem: `${path}: expected an object of site settings (${SLURM_KEYS.join(", ")})` };
    for (const [k, v] of Object.entries(config)) {
      if (!(SLURM_KEYS as readonly string[]).includes(k)) return { problem: `${path}: unknown setting '${k}'; the settings are ${SLURM_KEYS.join(", ")}` };
      const ok = k === "extra" ? Array.isArray(v) && v.every((x) => typeof x === "string") : k === "cpus" ? Number.isInteger(v) && (v as number) >= 1 : k === "gpuFlag" ? v === "gpus" || v === "gres" : typeof v === "string";
      if (!ok) return { problem: `${path}: '${k}' must be ${k === "extra" ? "a list of strings (sbatch arguments)" : k === "cpus" ? "a whole number of at least 1" : k === "gpuFlag" ? '"gpus" or "gres"' : "a string"}; found ${JSON.stringify(v)}` };
    }
  }
  const text = (k: "partition" | "account" | "qos" | "constraint") => options[k] ?? (config[k] as string | undefined);
  const cpus = options.cpus !== undefined ? Number(options.cpus) : (config["cpus"] as number | undefined);
  if (cpus !== undefined && (!Number.isInteger(cpus) || cpus < 1)) return { problem: `--cpus must be a whole number of at least 1; found '${options.cpus}'` };
  const site: SlurmSite = {
    ...(text("partition") ? { partition: text("partition")! } : {}),
    ...(text("account") ? { account: text("account")! } : {}),
    ...(text("qos") ? { qos: text("qos")! } : {}),
    ...(text("constraint") ? { constraint: text("constraint")! } : {}),
    gpuFlag: options.gres ? "gres" : ((config["gpuFlag"] as "gpus" | "gres" | undefined) ?? "gpus"),
    extra: [...((config["extra"] as string[] | undefined) ?? []), ...(options.sbatch ?? [])],
  };
  // Test and site knobs: seconds between queue reads ("first,max") and the grace for a job gone without its marker.
  const poll = process.env["LTH_SLURM_POLL"]?.split(",").map(Number);
  const grace = process.env["LTH_SLURM_GRACE"] !== undefined ? Number(process.env["LTH_SLURM_GRACE"]) : undefined;
  return {
    kind: "slurm",
    site,
    ...(cpus !== undefined ? { cpus } : {}),
    ...(poll && poll.length === 2 && poll.every((x) => x > 0) ? { poll: { first: poll[0]!, max: poll[1]! } } : {}),
    ...(grace !== undefined && grace >= 0 ? { grace } : {}),
  };
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
  const executor = executorChoice(file, options);
  if ("problem" in executor) {
    io.err(`lth run: ${executor.problem}`);
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
    executor,
    show: options.json ? { json: (line) => io.out(line) } : "lines",
    say: (message) => io.err(`lth run: ${message}`),
  });
  // Stopped by SIGINT or SIGTERM (said, and the lock released): at once, whatever the stages in flight do.
  if ("stopped" in result) process.exit(130);
  return result.counts.failed > 0 ? EXIT.failed : EXIT.ok;
}
