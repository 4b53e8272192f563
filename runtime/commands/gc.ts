// `lth gc FILE…`: removes every index entry and artifact that none of the given pipelines
// needs now (their current keys and outputs), under the store's lock, and says how much it freed.

import { rmSync } from "node:fs";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { plan, selectStages } from "../plan.js";
import type { Store } from "../store/store.js";
import type { StageGraph } from "../../compiler/stage.js";
import { openStore, selectedStages } from "./pipeline.js";

export async function gcCommand(files: readonly string[], options: { store?: string; json?: boolean }, io: CommandIO): Promise<number> {
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
  const results = [];
  for (const { store, graphs } of byStore.values()) {
    // Under the lock from the start: a run finishing between the plan and the removal would lose its results.
    const release = await store.lock((m) => io.err(`lth gc: ${m}`));
    try {
      const keep = new Set<string>();
      const objects = new Set<string>();
      for (const graph of graphs) {
        for (const p of plan(graph, store, selectStages(graph))) {
          if (p.decision.status !== "cached") continue;
          keep.add(p.decision.key);
          objects.add(p.decision.output.digest);
        }
      }
      let records = 0;
      let removed = 0;
      let freed = 0;
      for (const record of store.records()) {
        if (keep.has(record.key)) continue;
        store.deleteRecord(record.key);
        records++;
      }
      for (const object of store.objects()) {
        if (objects.has(object.digest)) continue;
        rmSync(object.path, { force: true });
        removed++;
        freed += object.bytes;
      }
      store.clearTemp();
      results.push({ store: store.root, kept: keep.size, removedStages: records, removedArtifacts: removed, bytesFreed: freed });
    } finally {
      await release();
    }
  }
  for (const r of results) {
    io.out(
      options.json
        ? JSON.stringify(r)
        : `${r.store}: kept ${r.kept} stages; removed ${r.removedStages} stage entries and ${r.removedArtifacts} artifacts, ${(r.bytesFreed / 1e6).toFixed(1)} MB freed`,
    );
  }
  return EXIT.ok;
}
