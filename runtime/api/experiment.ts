// The TypeScript API: a script builds the stages of an experiment with typed op methods and
// runs them, exactly as `lth run` would run the same `.lth` file (same stages, same keys,
// same store layout), so either can pick up where the other stopped.

import { dirname, join, resolve } from "node:path";
import type { CompiledValue, StageGraph, StageId } from "../../compiler/stage.js";
import { architecture, duration, StageBuilder, stageGraph, withDefaults, type CallSite } from "../../compiler/stages.js";
import { lookupOp } from "../../dsl/ops.js";
import type { BackendChoice } from "../engine/backend.js";
import { defaultJobs } from "../execute/local.js";
import { runStages, type ExecutorChoice } from "../execute/run.js";
import type { Counts, RunEvent } from "../execute/scheduler.js";
import { problems, selectStages } from "../plan.js";
import { Store, storeDir } from "../store/store.js";
import { Ops } from "./ops.generated.js";
import { archOf, isArch, isResult, resultOf, type Result } from "./values.js";

/** The most replicates one `replicate` makes, as the language allows. */
const MAX_REPLICATES = 10_000;

export interface ExperimentOptions {
  /**
   * The folder relative paths (idx files, CIFAR-10) start from and the store sits in;
   * default the folder of the script being run (`process.argv[1]`), else the working folder.
   */
  readonly base?: string;
  /** The store folder; default `$LTH_STORE`, else `.lth/` in `base`. */
  readonly store?: string;
  readonly backend?: BackendChoice;
  /** Worker processes; default the number of cores. */
  readonly jobs?: number;
  /** Where tensor stages run: local workers (default), or SLURM batch jobs (`{ kind: "slurm", site: { partition: "gpu" } }`), as `lth run --executor slurm`. */
  readonly executor?: ExecutorChoice;
  /** Print stage lines and progress (default) or nothing; `onEvent` sees every event either way. */
  readonly quiet?: boolean;
  readonly onEvent?: (e: RunEvent) => void;
}

/** A problem found before anything runs: the stages that cannot run, and why. */
export class ExperimentError extends Error {}

export class Experiment extends Ops {
  private readonly stages = new StageBuilder();
  /** The pseudo-file whose folder is `base`: what stage sources and the run record name. */
  private readonly file: string;

  constructor(private readonly options: ExperimentOptions = {}) {
    super();
    const script = process.argv[1];
    this.file = join(options.base ?? (script ? dirname(resolve(script)) : process.cwd()), "experiment.ts");
  }

  protected call(op: string, args: Readonly<Record<string, unknown>>): unknown {
    const decl = lookupOp(op);
    if (!decl) throw new ExperimentError(`unknown op '${op}'`);
    if (op === "last") {
      const xs = args["xs"] as readonly unknown[];
      if (!xs.length) throw new ExperimentError("last() needs a non-empty list");
      return xs[xs.length - 1];
    }
    const given = new Map<string, CompiledValue>();
    for (const [name, value] of Object.entries(args)) if (value !== undefined) given.set(name, compiled(value, `${op}(${name})`));
    const site: CallSite = { file: this.file, range: { start: 0, end: 0 } };
    const values = withDefaults(decl, given);
    if (decl.category === "architecture") return archOf(architecture(decl, values, site));
    return resultOf(this.stages.add(decl, values, site, op));
  }

  /**
   * `replicate N as seed { … yield … }`: `block` called with seed 1, 2, …, `count`, its
   * results in order. Pass the seed to every `init` and `train` whose randomness should
   * vary: each replicate's stages are then its own, cached one by one.
   */
  replicate<T>(count: number, block: (seed: number) => T): T[] {
    if (!Number.isInteger(count) || count < 1 || count > MAX_REPLICATES) {
      throw new ExperimentError(`replicate needs a whole number of replicates between 1 and ${MAX_REPLICATES}; found ${count}`);
    }
    return Array.from({ length: count }, (_, i) => block(i + 1));
  }

  /**
   * Names the stages `make` adds as `lth run` names a binding's: the one its result is becomes
   * `name`, the others `name/op` (`dense`, `ticket/prune`). Generated scripts wrap each
   * statement so, and their run lines read as the `.lth` file's. Stages that existed before
   * (an identical call made earlier) keep their names.
   */
  named<T>(name: string, make: () => T): T {
    const mark = this.stages.size;
    const value = make();
    const outer = isResult(value) ? value.stage : undefined;
    const renamed = this.stages.renameSince(mark, (s) => (s.id === outer ? name : `${name}/${s.op}`));
    const remap = (v: unknown): unknown => {
      if (isResult(v)) return resultOf(renamed.get(v.stage) ?? v.stage);
      if (Array.isArray(v)) return v.map(remap);
      return v;
    };
    return remap(value) as T;
  }

  /** The stages built so far, as the executor takes them. */
  graph(): StageGraph {
    return stageGraph(this.stages, this.file);
  }

  /**
   * Brings every stage (or those the given results need) up to date, as `lth run` does, and
   * resolves with the counts. It leaves the process's exit status alone: a script decides it
   * from them (`lth run` exits 1 when `failed > 0`). SIGINT or SIGTERM stops the run at once
   * (workers killed, lock released, finished stages cached) and rejects with an `ExperimentError`.
   */
  async run(...results: readonly (Result<string> | readonly Result<string>[])[]): Promise<Counts> {
    const graph = this.graph();
    const targets = results.flat().map((r) => r.stage as StageId);
    const stages = selectStages(graph, targets.length ? targets : undefined);
    const bad = problems(stages);
    if (bad.length) throw new ExperimentError(`cannot run: ${bad.map((p) => `${p.stage.id} (${p.stage.op}): ${p.message}`).join("; ")}`);
    const result = await runStages(graph, stages, {
      store: new Store(this.options.store ?? storeDir(this.file)),
      jobs: this.options.jobs ?? defaultJobs(this.options.backend ?? "auto"),
      backend: this.options.backend ?? "auto",
      ...(this.options.executor ? { executor: this.options.executor } : {}),
      show: this.options.quiet ? "quiet" : "lines",
      onEvent: this.options.onEvent,
      say: (message) => process.stderr.write(`lth: ${message}\n`),
    });
    if ("stopped" in result) throw new ExperimentError(`stopped by ${result.stopped}`);
    return result.counts;
  }
}

/** A script's argument as the compiler would have it: results by stage, quantities normalised. */
function compiled(value: unknown, where: string): CompiledValue {
  if (isResult(value)) return { kind: "stage", stage: value.stage };
  if (isArch(value)) return { kind: "static", value: value.arch };
  if (Array.isArray(value)) return { kind: "list", items: value.map((v) => compiled(v, where)) };
  if (typeof value === "object" && value !== null) {
    const q = value as { percent?: number; epochs?: number; steps?: number };
    if (typeof q.percent === "number") return { kind: "static", value: q.percent / 100 };
    if (typeof q.epochs === "number") return { kind: "static", value: duration(q.epochs, "epochs") };
    if (typeof q.steps === "number") return { kind: "static", value: duration(q.steps, "steps") };
  }
  if (typeof value === "number" || typeof value === "string" || typeof value === "boolean") return { kind: "static", value };
  throw new ExperimentError(`${where}: ${JSON.stringify(value)} is not a value lth knows`);
}
