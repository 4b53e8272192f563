// `lth plan FILE [NAME…]`: what a run would do, stage by stage, and why. Loads no tensor engine.

import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { jobResources } from "../execute/run.js";
import { sbatchArgs } from "../execute/slurm.js";
import { needsEngine } from "../ops/index.js";
import { describeReason, plan, runCounts } from "../plan.js";
import { openStore, selectedStages } from "./pipeline.js";
import { executorChoice, type RunOptions } from "./run.js";

export type PlanOptions = Pick<RunOptions, "json" | "store" | "executor" | "partition" | "account" | "qos" | "constraint" | "gres" | "sbatch" | "cpus">;

export function planCommand(file: string, names: readonly string[], options: PlanOptions, io: CommandIO): number {
  const executor = executorChoice(file, options);
  if ("problem" in executor) {
    io.err(`lth plan: ${executor.problem}`);
    return EXIT.usage;
  }
  const selected = selectedStages("plan", file, names, io, options.json ? "array" : undefined);
  if (!selected) return EXIT.usage;
  const { graph, stages } = selected;
  const planned = plan(graph, openStore(graph, options.store, io.cwd), stages);
  // With --executor slurm, what each tensor stage to run would be submitted as (its key may not be known yet: an input runs first).
  const submission = (p: (typeof planned)[number]): string[] | undefined =>
    executor.kind === "slurm" && p.decision.status === "run" && needsEngine(p.stage) ? sbatchArgs({ id: p.stage.id, key: p.decision.key ?? "(known once its inputs have run)" }, jobResources(executor, graph.resources.get(p.stage.op)), executor.site) : undefined;
  if (options.json) {
    io.out(
      JSON.stringify(
        planned.map(({ stage, decision }) => ({
          id: stage.id,
          op: stage.op,
          status: decision.status,
          key: decision.key ?? null,
          ...(decision.status === "run" ? { reason: { ...decision.reason, text: describeReason(decision.reason, stage.op) } } : {}),
          ...(submission({ stage, decision }) ? { sbatch: submission({ stage, decision }) } : {}),
          names: stage.names,
        })),
        null,
        1,
      ),
    );
    return EXIT.ok;
  }
  const width = Math.max(...planned.map((p) => p.stage.id.length), 5);
  for (const p of planned) {
    const { stage, decision } = p;
    const tail = decision.status === "run" ? describeReason(decision.reason, stage.op) : "";
    io.out(`${decision.status.padEnd(7)} ${stage.id.padEnd(width)}  ${stage.op.padEnd(13)} ${tail}`.trimEnd());
    const args = submission(p);
    // The job's comment names the stage, shown already: the rest is what it asks for.
    if (args) io.out(`${" ".repeat(9 + width)}SLURM job: sbatch ${args.filter((a) => !a.startsWith("--comment=")).join(" ")}`);
  }
  const { certain, maybe, cached } = runCounts(planned);
  const jobs = planned.filter((p) => submission(p)).length;
  const more = maybe ? `, up to ${maybe} more if their inputs change` : "";
  io.out(`${certain} to run${more}${executor.kind === "slurm" ? ` (${jobs} as SLURM jobs)` : ""}, ${cached} cached`);
  return EXIT.ok;
}

