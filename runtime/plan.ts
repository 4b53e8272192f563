// The rerun decision as a value: for each stage, `cached` or `run` with a typed reason.
// `lth plan` prints it; the executor makes the same decision stage by stage as inputs land.

import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { showParam, stagesInOrder } from "../compiler/graph-format.js";
import { stagesOf, type ParamValue, type Stage, type StageGraph, type StageId } from "../compiler/stage.js";
import { canonicalJson, fingerprint, stageKey, type Fingerprint } from "./key.js";
import { decodeArtifact, type Artifact } from "./artifacts.js";
import { IMPLEMENTATIONS, notRunnable } from "./ops/index.js";
import { fileDigest, sha256, type ArtifactRef, type Digest, type StageKey, type StageRecord, type Store } from "./store/store.js";

/** Why a stage must run. */
export type RunReason =
  /** Nothing for this stage was ever computed in this store (its key is known). */
  | { readonly kind: "new"; readonly after?: undefined }
  | { readonly kind: "params-changed"; readonly changes: readonly { param: string; before?: ParamValue; after?: ParamValue }[] }
  /** An input's content differs from last time (named by parameter). */
  | { readonly kind: "input-changed"; readonly inputs: readonly string[] }
  /** A file a path parameter names has different content. */
  | { readonly kind: "file-changed"; readonly files: readonly string[] }
  | { readonly kind: "op-version-changed"; readonly before: number; readonly after: number }
  /** The stored result failed its hash check: it is recomputed, never used. */
  | { readonly kind: "damaged"; readonly detail: string }
  /** This very key failed when last run (the store kept why); `repeats`: it would fail the same way. */
  | { readonly kind: "failed"; readonly message: string; readonly repeats: boolean; readonly failedAt: string }
  /** Same inputs as last time, but no result in the store (removed, or a run stopped first). */
  | { readonly kind: "missing" }
  /** An input reruns first; its new output decides (the same bytes leave this stage cached). */
  | { readonly kind: "upstream"; readonly inputs: readonly StageId[] }
  /** Never run in this store by this pipeline, and an input runs first: it will run, once its inputs have. */
  | { readonly kind: "new"; readonly after: readonly StageId[] };

export type Decision =
  | { readonly status: "cached"; readonly key: StageKey; readonly output: ArtifactRef; readonly record: StageRecord }
  | { readonly status: "run"; readonly key?: StageKey; readonly reason: RunReason };

export interface PlannedStage {
  readonly stage: Stage;
  readonly decision: Decision;
}

/** A stage that cannot run at all (an op this version lacks); found before anything runs. */
export interface PlanProblem {
  readonly stage: Stage;
  readonly message: string;
}

/** What the last run of a pipeline computed for each stage: the baseline for reasons. */
interface PipelineRecord {
  readonly file: string;
  readonly stages: Record<string, Fingerprint & { key: StageKey }>;
}

/** Where the store keeps pipeline records: one per pipeline file run against it. */
const RECORDS = "pipelines";

function recordName(file: string): string {
  return `${RECORDS}/${sha256(file).slice(0, 32)}.json`;
}

/** A pipeline's record of its last run in this store, as `gc` reads it: which keys it needs. */
export interface RecordedPipeline {
  /** The record's name in the store (`pipelines/<hash>.json`). */
  readonly name: string;
  /** The pipeline file, as an absolute path. */
  readonly file: string;
  readonly keys: readonly StageKey[];
}

/** The pipeline records in a store, and the paths of those that cannot be read (hand-edited, say). */
export function recordedPipelines(store: Store): { records: RecordedPipeline[]; unreadable: string[] } {
  const dir = join(store.root, RECORDS);
  const records: RecordedPipeline[] = [];
  const unreadable: string[] = [];
  if (!existsSync(dir)) return { records, unreadable };
  for (const name of readdirSync(dir).filter((n) => n.endsWith(".json")).sort()) {
    const rel = `${RECORDS}/${name}`;
    const record = store.readJson<Partial<PipelineRecord>>(rel);
    const stages = record?.stages;
    if (!record || typeof record.file !== "string" || typeof stages !== "object" || stages === null) {
      unreadable.push(join(store.root, rel));
      continue;
    }
    const keys = Object.values(stages as Record<string, { key?: unknown }>)
      .map((st) => st?.key)
      .filter((k): k is StageKey => typeof k === "string");
    records.push({ name: rel, file: record.file, keys });
  }
  return { records, unreadable };
}

/** The stages needed for the given names (default: every stage), in dependency order. */
export function selectStages(graph: StageGraph, targets?: readonly StageId[]): Stage[] {
  const all = stagesInOrder(graph);
  if (!targets) return all;
  const needed = new Set<string>();
  const visit = (id: string) => {
    if (needed.has(id)) return;
    needed.add(id);
    graph.graph.forEachInNeighbor(id, visit);
  };
  targets.forEach(visit);
  return all.filter((s) => needed.has(s.id));
}

/** The files a stage reads, by name: its path parameters, or what its op says a folder holds. */
function filesRead(stage: Stage): Record<string, string> {
  return IMPLEMENTATIONS.get(stage.op)?.reads?.(stage) ?? stage.files;
}

/** Stage ids for `run`/`show` names: a binding, a stage id (`rounds[2].pruned`), or a name a stage carries. */
export function resolveTargets(graph: StageGraph, names: readonly string[]): { ids: StageId[] } | { unknown: string } {
  const ids: StageId[] = [];
  for (const name of names) {
    const binding = graph.bindings.get(name);
    if (binding) ids.push(...stagesOf(binding));
    else if (graph.graph.hasNode(name)) ids.push(name as StageId);
    else {
      const named = graph.graph.findNode((_id, attrs) => attrs.names.includes(name));
      if (!named) return { unknown: name };
      ids.push(named as StageId);
    }
  }
  return { ids };
}

export function problems(stages: readonly Stage[]): PlanProblem[] {
  const out: PlanProblem[] = [];
  for (const stage of stages) {
    const absent = Object.values(filesRead(stage)).find((path) => !existsSync(path));
    const message = notRunnable(stage.op) ?? (absent && `${absent}: no such file`) ?? IMPLEMENTATIONS.get(stage.op)?.validate?.(stage);
    if (message) out.push({ stage, message });
  }
  return out;
}

/**
 * Computes keys and decisions as outputs become known. The planner feeds it cached
 * outputs only; the executor also feeds it what it just ran.
 */
export class Decider {
  private readonly previous: PipelineRecord;
  private readonly current: Record<string, Fingerprint & { key: StageKey }> = {};
  /** The output of each stage whose output is known (cached or just computed). */
  readonly outputs = new Map<StageId, ArtifactRef>();

  constructor(
    private readonly graph: StageGraph,
    private readonly store: Store,
  ) {
    this.previous = store.readJson<PipelineRecord>(recordName(graph.file)) ?? { file: graph.file, stages: {} };
  }

  /** Undefined while an input's output is unknown. Throws for an unreadable input file (the stage fails). */
  fingerprint(stage: Stage): Fingerprint | undefined {
    const inputs: Record<string, Digest> = {};
    for (const [param, id] of Object.entries(stage.inputs)) {
      const out = this.outputs.get(id);
      if (!out) return undefined;
      inputs[param] = out.digest;
    }
    const files: Record<string, string> = {};
    for (const [name, path] of Object.entries(filesRead(stage))) files[name] = fileDigest(path);
    const sources = IMPLEMENTATIONS.get(stage.op)?.sources?.() ?? {};
    return fingerprint(stage, { inputs, files, sources });
  }

  /** The decision for a stage whose inputs are all known. */
  decide(stage: Stage, f: Fingerprint): Decision {
    const key = stageKey(f);
    this.current[stage.id] = { ...f, key };
    const record = this.store.getRecord(key);
    if (record) {
      if (this.store.intact(record.output)) return { status: "cached", key, output: record.output, record };
      const path = this.store.objectPath(record.output);
      return { status: "run", key, reason: { kind: "damaged", detail: `${path} ${existsSync(path) ? "does not match its content hash" : "is missing from the store"}` } };
    }
    const failure = this.store.getFailure(key);
    if (failure) return { status: "run", key, reason: { kind: "failed", message: failure.message, repeats: failure.repeats, failedAt: failure.failedAt } };
    return { status: "run", key, reason: this.reason(stage, f) };
  }

  private reason(stage: Stage, f: Fingerprint): RunReason {
    const before = this.previous.stages[stage.id];
    if (!before || before.op !== f.op) return { kind: "new" };
    if (before.version !== f.version) return { kind: "op-version-changed", before: before.version, after: f.version };
    const params = new Set([...Object.keys(before.params), ...Object.keys(f.params)]);
    const changes = [...params]
      .filter((p) => canonicalJson(before.params[p]) !== canonicalJson(f.params[p]))
      .map((param) => ({ param, before: before.params[param], after: f.params[param] }));
    if (changes.length) return { kind: "params-changed", changes };
    const inputs = Object.keys(f.inputs).filter((p) => before.inputs[p] !== f.inputs[p]);
    if (inputs.length) return { kind: "input-changed", inputs };
    const files = [...Object.keys(f.files), ...Object.keys(f.sources)].filter((p) => (before.files[p] ?? before.sources[p]) !== (f.files[p] ?? f.sources[p]));
    if (files.length) return { kind: "file-changed", files };
    return { kind: "missing" };
  }

  /**
   * Whether the stage may turn out cached once its inputs are known: this pipeline computed it
   * here before, or the pipeline never ran here and the store holds results (another
   * pipeline's, or a copy's) its key may match. A stage this pipeline adds, and every stage
   * of a fresh store, is new.
   */
  ranBefore(stage: Stage): boolean {
    if (this.previous.stages[stage.id]?.op === stage.op) return true;
    return !this.recorded && this.storeHasResults();
  }

  private get recorded(): boolean {
    return Object.keys(this.previous.stages).length > 0;
  }

  private hasResults: boolean | undefined;
  private storeHasResults(): boolean {
    if (this.hasResults === undefined) {
      const dir = join(this.store.root, "stages");
      this.hasResults = existsSync(dir) && readdirSync(dir).length > 0;
    }
    return this.hasResults;
  }

  /** Remembers this run's fingerprints as the baseline of the next plan. */
  save(): void {
    this.store.writeJson(recordName(this.graph.file), { file: this.graph.file, stages: { ...this.previous.stages, ...this.current } });
  }
}

/** The plan of a whole run, without running anything. */
export function plan(graph: StageGraph, store: Store, stages: readonly Stage[], decider = new Decider(graph, store)): PlannedStage[] {
  const planned: PlannedStage[] = [];
  const willRun = new Set<StageId>();
  for (const stage of stages) {
    const f = decider.fingerprint(stage);
    if (!f) {
      const inputs = [...new Set(Object.values(stage.inputs))].filter((id) => willRun.has(id));
      willRun.add(stage.id);
      // A stage this pipeline never ran here has nothing its inputs' output could match: it runs.
      const reason: RunReason = decider.ranBefore(stage) ? { kind: "upstream", inputs } : { kind: "new", after: inputs };
      planned.push({ stage, decision: { status: "run", reason } });
      continue;
    }
    const decision = decider.decide(stage, f);
    if (decision.status === "cached") decider.outputs.set(stage.id, decision.output);
    else willRun.add(stage.id);
    planned.push({ stage, decision });
  }
  return planned;
}

export function describeReason(r: RunReason, op: string): string {
  const show = (param: string, v: ParamValue | undefined) => showParam(op, param, v);
  switch (r.kind) {
    case "new":
      return r.after?.length ? `new: never computed in this store (after ${r.after.join(", ")})` : "new: never computed in this store";
    case "params-changed":
      return `params changed: ${r.changes.map((c) => `${c.param} ${show(c.param, c.before)} → ${show(c.param, c.after)}`).join(", ")}`;
    case "input-changed":
      return `input changed: ${r.inputs.join(", ")}`;
    case "file-changed":
      return `file changed: ${r.files.join(", ")}`;
    case "op-version-changed":
      return `op version changed: ${r.before} → ${r.after}`;
    case "damaged":
      return `damaged: ${r.detail}`;
    case "failed":
      return `failed when last run (${r.failedAt}): ${failureSentence(r, "a rerun")}`;
    case "missing":
      return "missing: same inputs as last run, but no result in the store";
    case "upstream":
      return `waits for ${r.inputs.join(", ")} (unchanged output there would leave this cached)`;
  }
}

/**
 * A failure as people read it: the message's first line (a bug's stack trace stays in the
 * store's record), then whether running again (`rerun`, in words or as a command) can help.
 */
function failureSentence(f: Extract<RunReason, { kind: "failed" }>, rerun: string): string {
  const advice = f.repeats ? "a rerun repeats it unless its parameters, inputs or lth's version change" : `the cause was the machine (disk, memory), so ${rerun} may succeed`;
  return `${f.message.split("\n")[0]!}; ${advice}`;
}

/** A result that is asked for before it is computed: the message says what to run. */
export class NotComputed extends Error {}

export interface CachedResult {
  readonly stage: Stage;
  readonly artifact: Artifact;
  readonly path: string;
  readonly backend: string | null;
}

/** Why a stage's result cannot be shown: the sentence for a person, and whether running again could help. */
export interface Unavailable {
  readonly id: StageId;
  readonly why: string;
  readonly status: "not computed" | "damaged" | "failed";
}

/** For a stage that is not cached: why, naming a failed input when that is what stands in the way. */
/** The inputs a stage waits on: those of `upstream`, and of `new` while an input runs first. */
function waitsFor(r: RunReason | undefined): readonly StageId[] | undefined {
  if (r?.kind === "upstream") return r.inputs;
  if (r?.kind === "new" && r.after) return r.after;
  return undefined;
}

function unavailable(decisions: ReadonlyMap<StageId, PlannedStage>, id: StageId, runHint: string): Unavailable {
  const reason = (d: PlannedStage | undefined) => (d?.decision.status === "run" ? d.decision.reason : undefined);
  const r = reason(decisions.get(id));
  if (r?.kind === "damaged") return { id, status: "damaged", why: `its stored result is damaged (${r.detail}), so it is not shown: run \`${runHint}\` to recompute it` };
  const failed = (f: Extract<RunReason, { kind: "failed" }>) => failureSentence(f, `\`${runHint}\``);
  if (r?.kind === "failed") return { id, status: "failed", why: `it failed when last run: ${failed(r)}` };
  // Waiting on an input: the first input upstream that failed is why nothing below it exists.
  const seen = new Set<StageId>();
  const search = (at: StageId): [StageId, Extract<RunReason, { kind: "failed" }>] | undefined => {
    if (seen.has(at)) return undefined;
    seen.add(at);
    const here = reason(decisions.get(at));
    if (here?.kind === "failed") return [at, here];
    const inputs = waitsFor(here);
    if (!inputs) return undefined;
    for (const input of inputs) {
      const found = search(input);
      if (found) return found;
    }
    return undefined;
  };
  const upstream = waitsFor(r)?.map(search).find((x) => x);
  if (upstream) return { id, status: "failed", why: `it is not computed: its input '${upstream[0]}' failed when last run: ${failed(upstream[1])}` };
  return { id, status: "not computed", why: `it is not computed yet: run \`${runHint}\` to compute it` };
}

/**
 * A reader of the stages' computed results, each hash-checked as it is read; for one that
 * is not there (not run, failed, damaged), why not.
 */
export function readResults(graph: StageGraph, store: Store, ids: readonly StageId[], runHint: string): (id: StageId) => CachedResult | Unavailable {
  return resultsOf(new Map(plan(graph, store, selectStages(graph, ids)).map((p) => [p.stage.id, p])), store, runHint);
}

/** `readResults` over decisions already made (a plan of every stage the reads need). */
export function resultsOf(decisions: ReadonlyMap<StageId, PlannedStage>, store: Store, runHint: string): (id: StageId) => CachedResult | Unavailable {
  return (id) => {
    const p = decisions.get(id)!;
    if (p.decision.status !== "cached") return unavailable(decisions, id, runHint);
    const ref = p.decision.output;
    const path = store.objectPath(ref);
    return { stage: p.stage, artifact: decodeArtifact(p.stage.result, store.readObject(ref), path), path, backend: p.decision.record.backend };
  };
}

/** Like `readResults`, but a result that is not there throws `NotComputed` saying why. */
export function cachedResults(graph: StageGraph, store: Store, ids: readonly StageId[], runHint: string): (id: StageId) => CachedResult {
  const read = readResults(graph, store, ids, runHint);
  return (id) => {
    const result = read(id);
    if ("why" in result) throw new NotComputed(`'${id}': ${result.why}`);
    return result;
  };
}

/**
 * How many stages will certainly run and how many may: a stage waiting on an input that
 * reruns (`upstream`) stays cached if that input's new output has the same bytes (early cutoff).
 */
export function runCounts(planned: readonly PlannedStage[]): { certain: number; maybe: number; cached: number } {
  let certain = 0;
  let maybe = 0;
  for (const p of planned) {
    if (p.decision.status === "cached") continue;
    if (p.decision.reason.kind === "upstream") maybe++;
    else certain++;
  }
  return { certain, maybe, cached: planned.length - certain - maybe };
}
