// A test rig for the runtime: a scratch folder holding a pipeline and its store, and the
// built `lth` run in a child process, with its `--json` events counted per status.

import { execa, type ResultPromise } from "execa";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = join(import.meta.dirname, "../..");
export const cli = join(repo, "dist/cli.js");

export interface StageEvent {
  type: "stage";
  id: string;
  op: string;
  key: string | null;
  status: "ran" | "cached" | "failed";
  blocked?: true;
  seconds: number;
  output?: string;
  backend?: string | null;
  message?: string;
}

export interface RunResult {
  exitCode: number;
  stages: StageEvent[];
  summary: { ran: number; cached: number; failed: number; blocked: number };
  /** Ids of the stages that really executed, in the order they finished. */
  ran: string[];
  keys: Map<string, string>;
  stderr: string;
  lines: Record<string, unknown>[];
}

export class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), "lth-rig-"));
  readonly file = join(this.dir, "pipeline.lth");

  constructor(text: string) {
    this.write(text);
  }

  write(text: string): void {
    writeFileSync(this.file, text);
  }

  readonly store = join(this.dir, ".lth");

  lth(args: string[], env: Record<string, string> = {}): ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }> {
    return execa(process.execPath, [cli, ...args], { cwd: this.dir, reject: false, env });
  }

  /** Starts `lth run --json` without waiting for it. */
  start(extra: string[] = [], env: Record<string, string> = {}): ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }> {
    return this.lth(["run", this.file, "--json", "--jobs", "2", ...extra], env);
  }

  async run(extra: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
    const r = await this.start(extra, env);
    return parseRun(r.stdout, r.exitCode ?? -1, r.stderr);
  }
}

/**
 * Checks a store as a crashed run may leave it, and returns how many stages it holds:
 * every file under objects/ is named by the SHA-256 of its bytes, every index entry names
 * such a file, and every pipeline record is whole JSON. (Temp leftovers are allowed: the
 * next run clears them under the lock.)
 */
export function storeConsistent(store: string): number {
  const files = (dir: string) => (existsSync(join(store, dir)) ? readdirSync(join(store, dir), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()) : []);
  for (const entry of files("objects")) {
    const bytes = readFileSync(join(entry.parentPath, entry.name));
    if (createHash("sha256").update(bytes).digest("hex") !== entry.name.split(".")[0]) throw new Error(`${entry.name}: content does not match its name`);
  }
  let stages = 0;
  for (const entry of files("stages")) {
    const record = JSON.parse(readFileSync(join(entry.parentPath, entry.name), "utf8")) as { key: string; output: { digest: string; ext: string } };
    if (`${record.key}.json` !== entry.name) throw new Error(`${entry.name}: holds the entry of ${record.key}`);
    if (!existsSync(join(store, "objects", record.output.digest.slice(0, 2), `${record.output.digest}.${record.output.ext}`))) throw new Error(`${entry.name}: names a missing artifact`);
    stages++;
  }
  for (const entry of files("pipelines")) JSON.parse(readFileSync(join(entry.parentPath, entry.name), "utf8"));
  return stages;
}

export function parseRun(stdout: string, exitCode: number, stderr: string): RunResult {
  const lines = stdout
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const stages = lines.filter((l): l is StageEvent & Record<string, unknown> => l["type"] === "stage") as unknown as StageEvent[];
  const summary = lines.find((l) => l["type"] === "summary") as RunResult["summary"] | undefined;
  if (!summary) throw new Error(`no summary line (exit ${exitCode}):\n${stdout}\n${stderr}`);
  return {
    exitCode,
    stages,
    summary,
    ran: stages.filter((s) => s.status === "ran").map((s) => s.id),
    keys: new Map(stages.map((s) => [s.id, s.key ?? ""])),
    stderr,
    lines,
  };
}

/** A small, fast IMP pipeline on synthetic data: 14 stages. */
export const SMALL_IMP = `let data = synthetic(n: 600, features: 20, classes: 4, seed: 3)
let net0 = init(mlp(hidden: [32, 16]), data, seed: 7)

defaults train { lr: 0.01, batch: 50, optimizer: adam }

let dense = train(net0, data, 2 epochs)

let rounds = repeat 3 from dense as t {
  let pruned = prune(t, 20%, output_rate: 10%)
  yield train(rewind(pruned, to: net0), data, 2 epochs)
}

let control = last(rounds) |> reinit(seed: 99) |> train(data, 1 epoch)
`;
