// `prune` by magnitude or at random (the criteria that need no tensor engine), and the mask
// removal every criterion shares, saliency's too: the lowest-scoring live weights go, ties
// by position. Plain typed-array code, so the same bytes everywhere.

import { withMasks, type NetValue } from "../core/net.js";
import { Random } from "../core/random.js";
import { lowest } from "../core/select.js";
import { netInput, num, str, type OpContext, onEngine, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";
import { pruneFilters } from "./structured.js";

export type PruneScope = "layerwise" | "global";

/**
 * Which live weights of a ranking group go: given the group's candidate count (live weights
 * of its layers, in layer then index order) and how many to remove, the candidates to
 * remove, as positions in that order.
 */
type Chooser = (count: number, k: number, label: string, candidates: (visit: (layer: number, index: number, c: number) => void) => void) => Iterable<number>;

/**
 * The mask removal shared by every criterion: the last layer loses `outputRate` of its live
 * weights on its own; the others each lose `rate` of theirs (`layerwise`) or `rate` of all
 * of theirs ranked together (`global`). Counts round to the nearest weight.
 */
function removeByGroups(net: NetValue, rate: number, outputRate: number, scope: PruneScope, choose: Chooser): NetValue {
  const masks = net.layers.map((l) => Uint8Array.from(l.mask));
  const last = net.layers.length - 1;
  const removeFrom = (layers: readonly number[], share: number, label: string): void => {
    const count = layers.reduce((n, i) => n + masks[i]!.reduce((a, m) => a + m, 0), 0);
    const k = Math.round(share * count);
    if (k === 0) return;
    const layerOf = new Uint32Array(count);
    const indexOf = new Uint32Array(count);
    let c = 0;
    for (const i of layers) {
      masks[i]!.forEach((m, j) => {
        if (!m) return;
        layerOf[c] = i;
        indexOf[c++] = j;
      });
    }
    const candidates = (visit: (layer: number, index: number, c: number) => void) => {
      for (let c = 0; c < count; c++) visit(layerOf[c]!, indexOf[c]!, c);
    };
    for (const c of choose(count, k, label, candidates)) masks[layerOf[c]!]![indexOf[c]!] = 0;
  };
  if (scope === "global") removeFrom(net.layers.slice(0, last).map((_, i) => i), rate, "global");
  else for (let i = 0; i < last; i++) removeFrom([i], rate, net.layers[i]!.name);
  removeFrom([last], outputRate, net.layers[last]!.name);
  return withMasks(net, masks);
}

/**
 * Prunes by a score per weight (stored layout, one array per layer): the lowest-scoring live
 * weights go first, ties by position (layer, then index). Pruned weights stay pruned and
 * only live weights count; `rate`, `outputRate` and `scope` as for `prune`.
 */
export function pruneByScores(net: NetValue, scores: readonly Float32Array[], rate: number, outputRate: number, scope: PruneScope): NetValue {
  return removeByGroups(net, rate, outputRate, scope, (count, k, _label, candidates) => {
    const ranked = new Float32Array(count);
    candidates((layer, index, c) => (ranked[c] = scores[layer]![index]!));
    return lowest(ranked, k);
  });
}

/**
 * Removes `rate` of the weights that remain (rounded to the nearest weight), smallest |w|
 * first or at random; ties go by position, so the result is the same everywhere. The last
 * layer always uses `output_rate` on its own; `global` ranks the other layers together.
 */
export function prune(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const rate = num(ctx, "rate");
  const outputRate = num(ctx, "output_rate");
  const scope = str(ctx, "scope") as PruneScope;
  // Parameters added later: absent from older stages, which read them at their defaults.
  if (ctx.params["structure"] === "filter") {
    if (str(ctx, "criterion") !== "magnitude") throw new OpFailure(`structure: filter ranks filters by score (l1 or bn_scale), not by criterion ${str(ctx, "criterion")}; leave criterion at magnitude`);
    return pruneFilters(net, rate, scope, ctx.params["score"] === "bn_scale" ? "bn_scale" : "l1");
  }
  if (str(ctx, "criterion") === "magnitude") {
    return pruneByScores(net, net.layers.map((l) => Float32Array.from(l.weight, Math.abs)), rate, outputRate, scope);
  }
  const seed = num(ctx, "seed");
  return removeByGroups(net, rate, outputRate, scope, (count, k, label) => new Random(seed, `prune/${label}`).permutation(count).subarray(0, k));
}

/** The criteria that score weights by gradients, so need the tensor engine (a worker). */
const SALIENCY: ReadonlySet<string> = new Set(["snip", "grasp", "synflow"]);

export const implementations: OpImplementations = {
  prune: {
    engine: (params) => SALIENCY.has(String(params["criterion"])) && params["structure"] !== "filter",
    run: (ctx, engine) =>
      SALIENCY.has(str(ctx, "criterion")) && ctx.params["structure"] !== "filter"
        ? // saliency.ts builds on this module's removal, so it is loaded when first needed.
          onEngine(async (c, e) => ({ kind: "Net", net: (await import("./saliency.js")).pruneBySaliency(c, e) }))(ctx, engine)
        : { kind: "Net", net: prune(ctx) },
  },
};
