// The runtime's half of the op table: how each op that computes something is run. The
// checker's half (dsl/ops.ts) declares it; a test keeps the two in step. The data ops are
// here; every method's ops come from its module in methods/.

import type { Stage } from "../../compiler/stage.js";
import { OPS } from "../../dsl/ops.js";
import { ensurePacked } from "../data/mnist.js";
import { fileDigest } from "../store/store.js";
import type { OpImpl } from "./context.js";
import { concat } from "./concat.js";
import { planted, plantedTooLarge } from "./planted.js";
import { augment, cifar10, cifar100, idx, mnist, synthetic, syntheticTooLarge } from "./datasets.js";
import { checkCifarFiles, cifarFiles } from "../data/cifar10.js";
import { checkCifar100Files, cifar100Files } from "../data/cifar100.js";
import { checkIdxFiles } from "../data/idx.js";
import { basename } from "node:path";
import { METHOD_OPS } from "../methods/index.js";

export type { OpImpl };

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
      // The subsets and the validation split must fit the files, which only their headers say.
      validate: (stage) => {
        const int = (name: string) => (typeof stage.params[name] === "number" ? (stage.params[name] as number) : undefined);
        return checkIdxFiles(stage.files, int("validation") ?? 0, { ...(int("train") !== undefined ? { train: int("train")! } : {}), ...(int("test") !== undefined ? { test: int("test")! } : {}) });
      },
      run: (ctx) => ({ kind: "Dataset", dataset: idx(ctx) }),
    },
  ],
  ["planted", { engine: false, validate: (stage) => plantedTooLarge(stage.params), run: (ctx) => ({ kind: "Dataset", dataset: planted(ctx) }) }],
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
  [
    "cifar100",
    {
      engine: false,
      reads: (stage) => Object.fromEntries(cifar100Files(stage.files["dir"]!).map((path) => [basename(path), path])),
      validate: (stage) => checkCifar100Files(stage.files["dir"]!, stage.params["train"], stage.params["test"]),
      run: (ctx) => ({ kind: "Dataset", dataset: cifar100(ctx) }),
    },
  ],
  ["augment", { engine: false, run: (ctx) => ({ kind: "Dataset", dataset: augment(ctx) }) }],
  ["concat", { engine: false, run: (ctx) => ({ kind: "Dataset", dataset: concat(ctx) }) }],
  // Every method's ops: methods/index.ts.
  ...Object.entries(METHOD_OPS),
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

