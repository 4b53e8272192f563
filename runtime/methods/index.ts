// Every method's ops, gathered for the op table's runtime half (ops/index.ts). A new method
// module adds one line here (see runtime/README.md, "Adding a method").

import type { OpImplementations } from "../ops/context.js";
import { implementations as convex } from "./convex.js";
import { implementations as distances } from "./distances.js";
import { implementations as earlybird } from "./earlybird.js";
import { implementations as gradual } from "./gradual.js";
import { implementations as greedy } from "./greedy.js";
import { implementations as instability } from "./instability.js";
import { implementations as loft } from "./loft/loft.js";
import { implementations as nets } from "./nets.js";
import { implementations as pruning } from "./pruning.js";
import { implementations as sparsification } from "./sparsification.js";
import { implementations as structured } from "./structured.js";
import { implementations as supermask } from "./supermask.js";
import { implementations as training } from "./training.js";

const MODULES: readonly OpImplementations[] = [nets, training, pruning, gradual, supermask, earlybird, greedy, instability, loft, distances, convex, structured, sparsification];

/** Each method op's implementation, by op name; an op implemented twice is a bug. */
export const METHOD_OPS: OpImplementations = MODULES.reduce<Record<string, OpImplementations[string]>>((all, module) => {
  for (const [op, impl] of Object.entries(module)) {
    if (op in all) throw new Error(`internal: op '${op}' is implemented by two method modules`);
    all[op] = impl;
  }
  return all;
}, {});
