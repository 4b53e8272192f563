// The content-addressed store (`.lth/`): artifacts named by the hash of their bytes, an
// index from stage key to artifact written last, and the lock that keeps two runs apart.
//
//   objects/ab/<digest>.<ext>   artifacts; the name is the SHA-256 of the content
//   stages/cd/<key>.json        index entries: "this key's output is that digest"
//   failures/cd/<key>.json      the last failure of a key that has no output, for `plan` and `show`
//   pipelines/<hash>.json       each pipeline's last run, for `plan`'s reasons
//   tmp/                        where writes happen before they are renamed into place
//   jobs/                       batch jobs' own temp folders and files (execute/slurm.ts)

import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import lockfile from "proper-lockfile";

declare const digestBrand: unique symbol;
/** SHA-256 (hex) of an artifact's bytes: its name in the store. */
export type Digest = string & { readonly [digestBrand]: true };
declare const keyBrand: unique symbol;
/** SHA-256 (hex) of everything that determines a stage's output (runtime/key.ts). */
export type StageKey = string & { readonly [keyBrand]: true };

/** Artifact file kinds: weights, masks and datasets as safetensors; metrics and numbers as JSON. */
export type ArtifactExt = "safetensors" | "json";

export interface ArtifactRef {
  readonly digest: Digest;
  readonly ext: ArtifactExt;
  readonly bytes: number;
}

/** What the index says about one finished stage. Not hashed: timings live here. */
export interface StageRecord {
  readonly key: StageKey;
  readonly op: string;
  readonly version: number;
  readonly output: ArtifactRef;
  /** The tensor backend that computed it; null for ops that use none. */
  readonly backend: string | null;
  readonly seconds: number;
  readonly finishedAt: string;
}

/**
 * Why a stage's last run failed. Kept until the key succeeds, so `plan` and `show` can say
 * so (and whether a rerun would repeat it) instead of "not computed yet".
 */
export interface FailureRecord {
  readonly key: StageKey;
  readonly op: string;
  readonly version: number;
  readonly message: string;
  /**
   * Whether the same key fails the same way again: true for what the inputs and parameters
   * decide (a NaN loss, bad data, incompatible nets, a bug); false for what the machine
   * decides (a full disk, memory, a worker that died).
   */
  readonly repeats: boolean;
  readonly backend: string | null;
  readonly failedAt: string;
}

/**
 * Heartbeat-based staleness. The heartbeat is a timer of the main process, which also runs
 * stages that need no tensor engine (reading Fashion-MNIST or CIFAR-10, augmenting, hashing
 * data files): on a loaded machine one of those can hold the event loop for seconds, and a
 * 5 s limit made a live run declare its own lock lost. A killed run on this machine is
 * taken over at once anyway (its pid is gone); only a lock from another host waits this out.
 */
const STALE_MS = 30_000;
/** How often the holder of the lock refreshes it: six heartbeats may be missed before it is stale. */
const HEARTBEAT_MS = STALE_MS / 6;
/** How long a run that finds the lock held waits before it tries again. */
const LOCK_POLL_MS = 250;
/** A file is hashed in pieces of this many bytes (1 MiB), so a large data file is never read whole. */
const DIGEST_CHUNK_BYTES = 1 << 20;

// ---------------------------------------------------------------------------------------
// The write probe: the seam through which test hooks reach the write path.
//
// Every durable write (`atomicWrite`) passes three points, and calls the installed probe at
// each, with `<kind>.<stage>`:
//   <kind>.data     half the bytes are in the temp file
//   <kind>.rename   the temp file is whole and synced, not yet renamed into place
//   <kind>.done     renamed into place, before the caller goes on
// where <kind> is object (an artifact), record (an index entry), failure (a stage's failure
// record), pipeline (a pipeline's last-run file) or lock (the store's marker file).
//
// A probe may return (nothing happens), throw (at .data and .rename the write then fails
// like a real one: its temp file is removed and a StoreWriteError naming the path is raised;
// at .done the error reaches the caller as thrown, after the file is in place) or never
// return (kill the process). There is none unless a process entry point installs one: the
// store never imports a test module. `runtime/store/faults.ts` (LTH_FAULT) is the one probe
// today, installed by `cli.ts` and the worker process `runtime/execute/worker.ts`.
// ---------------------------------------------------------------------------------------

/** What a store write is writing: the first half of a write point's name. */
export type WriteKind = "object" | "record" | "failure" | "pipeline" | "lock";
/** A named point of the write path, e.g. `object.rename`. */
export type WritePoint = `${WriteKind}.${"data" | "rename" | "done"}`;
/** Called at every write point of this process; may throw (e.g. an ENOSPC error) or kill the process. */
export type WriteProbe = (point: WritePoint) => void;

let writeProbe: WriteProbe | undefined;

/**
 * Installs `probe` for every store of this process (undefined: none, the default) and
 * returns the one it replaces. Meant for process entry points and tests, never for
 * library code.
 */
export function setWriteProbe(probe: WriteProbe | undefined): WriteProbe | undefined {
  const previous = writeProbe;
  writeProbe = probe;
  return previous;
}

export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** An artifact whose bytes no longer match its name: recompute it, never use it. */
export class DamagedArtifact extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`${path}: ${why}`);
  }
}

/**
 * A write to the store that failed (a full disk, a read-only folder). Nothing was changed:
 * the half-written temp file is gone, and what was there before is still there.
 */
export class StoreWriteError extends Error {
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    cause: unknown,
  ) {
    const why = (cause as Error).message ?? String(cause);
    const advice =
      code === "ENOSPC" || code === "EDQUOT"
        ? "the disk is full: free some space (`lth gc PIPELINE…` removes what no pipeline needs) and run again"
        : code === "EACCES" || code === "EPERM" || code === "EROFS"
          ? "the store is not writable: fix its permissions or choose another with --store"
          : "the store is unchanged; run again once this is fixed";
    super(`cannot write ${path}: ${why}; ${advice}. Nothing finished is lost.`);
    this.name = "StoreWriteError";
  }
}

export class Store {
  /**
   * `temp`: the folder (relative to the root) this process writes through, instead of
   * `tmp/`; a batch job's own, which a later run's `clearTemp` leaves alone while it runs.
   */
  constructor(
    readonly root: string,
    private readonly temp = "tmp",
  ) {}

  objectPath(ref: { digest: Digest; ext: ArtifactExt }): string {
    return join(this.root, "objects", ref.digest.slice(0, 2), `${ref.digest}.${ref.ext}`);
  }

  private recordPath(key: StageKey): string {
    return join(this.root, "stages", key.slice(0, 2), `${key}.json`);
  }

  /** A fresh folder under tmp/ for one write; the caller renames out of it. */
  private tempDir(): string {
    const dir = join(this.root, this.temp, `${process.pid}-${randomBytes(6).toString("hex")}`);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /**
   * Writes `bytes` durably to `path` by way of a temp folder, so `path` is whole or absent.
   * Any failure leaves `path` as it was and throws a StoreWriteError naming it.
   */
  private atomicWrite(path: string, bytes: Uint8Array | string, kind: WriteKind): void {
    let dir: string | undefined;
    try {
      dir = this.tempDir();
      const temp = join(dir, "content");
      const fd = openSync(temp, "w");
      try {
        const data = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
        const half = data.length >> 1;
        for (let off = 0; off < half; ) off += writeSync(fd, data, off, half - off);
        writeProbe?.(`${kind}.data`);
        for (let off = half; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      writeProbe?.(`${kind}.rename`);
      mkdirSync(dirname(path), { recursive: true });
      renameSync(temp, path);
    } catch (e) {
      throw new StoreWriteError(path, (e as NodeJS.ErrnoException).code, e);
    } finally {
      if (dir) rmSync(dir, { recursive: true, force: true });
    }
    writeProbe?.(`${kind}.done`);
  }

  /** Stores an artifact under its content hash; identical bytes are stored once. */
  putObject(bytes: Uint8Array, ext: ArtifactExt): ArtifactRef {
    const ref = { digest: sha256(bytes) as Digest, ext, bytes: bytes.length };
    const path = this.objectPath(ref);
    if (!this.intact(ref)) this.atomicWrite(path, bytes, "object");
    return ref;
  }

  /** The artifact's bytes, checked against its name. */
  readObject(ref: { digest: Digest; ext: ArtifactExt }): Uint8Array {
    const path = this.objectPath(ref);
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      throw new DamagedArtifact(path, "missing from the store");
    }
    const actual = sha256(bytes);
    if (actual !== ref.digest) throw new DamagedArtifact(path, `content hash is ${actual.slice(0, 12)}…, not ${ref.digest.slice(0, 12)}…`);
    return bytes;
  }

  /** Whether the artifact is present and whole (hashes its content). */
  intact(ref: { digest: Digest; ext: ArtifactExt }): boolean {
    try {
      this.readObject(ref);
      return true;
    } catch (e) {
      if (e instanceof DamagedArtifact) return false;
      throw e;
    }
  }

  getRecord(key: StageKey): StageRecord | undefined {
    const path = this.recordPath(key);
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch {
      return undefined;
    }
    try {
      const record = JSON.parse(text) as StageRecord;
      return record.key === key && record.output?.digest ? record : undefined;
    } catch {
      // A torn index entry cannot happen with atomic writes, but a hand-edited one can: it is absent.
      return undefined;
    }
  }

  /** Marks a stage done. Written after its artifact, so an entry always names a whole file. */
  putRecord(record: StageRecord): void {
    this.atomicWrite(this.recordPath(record.key), `${JSON.stringify(record, null, 1)}\n`, "record");
  }

  deleteRecord(key: StageKey): void {
    rmSync(this.recordPath(key), { force: true });
  }

  private failurePath(key: StageKey): string {
    return join(this.root, "failures", key.slice(0, 2), `${key}.json`);
  }

  getFailure(key: StageKey): FailureRecord | undefined {
    const failure = this.readJson<FailureRecord>(join("failures", key.slice(0, 2), `${key}.json`));
    return failure?.key === key && typeof failure.message === "string" ? failure : undefined;
  }

  putFailure(failure: FailureRecord): void {
    this.atomicWrite(this.failurePath(failure.key), `${JSON.stringify(failure, null, 1)}\n`, "failure");
  }

  /** Forgets a failure once its key has succeeded. */
  deleteFailure(key: StageKey): void {
    rmSync(this.failurePath(key), { force: true });
  }

  /** Every failure record: what `gc` keeps for needed keys and removes for others. */
  *failures(): Iterable<FailureRecord> {
    for (const key of this.keysIn("failures")) {
      const failure = this.getFailure(key);
      if (failure) yield failure;
    }
  }

  /** The keys with a `<key>.json` file below `folder` (stages/ or failures/). */
  private *keysIn(folder: "stages" | "failures"): Iterable<StageKey> {
    const dir = join(this.root, folder);
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile() && entry.name.endsWith(".json")) yield entry.name.slice(0, -5) as StageKey;
    }
  }

  readJson<T>(name: string): T | undefined {
    try {
      return JSON.parse(readFileSync(join(this.root, name), "utf8")) as T;
    } catch {
      return undefined;
    }
  }

  writeJson(name: string, value: unknown): void {
    this.atomicWrite(join(this.root, name), `${JSON.stringify(value, null, 1)}\n`, "pipeline");
  }

  *records(): Iterable<StageRecord> {
    for (const key of this.keysIn("stages")) {
      const record = this.getRecord(key);
      if (record) yield record;
    }
  }

  /** Every artifact file: path, digest and size. */
  *objects(): Iterable<{ path: string; digest: string; bytes: number }> {
    const dir = join(this.root, "objects");
    if (!existsSync(dir)) return;
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      yield { path, digest: entry.name.split(".")[0]!, bytes: statSync(path).size };
    }
  }

  /** Leftovers of writes that a killed process never finished; only safe under the lock. */
  clearTemp(): void {
    rmSync(join(this.root, "tmp"), { recursive: true, force: true });
  }

  /**
   * Takes the store's lock, waiting while another live process holds it. A lock whose
   * holder died (its heartbeat stopped) is taken over after `STALE_MS`.
   */
  async lock(onWait: (message: string) => void): Promise<() => Promise<void>> {
    mkdirSync(this.root, { recursive: true });
    const target = join(this.root, "store");
    const owner = join(this.root, "store.owner");
    if (!existsSync(target)) this.atomicWrite(target, "lth store\n", "lock");
    let waited = false;
    for (;;) {
      try {
        const release = await lockfile.lock(target, { stale: STALE_MS, update: HEARTBEAT_MS, realpath: false, onCompromised: compromised });
        try {
          // Written in place, not by way of a temp file, to keep short the moment in which a
          // killed run leaves a lock without an owner (that lock is then taken over after STALE_MS).
          writeFileSync(owner, JSON.stringify({ pid: process.pid, host: hostname() }));
        } catch (e) {
          await release();
          throw new StoreWriteError(owner, (e as NodeJS.ErrnoException).code, e);
        }
        return async () => {
          rmSync(owner, { force: true });
          await release();
        };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ELOCKED") throw e;
        // A holder on this machine that no longer exists (killed with SIGKILL) need not wait out the heartbeat.
        if (holderIsDead(owner, `${target}.lock`)) {
          rmSync(`${target}.lock`, { recursive: true, force: true });
          rmSync(owner, { force: true });
          continue;
        }
        if (!waited) onWait(`waiting for another lth process to finish with ${this.root}`);
        waited = true;
        await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
      }
    }
  }
}

/**
 * Whether the lock is held by a process of this machine that no longer exists. The owner
 * file counts only if it was written after the lock was made: a lock another process has
 * just taken over from a dead one still has the dead one's owner file for a moment.
 */
function holderIsDead(ownerFile: string, lockDir: string): boolean {
  let owner: { pid?: number; host?: string };
  try {
    if (statSync(ownerFile).mtimeMs < statSync(lockDir).birthtimeMs) return false;
    owner = JSON.parse(readFileSync(ownerFile, "utf8")) as { pid?: number; host?: string };
  } catch {
    return false;
  }
  if (owner.host !== hostname() || typeof owner.pid !== "number") return false;
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/** Content digests of files, remembered by size and modification time within one process. */
const fileDigests = new Map<string, { size: number; mtimeMs: number; digest: string }>();

/** SHA-256 of a file's content, read in pieces of `DIGEST_CHUNK_BYTES`. */
export function fileDigest(path: string): string {
  const st = statSync(path);
  const known = fileDigests.get(path);
  if (known && known.size === st.size && known.mtimeMs === st.mtimeMs) return known.digest;
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.allocUnsafe(DIGEST_CHUNK_BYTES);
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  const digest = hash.digest("hex");
  fileDigests.set(path, { size: st.size, mtimeMs: st.mtimeMs, digest });
  return digest;
}

function compromised(e: Error): void {
  // Another process took the lock over (our heartbeat stalled): stop rather than race it.
  process.stderr.write(`lth: lost the store lock (${e.message}); stopping\n`);
  process.exit(1);
}

/** Where the store lives: `--store`, else `LTH_STORE`, else `.lth/` beside the pipeline. */
export function storeDir(pipelineFile: string, option?: string): string {
  if (option) return option;
  const env = process.env["LTH_STORE"];
  if (env) return env;
  return join(dirname(pipelineFile), ".lth");
}
