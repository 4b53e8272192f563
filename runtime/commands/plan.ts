// `lth plan FILE [NAME…]`: what a run would do, stage by stage, and why. Loads no tensor engine.

import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { describeReason, plan } from "../plan.js";
import { openStore, selectedStages } from "./pipeline.js";

export interface PlanOptions {
  readonly json?: boolean;
  readonly store?: string;
}

export function planCommand(file: string, names: readonly string[], options: PlanOptions, io: CommandIO): number {
  const selected = selectedStages("plan", file, names, io, options.json ? "array" : undefined);
  if (!selected) return EXIT.usage;
  const { graph, stages } = selected;
  const planned = plan(graph, openStore(graph, options.store, io.cwd), stages);
  if (options.json) {
    io.out(
      JSON.stringify(
        planned.map(({ stage, decision }) => ({
          id: stage.id,
          op: stage.op,
          status: decision.status,
          key: decision.key ?? null,
          ...(decision.status === "run" ? { reason: { ...decision.reason, text: describeReason(decision.reason, stage.op) } } : {}),
          names: stage.names,
        })),
        null,
        1,
      ),
    );
    return EXIT.ok;
  }
  const width = Math.max(...planned.map((p) => p.stage.id.length), 5);
  for (const { stage, decision } of planned) {
    const tail = decision.status === "run" ? describeReason(decision.reason, stage.op) : "";
    io.out(`${decision.status.padEnd(7)} ${stage.id.padEnd(width)}  ${stage.op.padEnd(13)} ${tail}`.trimEnd());
  }
  const toRun = planned.filter((p) => p.decision.status === "run").length;
  io.out(`${toRun} to run, ${planned.length - toRun} cached`);
  return EXIT.ok;
}

