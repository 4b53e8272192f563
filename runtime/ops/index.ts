// The runtime's half of the op table: how each op that computes something is run. The
// checker's half (dsl/ops.ts) declares it; a test keeps the two in step.

import type { Stage } from "../../compiler/stage.js";
import { OPS } from "../../dsl/ops.js";
import type { Artifact } from "../artifacts.js";
import type { NetValue } from "../core/net.js";
import type { Engine } from "../engine/backend.js";
import { ensurePacked } from "../data/mnist.js";
import { fileDigest } from "../store/store.js";
import { str, type OpContext } from "./context.js";
import { augment, cifar10, idx, mnist, synthetic, syntheticTooLarge } from "./datasets.js";
import { filterDistance, maskDistance } from "../methods/distances.js";
import { checkCifarFiles, cifarFiles } from "../data/cifar10.js";
import { checkIdxFiles } from "../data/idx.js";
import { basename } from "node:path";
import { init, reinit, rewind, shuffleMask, unsupportedArch } from "../methods/nets.js";
import { prune } from "../methods/pruning.js";

export interface OpImpl {
  /** Needs the tensor engine, so it runs in a worker process that has loaded one (for some ops, only with some parameters). */
  readonly engine: boolean | ((params: Stage["params"]) => boolean);
  /** Content digests of data the package ships that the op reads; part of the stage key. */
  sources?(): Record<string, string>;
  /** The files the op reads, by name, when a path parameter names a folder; their contents are in the key. */
  reads?(stage: Stage): Record<string, string>;
  /** A problem that makes the stage impossible, found before anything runs. */
  validate?(stage: Stage): string | undefined;
  run(ctx: OpContext, engine: Engine | undefined): Artifact | Promise<Artifact>;
}

const net =
  (f: (ctx: OpContext) => NetValue) =>
  (ctx: OpContext): Artifact => ({ kind: "Net", net: f(ctx) });

/** The tensor engine module loads only where a stage needs it: never in `check`, `plan` or a cached run. */
function engineOp(run: (ctx: OpContext, engine: Engine) => Promise<Artifact>): OpImpl["run"] {
  return (ctx, engine) => {
    if (!engine) throw new Error(`internal: ${ctx.stage} ran without a tensor engine`);
    return run(ctx, engine);
  };
}

/** prune needs gradients (a worker) only for the criteria that score by them. */
const SALIENCY = new Set(["snip", "grasp", "synflow"]);

export const IMPLEMENTATIONS: ReadonlyMap<string, OpImpl> = new Map<string, OpImpl>([
  [
    "mnist",
    {
      engine: false,
      // The packed file's content hash: a different set of shipped digits is a different dataset.
      sources: () => ({ digits: fileDigest(ensurePacked()) }),
      run: (ctx) => ({ kind: "Dataset", dataset: mnist(ctx) }),
    },
  ],
  [
    "idx",
    {
      engine: false,
      // The files' headers against their sizes, in milliseconds; the stage reads every byte.
      validate: (stage) => checkIdxFiles(stage.files),
      run: (ctx) => ({ kind: "Dataset", dataset: idx(ctx) }),
    },
  ],
  ["synthetic", { engine: false, validate: (stage) => syntheticTooLarge(stage.params), run: (ctx) => ({ kind: "Dataset", dataset: synthetic(ctx) }) }],
  [
    "cifar10",
    {
      engine: false,
      reads: (stage) => Object.fromEntries(cifarFiles(stage.files["dir"]!).map((path) => [basename(path), path])),
      validate: (stage) => checkCifarFiles(stage.files["dir"]!, stage.params["train"], stage.params["test"]),
      run: (ctx) => ({ kind: "Dataset", dataset: cifar10(ctx) }),
    },
  ],
  ["init", { engine: false, validate: (stage) => unsupportedArch(stage.params["arch"]), run: net(init) }],
  ["train", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/training.js")).train(ctx, e) })) }],
  ["evaluate", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Metrics", metrics: (await import("../methods/training.js")).evaluate(ctx, e) })) }],
  ["earlybird", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/earlybird.js")).earlybird(ctx, e) })) }],
  ["gmp", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/gradual.js")).gmp(ctx, e) })) }],
  ["dpf", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/gradual.js")).dpf(ctx, e) })) }],
  ["supermask", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/supermask.js")).supermask(ctx, e) })) }],
  ["greedy", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: (await import("../methods/greedy.js")).greedy(ctx, e) })) }],
  ["loft", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Net", net: await (await import("../methods/loft/loft.js")).loft(ctx, e) })) }],
  ["augment", { engine: false, run: (ctx) => ({ kind: "Dataset", dataset: augment(ctx) }) }],
  ["filter_distance", { engine: false, run: (ctx) => ({ kind: "Number", value: filterDistance(ctx) }) }],
  ["instability", { engine: true, run: engineOp(async (ctx, e) => ({ kind: "Number", value: (await import("../methods/instability.js")).instability(ctx, e) })) }],
  [
    "prune",
    {
      engine: (params) => SALIENCY.has(String(params["criterion"])),
      run: (ctx, engine) =>
        SALIENCY.has(str(ctx, "criterion"))
          ? engineOp(async (c, e) => ({ kind: "Net", net: (await import("../methods/saliency.js")).pruneBySaliency(c, e) }))(ctx, engine)
          : { kind: "Net", net: prune(ctx) },
    },
  ],
  ["rewind", { engine: false, run: net(rewind) }],
  ["reinit", { engine: false, run: net(reinit) }],
  ["shuffle_mask", { engine: false, run: net(shuffleMask) }],
  ["mask_distance", { engine: false, run: (ctx) => ({ kind: "Number", value: maskDistance(ctx) }) }],
]);

/**
 * Ops the compiler evaluates itself (architectures are parameters of `init`; `last` picks a
 * list element), so they never become stages and need no implementation here.
 */
export const COMPILE_TIME_OPS: ReadonlySet<string> = new Set([...OPS.values()].filter((op) => op.category === "architecture" || op.category === "list").map((op) => op.name));

/** Whether a stage runs on the tensor engine, in a worker process. */
export function needsEngine(stage: Pick<Stage, "op" | "params">): boolean {
  const engine = IMPLEMENTATIONS.get(stage.op)!.engine;
  return typeof engine === "function" ? engine(stage.params) : engine;
}

/** Declared ops that this version cannot run yet, with what to use instead. */
export function notRunnable(op: string): string | undefined {
  if (IMPLEMENTATIONS.has(op) || COMPILE_TIME_OPS.has(op)) return undefined;
  return `'${op}' is declared in the language but cannot run in this version of lth`;
}

