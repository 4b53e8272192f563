// The runtime's half of the op table: how each op that computes something is run. The
// checker's half (dsl/ops.ts) declares it; a test keeps the two in step.

import type { Stage } from "../../compiler/stage.js";
import { OPS } from "../../dsl/ops.js";
import type { Artifact, NetValue } from "../artifacts.js";
import type { Engine } from "../engine/backend.js";
import { ensurePacked } from "../data/mnist.js";
import { fileDigest } from "../store/store.js";
import type { OpContext } from "./context.js";
import { cifar10, idx, mnist, synthetic, syntheticTooLarge } from "./datasets.js";
import { checkCifarFiles, cifarFiles } from "../data/cifar10.js";
import { checkIdxFiles } from "../data/idx.js";
import { basename } from "node:path";
import { init, maskDistance, prune, reinit, rewind, shuffleMask, unsupportedArch } from "./nets.js";

export interface OpImpl {
  /** Needs the tensor engine, so it runs in a worker process that has loaded one. */
  readonly engine: boolean;
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
async function engineOp(ctx: OpContext, engine: Engine | undefined, which: "train" | "evaluate" | "earlybird"): Promise<Artifact> {
  if (!engine) throw new Error(`internal: ${which} ran without a tensor engine`);
  if (which === "earlybird") return { kind: "Net", net: (await import("../engine/earlybird.js")).earlybird(ctx, engine) };
  const m = await import("../engine/train.js");
  return which === "train" ? { kind: "Net", net: m.train(ctx, engine) } : { kind: "Metrics", metrics: m.evaluate(ctx, engine) };
}

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
  ["train", { engine: true, run: (ctx, engine) => engineOp(ctx, engine, "train") }],
  ["evaluate", { engine: true, run: (ctx, engine) => engineOp(ctx, engine, "evaluate") }],
  ["earlybird", { engine: true, run: (ctx, engine) => engineOp(ctx, engine, "earlybird") }],
  ["prune", { engine: false, run: net(prune) }],
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

/** Declared ops that this version cannot run yet, with what to use instead. */
export function notRunnable(op: string): string | undefined {
  if (IMPLEMENTATIONS.has(op) || COMPILE_TIME_OPS.has(op)) return undefined;
  return `'${op}' is declared in the language but cannot run in this version of lth`;
}

