// Golden outputs: the cache's promise is "the same key, the same bytes". Each stage of
// tests/fixtures/golden/golden.lth (one per op and per variant with its own code path) runs
// on the cpu and wasm backends; its output digest is checked in per backend beside its key.
// The same key with other bytes fails, naming the op to bump: a store made before would
// otherwise serve the old result. A changed key (a bumped version, a new default, an input
// that changed) is recorded with LTH_UPDATE_GOLDEN=1; a missing record fails without it.

import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { stagesInOrder } from "../../compiler/graph-format.js";
import type { StageGraph } from "../../compiler/stage.js";
import { checkProgram } from "../../dsl/check/index.js";
import { loadEngine } from "../../runtime/engine/backend.js";
import { KEY_FORMAT, stageKey } from "../../runtime/key.js";
import { IMPLEMENTATIONS, needsEngine } from "../../runtime/ops/index.js";
import { Decider } from "../../runtime/plan.js";
import { Random } from "../../runtime/core/random.js";
import { RECORD, TEST_FILE, TRAIN_FILES } from "../../runtime/data/cifar10.js";
import { RECORD as CIFAR100_RECORD, TEST_FILE as CIFAR100_TEST_FILE, TRAIN_FILE as CIFAR100_TRAIN_FILE } from "../../runtime/data/cifar100.js";
import { Store } from "../../runtime/store/store.js";
import { runTask } from "../../runtime/execute/task.js";

const fixture = join(import.meta.dirname, "../fixtures/golden");
const UPDATE = process.env["LTH_UPDATE_GOLDEN"] === "1";

interface GoldenStage {
  readonly op: string;
  readonly version: number;
  readonly key: string;
  readonly digest: string;
}
interface GoldenFile {
  readonly keyFormat: number;
  readonly stages: Record<string, GoldenStage>;
}

/** An IDX file (big-endian header: two zero bytes, the type 0x08 for bytes, the rank, each dimension). */
function idxFile(dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt8(0x08, 2);
  header.writeUInt8(dims.length, 3);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([header, data]);
}

/** The pipeline and the data files it reads, written from a seed into a fresh folder. */
function scratch(): { file: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), "lth-golden-"));
  cpSync(join(fixture, "golden.lth"), join(dir, "golden.lth"));
  const random = new Random(11, "golden/data");
  const bytes = (n: number, below = 256) => Uint8Array.from({ length: n }, () => random.int(below));
  const side = 8;
  for (const [name, n] of [["train", 40], ["test", 20]] as const) {
    writeFileSync(join(dir, `${name}-images`), idxFile([n, side, side], bytes(n * side * side)));
    writeFileSync(join(dir, `${name}-labels`), idxFile([n], bytes(n, 4)));
  }
  mkdirSync(join(dir, "cifar"));
  const records = (n: number) => {
    const out = Buffer.alloc(n * RECORD);
    for (let r = 0; r < n; r++) {
      out[r * RECORD] = r % 10;
      out.set(bytes(RECORD - 1), r * RECORD + 1);
    }
    return out;
  };
  for (const f of TRAIN_FILES) writeFileSync(join(dir, "cifar", f), records(4));
  writeFileSync(join(dir, "cifar", TEST_FILE), records(8));
  // CIFAR-100's records: a coarse and a fine label byte, then the image.
  mkdirSync(join(dir, "cifar100"));
  const records100 = (n: number) => {
    const out = Buffer.alloc(n * CIFAR100_RECORD);
    for (let r = 0; r < n; r++) {
      out[r * CIFAR100_RECORD] = r % 20;
      out[r * CIFAR100_RECORD + 1] = (r * 7) % 100;
      out.set(bytes(CIFAR100_RECORD - 2), r * CIFAR100_RECORD + 2);
    }
    return out;
  };
  writeFileSync(join(dir, "cifar100", CIFAR100_TRAIN_FILE), records100(12));
  writeFileSync(join(dir, "cifar100", CIFAR100_TEST_FILE), records100(6));
  return { file: join(dir, "golden.lth"), dir };
}

function compiled(file: string): StageGraph {
  const checked = checkProgram(file);
  if ("problem" in checked || !checked.ok) throw new Error(`${file} does not check: ${JSON.stringify("problem" in checked ? checked.problem : checked.diagnostics)}`);
  return compile(checked.program);
}

/** Every stage of the pipeline run in order, in this process: its op, version, key and output digest. */
async function runAll(backend: "cpu" | "wasm"): Promise<Record<string, GoldenStage>> {
  const { file, dir } = scratch();
  const graph = compiled(file);
  const store = new Store(join(dir, ".lth"));
  const decider = new Decider(graph, store);
  const engine = await loadEngine(backend);
  const out: Record<string, GoldenStage> = {};
  for (const stage of stagesInOrder(graph)) {
    const f = decider.fingerprint(stage)!;
    const key = stageKey(f);
    const inputs = Object.fromEntries(Object.entries(stage.inputs).map(([param, id]) => [param, { ref: decider.outputs.get(id)!, kind: graph.graph.getNodeAttribute(id, "result") }]));
    const ref = await runTask({ id: stage.id, op: stage.op, key, result: stage.result, params: stage.params, inputs, files: stage.files }, store, needsEngine(stage) ? engine : undefined, () => {});
    decider.outputs.set(stage.id, ref);
    out[stage.id] = { op: stage.op, version: stage.version, key, digest: ref.digest };
  }
  return out;
}

/** What is wrong with `now` against the checked-in records; what may be recorded anew. */
function compare(backend: string, golden: GoldenFile | undefined, now: Record<string, GoldenStage>): { stale: string[]; unrecorded: string[] } {
  const stale: string[] = [];
  const unrecorded: string[] = [];
  const formatChanged = golden?.keyFormat !== KEY_FORMAT;
  for (const [id, s] of Object.entries(now)) {
    const before = golden?.stages[id];
    if (before && !formatChanged && before.key === s.key && before.digest !== s.digest) {
      stale.push(
        `'${id}' (${s.op}, version ${s.version}) wrote other bytes on ${backend} under the same key (${before.digest.slice(0, 12)} → ${s.digest.slice(0, 12)}): ` +
          `${s.op}'s output changed, so bump its version in dsl/ops.ts, then record with LTH_UPDATE_GOLDEN=1`,
      );
    } else if (!before || before.key !== s.key || formatChanged) {
      unrecorded.push(`'${id}' (${s.op}, version ${s.version}) has ${before ? "a new key" : "no record"} on ${backend}`);
    }
  }
  return { stale, unrecorded };
}

describe("golden outputs: the same stage key always gives the same bytes", () => {
  it("covers every op that computes something, and each of prune's criteria", () => {
    const graph = compiled(scratch().file);
    const stages = stagesInOrder(graph);
    const ops = new Set(stages.map((s) => s.op));
    expect([...IMPLEMENTATIONS.keys()].filter((op) => !ops.has(op))).toEqual([]);
    const criteria = new Set(stages.filter((s) => s.op === "prune").map((s) => s.params["criterion"]));
    expect([...criteria].sort()).toEqual(["grasp", "magnitude", "random", "snip", "synflow"]);
  });

  for (const backend of ["cpu", "wasm"] as const) {
    it(`on ${backend}: every op's output under a recorded key is the recorded one`, async () => {
      const path = join(fixture, `${backend}.json`);
      const golden = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as GoldenFile) : undefined;
      const now = await runAll(backend);
      const { stale, unrecorded } = compare(backend, golden, now);
      expect(stale, stale.join("\n")).toEqual([]);
      if (UPDATE) {
        writeFileSync(path, `${JSON.stringify({ keyFormat: KEY_FORMAT, stages: now } satisfies GoldenFile, null, 1)}\n`);
        return;
      }
      expect(unrecorded, `${unrecorded.join("\n")}\nrecord them with LTH_UPDATE_GOLDEN=1 npx vitest run tests/runtime/golden.test.ts`).toEqual([]);
      // Stages the file no longer has are dropped from the record, also only on update.
      expect(Object.keys(golden?.stages ?? {}).filter((id) => !(id in now))).toEqual([]);
    });
  }
});
