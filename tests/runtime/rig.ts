// A test rig for the runtime: a scratch folder holding a pipeline and its store, and the
// built `lth` run in a child process, with its `--json` events counted per status.

import { execa, type ResultPromise } from "execa";
import { mkdtempSync, writeFileSync } from "node:fs";
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

  lth(args: string[]): ResultPromise<{ reject: false; cwd: string }> {
    return execa(process.execPath, [cli, ...args], { cwd: this.dir, reject: false });
  }

  /** Starts `lth run --json` without waiting for it. */
  start(extra: string[] = []): ResultPromise<{ reject: false; cwd: string }> {
    return this.lth(["run", this.file, "--json", "--jobs", "2", ...extra]);
  }

  async run(extra: string[] = []): Promise<RunResult> {
    const r = await this.start(extra);
    return parseRun(r.stdout, r.exitCode ?? -1, r.stderr);
  }
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
