// Hand-built op contexts, tiny datasets and nets for calling the runtime's ops directly,
// plus small readers over masks and weights, so the op tests state claims, not plumbing.

import type { ParamValue } from "../../compiler/stage.js";
import { encodeArtifact, type Artifact } from "../../runtime/artifacts.js";
import type { Layer, NetValue } from "../../runtime/core/net.js";
import type { DatasetValue } from "../../runtime/core/dataset.js";
import type { OpContext } from "../../runtime/ops/context.js";
import { synthetic } from "../../runtime/ops/datasets.js";
import { init } from "../../runtime/methods/nets.js";
import { prune } from "../../runtime/methods/pruning.js";
import { OpFailure } from "../../runtime/core/errors.js";

type Input = NetValue | DatasetValue | number;

function artifact(v: Input): Artifact {
  if (typeof v === "number") return { kind: "Number", value: v };
  if ("layers" in v) return { kind: "Net", net: v };
  return { kind: "Dataset", dataset: v };
}

/** An op's context as the executor builds it: normalised parameters and wrapped inputs. */
export function ctx(params: Record<string, ParamValue>, inputs: Record<string, Input> = {}): OpContext {
  return {
    stage: "t",
    params,
    inputs: Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, artifact(v)])),
    files: {},
    progress: () => {},
  };
}

/** A seeded Gaussian mixture: 200 examples, 8 features, 3 well-separated classes by default. */
export function data(over: Partial<Record<"n" | "features" | "classes" | "seed" | "noise", number>> = {}): DatasetValue {
  return synthetic(ctx({ n: 200, features: 8, classes: 3, seed: 3, noise: 0.1, ...over }));
}

/** A fresh dense net for `d`. */
export function net(d: DatasetValue, over: { hidden?: number[]; seed?: number; scheme?: "glorot" | "he" } = {}): NetValue {
  return init(ctx({ arch: { arch: "mlp", hidden: over.hidden ?? [16, 8] }, scheme: over.scheme ?? "glorot", seed: over.seed ?? 7 }, { data: d }));
}

export interface PruneParams {
  rate: number;
  scope?: "layerwise" | "global";
  criterion?: "magnitude" | "random";
  output_rate?: number;
  seed?: number;
}

/** `prune` with the language's defaults (output_rate defaults to rate). */
export function pruned(n: NetValue, p: PruneParams): NetValue {
  return prune(
    ctx(
      { rate: p.rate, scope: p.scope ?? "layerwise", criterion: p.criterion ?? "magnitude", output_rate: p.output_rate ?? p.rate, seed: p.seed ?? 0 },
      { net: n },
    ),
  );
}

/** The same net with the given layers' weights replaced (masks reset to all alive). */
export function withWeights(n: NetValue, weights: readonly (readonly number[])[]): NetValue {
  const layers = n.layers.map((l, i): Layer => {
    const w = weights[i];
    if (!w) return l;
    if (w.length !== l.weight.length) throw new Error(`layer ${l.name} has ${l.weight.length} weights, not ${w.length}`);
    return { ...l, weight: Float32Array.from(w), mask: new Uint8Array(w.length).fill(1) };
  });
  return { ...n, layers };
}

/** The same net with its masks replaced (weights zeroed where the mask is 0). */
export function withMasks(n: NetValue, masks: readonly (readonly number[])[]): NetValue {
  const layers = n.layers.map((l, i): Layer => {
    const m = masks[i];
    if (!m) return l;
    return { ...l, mask: Uint8Array.from(m), weight: Float32Array.from(l.weight, (w, j) => (m[j] ? w : 0)) };
  });
  return { ...n, layers };
}

export function bytes(a: NetValue | DatasetValue): Buffer {
  return Buffer.from(encodeArtifact(artifact(a)));
}

/** Live weights per layer. */
export function alive(n: NetValue): number[] {
  return n.layers.map((l) => l.mask.reduce((a, b) => a + b, 0));
}

/** Indexes where a layer's mask is 0. */
export function prunedIndexes(l: Layer): number[] {
  const out: number[] = [];
  l.mask.forEach((m, i) => {
    if (!m) out.push(i);
  });
  return out;
}

/** Weights at pruned positions that are not exactly +0 or -0. */
export function nonzeroPruned(n: NetValue): number {
  let bad = 0;
  for (const l of n.layers) l.mask.forEach((m, i) => (bad += m === 0 && l.weight[i] !== 0 ? 1 : 0));
  return bad;
}

export function masksOf(n: NetValue): number[][] {
  return n.layers.map((l) => Array.from(l.mask));
}

/** A layer's live weights, sorted: what moving a mask with its weights must preserve. */
export function aliveValues(l: Layer): number[] {
  return Array.from(l.weight)
    .filter((_, i) => l.mask[i])
    .sort((a, b) => a - b);
}

/** train's parameters with the language's defaults; 160 examples in batches of 32 make 5 steps an epoch. */
export function trainParams(over: Record<string, ParamValue> = {}): Record<string, ParamValue> {
  return {
    length: { epochs: 3 },
    lr: 0.1,
    batch: 32,
    optimizer: "sgd",
    momentum: 0.9,
    weight_decay: 0,
    schedule: "constant",
    warmup: { steps: 0 },
    seed: 0,
    ...over,
  };
}

/** The OpFailure `f` throws (any other outcome fails the test). */
export function opFailure(f: () => unknown): OpFailure {
  try {
    f();
  } catch (e) {
    if (e instanceof OpFailure) return e;
    throw e;
  }
  throw new Error("expected an OpFailure");
}
