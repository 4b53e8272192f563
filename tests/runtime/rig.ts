// A test rig for the runtime: a scratch folder holding a pipeline and its store, and the
// built `lth` run in a child process, with its `--json` events counted per status.
//
// Each test makes its own rig (and so its own store): a test never sees what another left.
// A rig made inside a test belongs to it: when the test finishes, the rig's child processes
// are killed (tests/support/children.ts), it refuses to start more, and its folder is removed
// if the test passed (kept for a look if it failed, or always with LTH_KEEP_RIGS=1). A rig made
// outside a test (a beforeAll's reference run) is removed after the file's last test.

import { execa, type ResultPromise } from "execa";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { whenFileFinishes, whenTestFinishes, withTest } from "../support/children.js";

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

/** A running `lth` child process, as execa gives it. */
export type Lth = ResultPromise<{ reject: false; cwd: string; env: Record<string, string> }>;

export class Rig {
  readonly dir = mkdtempSync(join(tmpdir(), "lth-rig-"));
  readonly file = join(this.dir, "pipeline.lth");
  readonly store = join(this.dir, ".lth");
  /** Set once the test that made this rig has finished. */
  private ended: string | undefined;

  constructor(text: string) {
    this.write(text);
    const remove = () => {
      if (!process.env["LTH_KEEP_RIGS"]) rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    };
    const inTest = whenTestFinishes(({ task }) => {
      this.ended = `the test that made the rig in ${this.dir} has finished`;
      // Its children are gone by now: each was registered after the rig, and test-finished hooks run last-in first-out.
      if (task.result?.state === "pass") remove();
    });
    // A rig made for a whole file (in a beforeAll) goes when the file's tests are done.
    if (!inTest) whenFileFinishes(remove);
  }

  write(text: string): void {
    writeFileSync(this.file, text);
  }

  /**
   * Fills this rig's (empty) store with a copy of another's finished stages (artifacts and
   * index entries), without training them again. The copy is this rig's own; the other is not
   * touched. Pipeline records are left out: this store knows only the runs made on it.
   */
  copyStore(from: Rig): this {
    if (existsSync(this.store)) throw new Error(`${this.store} exists: copyStore fills an empty store`);
    const skip = new Set(["tmp", "pipelines", "store.lock", "store.owner"].map((name) => join(from.store, name)));
    cpSync(from.store, this.store, { recursive: true, filter: (src) => !skip.has(src) });
    return this;
  }

  /**
   * Starts the built `lth` with `args` in the rig's folder (`nodeArgs` go to node before the
   * script). The child is killed when the current test finishes.
   */
  lth(args: string[], env: Record<string, string> = {}, options: { nodeArgs?: string[] } = {}): Lth {
    if (this.ended) throw new Error(`lth ${args.join(" ")}: ${this.ended}`);
    return withTest(execa(process.execPath, [...(options.nodeArgs ?? []), cli, ...args], { cwd: this.dir, reject: false, env }));
  }

  /** Starts `lth run --json` without waiting for it. */
  start(extra: string[] = [], env: Record<string, string> = {}): Lth {
    return this.lth(["run", this.file, "--json", "--jobs", "2", ...extra], env);
  }

  async run(extra: string[] = [], env: Record<string, string> = {}): Promise<RunResult> {
    const r = await this.start(extra, env);
    return parseRun(r.stdout, r.exitCode ?? -1, r.stderr);
  }
}

/**
 * The first line of `child`'s stdout that `matches`. Rejects, with what the child printed,
 * if the child exits before printing one: a wait never outlives what it waits on.
 */
export function untilLine(child: Lth, matches: (line: string) => boolean, what = "the line awaited"): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let pending = "";
    const onData = (chunk: Buffer) => {
      pending += chunk.toString();
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (matches(line)) {
          child.stdout.off("data", onData);
          return resolve(line);
        }
      }
    };
    child.stdout.on("data", onData);
    child.then(
      (r) => reject(new Error(`lth exited (${r.signal ?? `status ${r.exitCode}`}) before ${what}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`)),
      reject,
    );
  });
}

/** The first `--json` event of `child` that `matches`; rejects if the child exits first. */
export async function untilEvent(child: Lth, matches: (event: Record<string, unknown>) => boolean, what = "the event awaited"): Promise<Record<string, unknown>> {
  const line = await untilLine(child, (l) => l.startsWith("{") && matches(JSON.parse(l) as Record<string, unknown>), what);
  return JSON.parse(line) as Record<string, unknown>;
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
