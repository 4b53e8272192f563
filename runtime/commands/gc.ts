// `lth gc FILE…`: removes the index entries and artifacts that no pipeline needs, under the
// store's lock, and says how much it freed (or, with --dry-run, what it would remove).
//
// What is kept: for the given pipelines, the results their current text needs (their
// planned keys); for every other pipeline recorded in the store (`pipelines/*.json`, one per
// pipeline file run against it), the results of the keys its last run recorded. A store is
// often shared (`--store`, `$LTH_STORE`), so `gc a.lth` must not throw away what `b.lth`
// needs. Removing those too takes `--only-given`. A record whose pipeline file no longer
// exists still keeps its results, and is named; `--forget-missing` drops such records and
// what only they kept.

import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { CommandIO } from "../../dsl/commands/io.js";
import { displayPath } from "../../dsl/diagnostics.js";
import { EXIT, plural } from "../../dsl/commands/io.js";
import { plan, recordedPipelines, selectStages } from "../plan.js";
import type { StageKey, Store } from "../store/store.js";
import type { StageGraph } from "../../compiler/stage.js";
import { openStore, selectedStages } from "./pipeline.js";

export interface GcOptions {
  readonly store?: string;
  readonly json?: boolean;
  /** Say what would be removed, and how many bytes, and remove nothing. */
  readonly dryRun?: boolean;
  /** Keep only what the given pipelines need: what other recorded pipelines need goes too. */
  readonly onlyGiven?: boolean;
  /** Drop the records of pipeline files that no longer exist, and what only they kept. */
  readonly forgetMissing?: boolean;
}

/** Why a stage entry is kept. */
type Keeper = "given" | "other" | "missing";

interface Removal {
  readonly stages: { key: string; op: string; digest: string }[];
  /** Artifacts that no stage entry left in the store names. */
  readonly artifacts: { digest: string; path: string; bytes: number }[];
  readonly records: string[];
}

export async function gcCommand(files: readonly string[], options: GcOptions, io: CommandIO): Promise<number> {
  const byStore = new Map<string, { store: Store; graphs: StageGraph[] }>();
  for (const file of files) {
    // Keeping what a pipeline needs requires knowing its keys: every stage must be plannable.
    const selected = selectedStages("gc", file, [], io, options.json ? "array" : undefined);
    if (!selected) return EXIT.usage;
    const store = openStore(selected.graph, options.store, io.cwd);
    const entry = byStore.get(store.root) ?? { store, graphs: [] };
    entry.graphs.push(selected.graph);
    byStore.set(store.root, entry);
  }
  const verb = options.dryRun ? "would remove" : "removed";
  let status: number = EXIT.ok;
  for (const { store, graphs } of byStore.values()) {
    // Under the lock from the start: a run finishing between the plan and the removal would lose its results.
    const release = await store.lock((m) => io.err(`lth gc: ${m}`));
    try {
      const { records: recorded, unreadable } = recordedPipelines(store);
      // What a record that cannot be read keeps is unknown: removing anything could cost its pipeline a rerun.
      if (unreadable.length > 0 && !options.onlyGiven) {
        io.err(
          `lth gc: cannot read the pipeline record ${unreadable.join(", ")}, so what its pipeline needs is unknown; nothing was removed from ${store.root}. ` +
            `Delete that record (its pipeline's next run writes it anew), or pass --only-given to keep only what the given pipelines need.`,
        );
        status = EXIT.failed;
        continue;
      }
      for (const path of unreadable) io.err(`lth gc: cannot read the pipeline record ${path}; with --only-given, what it needs is not kept anyway`);
      const given = new Set(graphs.map((g) => g.file));
      const keep = new Map<string, Keeper>();
      const objects = new Set<string>();
      // A failure record says why a key the pipelines still name failed: kept while one names it.
      const namedKeys = new Set<string>();
      for (const graph of graphs) {
        for (const p of plan(graph, store, selectStages(graph))) {
          if (p.decision.key) namedKeys.add(p.decision.key);
          if (p.decision.status !== "cached") continue;
          keep.set(p.decision.key, "given");
          objects.add(p.decision.output.digest);
        }
      }
      const others = recorded.filter((r) => !given.has(r.file));
      const missing = others.filter((r) => !existsSync(r.file));
      const forgotten = options.forgetMissing ? missing : [];
      // What the other pipelines recorded: a key kept for a pipeline whose file exists counts as
      // "other" even when a record of a deleted file names it too.
      if (!options.onlyGiven) {
        for (const r of others) {
          if (forgotten.includes(r)) continue;
          const why: Keeper = missing.includes(r) ? "missing" : "other";
          for (const key of r.keys) {
            namedKeys.add(key);
            const entry = store.getRecord(key);
            if (!entry) continue;
            if (!keep.has(key) || (keep.get(key) === "missing" && why === "other")) keep.set(key, why);
            objects.add(entry.output.digest);
          }
        }
      }

      const removal: Removal = { stages: [], artifacts: [], records: forgotten.map((r) => r.name) };
      for (const record of store.records()) {
        if (keep.has(record.key)) continue;
        removal.stages.push({ key: record.key, op: record.op, digest: record.output.digest });
      }
      const named = new Set(removal.stages.map((s) => s.digest));
      const failures = [...store.failures()].filter((f) => !namedKeys.has(f.key)).map((f) => f.key);
      for (const object of store.objects()) {
        if (objects.has(object.digest)) continue;
        removal.artifacts.push({ digest: object.digest, path: object.path, bytes: object.bytes });
      }
      const bytes = removal.artifacts.reduce((n, a) => n + a.bytes, 0);
      if (!options.dryRun) {
        for (const s of removal.stages) store.deleteRecord(s.key as StageKey);
        for (const a of removal.artifacts) rmSync(a.path, { force: true });
        for (const r of removal.records) rmSync(join(store.root, r), { force: true });
        for (const key of failures) store.deleteFailure(key);
        store.clearTemp();
      }

      const count = (k: Keeper) => [...keep.values()].filter((v) => v === k).length;
      const kept = keep.size;
      const keptForOthers = count("other");
      const keptForMissing = count("missing");
      const otherFiles = others.filter((r) => existsSync(r.file));
      if (options.json) {
        io.out(
          JSON.stringify({
            store: store.root,
            dryRun: !!options.dryRun,
            kept,
            keptForOthers,
            keptForMissing,
            removedStages: removal.stages.length,
            removedArtifacts: removal.artifacts.length,
            removedFailures: failures.length,
            bytesFreed: bytes,
            otherPipelines: others.map((r) => ({ file: r.file, exists: existsSync(r.file), stages: r.keys.length, forgotten: forgotten.includes(r) })),
            removed: { stages: removal.stages, artifacts: removal.artifacts.map(({ digest, bytes }) => ({ digest, bytes })), records: removal.records },
          }),
        );
      } else {
        const keptFor = [
          `kept ${plural(count("given"), "stage")} for the given ${files.length === 1 ? "pipeline" : "pipelines"}`,
          keptForOthers > 0 && `${keptForOthers} for ${plural(otherFiles.length, "other pipeline")} recorded in this store`,
          keptForMissing > 0 && `${keptForMissing} for pipeline files that no longer exist`,
        ]
          .filter(Boolean)
          .join(", ");
        io.out(
          `${store.root}: ${keptFor}; ${verb} ${entries(removal.stages.length)} and ${plural(removal.artifacts.length, "artifact")}, ` +
            `${megabytes(bytes)} (${bytes.toLocaleString("en")} bytes)${options.dryRun ? "; nothing was removed" : " freed"}`,
        );
        if (options.dryRun) {
          for (const s of removal.stages) io.out(`  stage entry  ${s.key}  ${s.op}`);
          for (const a of removal.artifacts) io.out(`  artifact     ${displayPath(a.path, io.cwd)}  ${a.bytes.toLocaleString("en")} bytes${named.has(a.digest) ? "" : "  (no stage entry names it)"}`);
          for (const r of removal.records) io.out(`  record       ${join(store.root, r)}`);
          for (const key of failures) io.out(`  failure      ${key}  (why a stage no pipeline names failed)`);
        }
      }
      // What the other pipelines recorded in this store lose, or keep only because they were recorded.
      const removedKeys = new Set(removal.stages.map((st) => st.key));
      const lost = new Map(others.map((r) => [r, r.keys.filter((k) => removedKeys.has(k)).length]));
      if (options.onlyGiven) {
        const losing = others.filter((r) => lost.get(r)! > 0);
        if (losing.length > 0) {
          io.err(`lth gc: --only-given: ${verb} results that ${plural(losing.length, "other pipeline")} recorded in this store need; each one's next run recomputes them:`);
          for (const r of losing) io.err(`  ${r.file}${missing.includes(r) ? " (no longer exists)" : ""}: ${entries(lost.get(r)!)}`);
        }
      }
      for (const r of missing) {
        if (forgotten.includes(r)) io.err(`lth gc: ${verb} the record of a pipeline file that no longer exists, ${r.file}, and ${entries(lost.get(r)!)} only it kept`);
        else if (!options.onlyGiven) {
          const only = r.keys.filter((k) => keep.get(k) === "missing").length;
          io.err(`lth gc: kept what a pipeline file that no longer exists recorded: ${r.file} (${entries(only)} only it needs; --forget-missing drops them and its record)`);
        }
      }
    } finally {
      await release();
    }
  }
  return status;
}

function entries(n: number): string {
  return `${n} stage ${n === 1 ? "entry" : "entries"}`;
}

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}
