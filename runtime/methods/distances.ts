// Distances between two nets of the same architecture: `mask_distance` (the share of mask
// entries where they differ) and `filter_distance`.
//
// `filter_distance`: how far apart the filters two nets of the same architecture would keep
// under structured (filter) pruning by L2 norm. Plain typed-array code, no tensor engine, so
// it gives the same number everywhere.
//
// Definition. For each conv layer of C filters (output channels), each net keeps its
// k = max(1, round(keep × C)) filters of largest L2 norm (halves round up). A filter's norm is
// over its weights as stored (weight is [out, in, kh, kw], so a filter is one contiguous block
// of in·kh·kw), with the masks in force: a pruned weight counts as 0 and a filter of a masked
// channel (Layer.channels) has norm 0. Ties in norm go to the lower filter index. The layer's
// distance is 1 − |A ∩ B| / k for the kept sets A and B; the result is the average of the
// layers' distances weighted by C: 0 when both nets keep the same filters everywhere, 1 when
// they keep disjoint ones. Dense layers take no part.
//
// LoFT (Wang et al. 2023) names a filter distance that tracks when the winning filters emerge,
// but its formula is in neither the abstracts nor the released code (which never computes one;
// its prune.py ranks each block's conv1 filters by squared L2 norm and keeps half). Until the
// paper's text can be read, this overlap form of the same ranking stands in for it, and `loft`
// records it between successive syncs (LANGUAGE.md says so).
//
// Both nets must have the same conv layers (names and shapes), and at least one.

import { requireSameArchitecture, type Layer, type NetValue } from "../core/net.js";
import { highest } from "../core/select.js";
import { netInput, num, type OpContext, type OpImplementations } from "../ops/context.js";
import { OpFailure } from "../core/errors.js";

export function filterDistance(ctx: OpContext): number {
  const a = netInput(ctx, "a");
  const b = netInput(ctx, "b");
  const keep = num(ctx, "keep");
  if (!(keep > 0 && keep <= 1)) throw new Error(`internal: keep of ${ctx.stage} is ${keep}, not a fraction in (0, 1]`);
  return filterDistanceOf(a, b, keep);
}

/** The measure itself, on two nets and a kept share in (0, 1]. */
export function filterDistanceOf(a: NetValue, b: NetValue, keep: number): number {
  const convA = convLayers(a);
  const convB = convLayers(b);
  requireSameArchitecture(convA, convB, "filter_distance");
  return filterDistanceOfLayers(convA, convB, keep);
}

/** The measure over the given conv layers of two nets, in the same order and of the same shapes. */
export function filterDistanceOfLayers(convA: readonly Layer[], convB: readonly Layer[], keep: number): number {
  let weighted = 0;
  let filters = 0;
  convA.forEach((la, i) => {
    const lb = convB[i]!;
    const c = la.outputs;
    const k = Math.min(c, Math.max(1, Math.round(keep * c)));
    const keptA = kept(filterNorms(la, "a"), k);
    const keptB = kept(filterNorms(lb, "b"), k);
    let overlap = 0;
    for (let f = 0; f < c; f++) if (keptA[f] && keptB[f]) overlap++;
    weighted += (c * (k - overlap)) / k;
    filters += c;
  });
  return weighted / filters;
}

function convLayers(net: NetValue): Layer[] {
  const convs = net.layers.filter((l) => l.kind === "conv");
  if (convs.length === 0) throw new OpFailure(`filter_distance compares conv filters; ${archName(net)} has none`);
  return convs;
}

function archName(net: NetValue): string {
  const arch = net.arch as { arch?: unknown } | string | null;
  if (typeof arch === "string") return arch;
  if (arch && typeof arch === "object" && typeof arch.arch === "string") return arch.arch;
  return "this net";
}

/** Each filter's squared L2 norm (same order as the norm), with the masks in force. */
function filterNorms(l: Layer, which: string): Float64Array {
  const size = l.weight.length / l.outputs;
  const norms = new Float64Array(l.outputs);
  for (let f = 0; f < l.outputs; f++) {
    if (l.channels && l.channels[f] !== 1) continue;
    let s = 0;
    for (let j = f * size, end = j + size; j < end; j++) {
      if (l.mask[j] === 0) continue;
      const w = l.weight[j]!;
      s += w * w;
    }
    if (s !== s) throw new OpFailure(`filter_distance: layer ${l.name} of net '${which}' has weights that are not numbers (NaN); was its training diverging?`);
    norms[f] = s;
  }
  return norms;
}

/** 1 for the `k` filters of largest norm, ties going to the lower index. */
function kept(norms: Float64Array, k: number): Uint8Array {
  const out = new Uint8Array(norms.length);
  for (const f of highest(norms, k)) out[f] = 1;
  return out;
}

/** Share of mask entries, over all layers, where the two nets differ. */
export function maskDistance(ctx: OpContext): number {
  const a = netInput(ctx, "a");
  const b = netInput(ctx, "b");
  requireSameArchitecture(a.layers, b.layers, "mask_distance");
  let differ = 0;
  let total = 0;
  a.layers.forEach((la, i) => {
    const mb = b.layers[i]!.mask;
    for (let j = 0; j < la.mask.length; j++) differ += la.mask[j] === mb[j] ? 0 : 1;
    total += la.mask.length;
  });
  return total === 0 ? 0 : differ / total;
}

export const implementations: OpImplementations = {
  filter_distance: { engine: false, run: (ctx) => ({ kind: "Number", value: filterDistance(ctx) }) },
  mask_distance: { engine: false, run: (ctx) => ({ kind: "Number", value: maskDistance(ctx) }) },
};
