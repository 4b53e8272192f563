// The SLURM executor: each tensor stage is one batch job (`sbatch`), running one task with
// the one-shot worker (oneshot.ts) and writing into the same store on a filesystem the
// submitting machine and the nodes share. SLURM schedules; lth only submits, watches and
// cancels. Completion is decided by what the job leaves in the store: its exit marker (the
// output's reference, or why it failed), written after the output object. The queue is read
// with one `squeue` a cycle for all of the run's jobs, at an interval that backs off while
// nothing changes. A job that left the queue without a marker is lost after a grace period
// (shared filesystems lag), failed with SLURM's own account of it (`scontrol`, else `sacct`)
// and its log's path; node failures and preemption are resubmitted a few times.
//
// In the store, per stage key: slurm/<key>/job.json (the job file), job.log, done.json (the
// marker), progress.json; slurm/<key>/submitted.json names the job submitted for the key, so
// a run that was killed and started again re-attaches to it instead of submitting another.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { BackendChoice } from "../engine/backend.js";
import type { Store } from "../store/store.js";
import type { TrainingProgress } from "../ui/progress.js";
import type { Executor, ExecutorEvent, TaskHooks, TaskOutcome } from "./executor.js";
import { moduleCommand } from "./fork.js";
import { writeWhole, type JobFile, type JobMarker } from "./job.js";
import type { StageTask } from "./task.js";

/** Where and how to submit, from the command line or `slurm.json` beside the pipeline. */
export interface SlurmSite {
  readonly partition?: string;
  readonly account?: string;
  readonly qos?: string;
  readonly constraint?: string;
  /** How a job asks for GPUs: `--gpus=N` (the default) or `--gres=gpu:N`. */
  readonly gpuFlag?: "gpus" | "gres";
  /** Further sbatch arguments, each one argument (no shell). */
  readonly extra?: readonly string[];
}

/** What one stage's job asks for. */
export interface JobResources {
  readonly cpus: number;
  readonly gpus?: number;
  /** Memory in MiB. */
  readonly memMiB?: number;
  /** Time limit in minutes. */
  readonly minutes?: number;
}

export interface SlurmOptions {
  readonly store: Store;
  readonly backend: BackendChoice;
  readonly site: SlurmSite;
  /** A stage's resources (by default its cpus are the threads a local run would give it). */
  readonly resources: (task: StageTask) => JobResources;
  readonly onEvent: (e: ExecutorEvent) => void;
  /** Seconds between queue reads: the first interval and the most it backs off to. */
  readonly poll?: { readonly first: number; readonly max: number };
  /** Seconds a job may be out of the queue without its marker before it counts as lost. */
  readonly grace?: number;
  /** Times a stage is resubmitted after NODE_FAIL, BOOT_FAIL or PREEMPTED. */
  readonly retries?: number;
}


/** SLURM states of a job not yet ended. */
const ACTIVE = new Set(["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"]);

/**
 * Reasons a pending job gives when it can never start as asked (more CPUs, memory or GPUs
 * than any node of the partition has, a feature no node has): it is cancelled and its stage
 * failed at once with SLURM's reason, instead of waiting forever.
 */
const NEVER = new Set(["PartitionConfig", "BadConstraints", "PartitionNodeLimit", "PartitionTimeLimit", "InvalidAccount", "InvalidQOS", "QOSMaxCpuPerJobLimit", "QOSMaxGRESPerJob", "QOSMaxMemoryPerJob", "QOSMaxWallDurationPerJobLimit", "AssocMaxCpuPerJobLimit", "AssocMaxWallDurationPerJobLimit"]);

/** SLURM states after which a job is resubmitted rather than failed. */
const RETRY = new Set(["NODE_FAIL", "BOOT_FAIL", "PREEMPTED"]);

/**
 * The sbatch arguments that describe a stage's job (all but its name, log and lth's own
 * flags): the stage and key as its comment, what it asks for, and the site's settings.
 * `lth plan --executor slurm` shows them.
 */
export function sbatchArgs(task: { readonly id: string; readonly key: string }, resources: JobResources, site: SlurmSite): string[] {
  return [
    `--comment=lth stage ${task.id} key ${task.key}`,
    "--ntasks=1",
    `--cpus-per-task=${resources.cpus}`,
    ...(resources.memMiB ? [`--mem=${resources.memMiB}M`] : []),
    ...(resources.minutes ? [`--time=${resources.minutes}`] : []),
    ...(resources.gpus ? [site.gpuFlag === "gres" ? `--gres=gpu:${resources.gpus}` : `--gpus=${resources.gpus}`] : []),
    ...(site.partition ? [`--partition=${site.partition}`] : []),
    ...(site.account ? [`--account=${site.account}`] : []),
    ...(site.qos ? [`--qos=${site.qos}`] : []),
    ...(site.constraint ? [`--constraint=${site.constraint}`] : []),
    ...(site.extra ?? []),
  ];
}

interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command with its arguments as an array (no shell) and `input` on stdin; never rejects. */
export function command(cmd: string, args: readonly string[], input?: string): Promise<CommandResult> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", (e) => resolve({ code: -1, stdout, stderr: `${cmd}: ${e.message}` }));
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input ?? "");
  });
}

/** A word for a POSIX shell script, single-quoted. */
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

/** The last lines of a log, for a failure message. */
function tail(path: string, lines = 5): string {
  try {
    const text = readFileSync(path, "utf8").trimEnd();
    return text ? text.split("\n").slice(-lines).join(" | ") : "";
  } catch {
    return "";
  }
}

const readJson = <T>(path: string): T | undefined => {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as T;
  } catch {
    return undefined;
  }
};

interface Watched {
  readonly task: StageTask;
  readonly hooks: TaskHooks;
  readonly paths: ReturnType<SlurmExecutor["paths"]>;
  job: string;
  attempt: number;
  state: string;
  /** When the job was first seen out of the queue without a marker (ms, performance.now). */
  missingSince?: number;
  progressSeen?: string;
  readonly started: number;
  readonly settle: (o: TaskOutcome) => void;
}

export class SlurmExecutor implements Executor {
  /** SLURM queues what it cannot start yet: every task is handed over at once. */
  readonly capacity = Number.MAX_SAFE_INTEGER;
  private readonly watched = new Map<string, Watched>();
  private readonly runId = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  private submitted = 0;
  private timer: NodeJS.Timeout | undefined;
  private interval: number;
  private polling = false;
  private closed = false;

  constructor(private readonly options: SlurmOptions) {
    this.interval = this.pollSeconds.first;
  }

  private get pollSeconds() {
    return this.options.poll ?? { first: 1, max: 30 };
  }

  /** The files of the job for a stage key, in the store. */
  paths(task: StageTask) {
    const dir = join(this.options.store.root, "slurm", task.key);
    return {
      dir,
      job: join(dir, "job.json"),
      log: join(dir, "job.log"),
      marker: join(dir, "done.json"),
      progress: join(dir, "progress.json"),
      submitted: join(dir, "submitted.json"),
      temp: join("jobs", task.key),
    };
  }

  async warm(): Promise<void> {
    const r = await command("sbatch", ["--version"]);
    const version = r.code === 0 ? r.stdout.trim() : undefined;
    this.options.onEvent({
      type: "backend",
      backend: `slurm (${this.options.backend})`,
      why: version ? `each tensor stage is a batch job (${version}); the backend is chosen on the node` : `sbatch did not run (${(r.stderr || r.stdout).trim() || `status ${r.code}`})`,
    });
  }

  async run(task: StageTask, hooks: TaskHooks): Promise<TaskOutcome> {
    const paths = this.paths(task);
    mkdirSync(paths.dir, { recursive: true });
    const started = performance.now();
    // A job of an earlier run for this key: finished (its marker is there) or still in the queue.
    const previous = readJson<{ job: string; attempt: number }>(paths.submitted);
    const marker = readJson<JobMarker>(paths.marker);
    hooks.started();
    if (previous && marker) {
      // It finished while no run watched it: its output counts if it is whole; otherwise it runs again.
      const outcome = this.fromMarker(marker, previous.job, paths.log);
      if (outcome.ok && this.options.store.intact(outcome.ref)) return outcome;
    }
    return new Promise<TaskOutcome>((resolve) => {
      const w: Watched = { task, hooks, paths, job: "", attempt: 0, state: "", started, settle: resolve };
      void (async () => {
        // Watched from now, so the counts include it; a cycle passes it by until it has a job id.
        this.watched.set(task.key, w);
        if (previous && !marker && (await this.inQueue(previous.job))) {
          w.job = previous.job;
          w.attempt = previous.attempt;
          w.state = "ATTACHED";
          this.jobEvent(task.id, w.job, "attached");
        } else {
          const failure = await this.submit(w);
          if (failure) {
            this.watched.delete(task.key);
            return resolve(failure);
          }
        }
        this.schedule(0);
      })();
    });
  }

  /** Whether a job id is in the queue now (for re-attaching). */
  private async inQueue(job: string): Promise<boolean> {
    const r = await command("squeue", ["--noheader", "--format=%i %T", `--jobs=${job}`]);
    return r.code === 0 && r.stdout.split("\n").some((l) => l.trim().split(/\s+/)[0] === job);
  }

  /** Submits the job for `w`'s task; a failed outcome when sbatch refuses it. */
  private async submit(w: Watched): Promise<TaskOutcome | undefined> {
    const { task, paths } = w;
    for (const stale of [paths.marker, paths.progress]) rmSync(stale, { force: true });
    const resources = this.options.resources(task);
    const job: JobFile = { task, store: this.options.store.root, backend: this.options.backend, threads: resources.cpus, marker: paths.marker, progress: paths.progress, temp: paths.temp };
    writeWhole(paths.job, job);
    const args = [`--job-name=lth-${this.runId}-${++this.submitted}`, `--output=${paths.log}`, ...sbatchArgs(task, resources, this.options.site)];
    const script = ["#!/bin/sh", `# lth: stage ${task.id}, key ${task.key}`, `exec ${moduleCommand(new URL("./oneshot", import.meta.url)).map(quote).join(" ")} ${quote(paths.job)}`, ""].join("\n");
    const r = await command("sbatch", ["--parsable", "--open-mode=append", ...args], script);
    const id = r.stdout.trim().split(";")[0]!.trim();
    if (r.code !== 0 || !/^\d+(_\d+)?$/.test(id)) {
      const why = (r.stderr || r.stdout).trim().replace(/\s+/g, " ") || `status ${r.code}`;
      return { ok: false, message: `sbatch refused the job: ${why}`, seconds: 0, repeats: false, backend: null };
    }
    w.job = id;
    w.attempt++;
    w.state = "SUBMITTED";
    w.missingSince = undefined;
    writeWhole(paths.submitted, { job: id, attempt: w.attempt, run: this.runId, submittedAt: new Date().toISOString() });
    this.jobEvent(task.id, id, "submitted");
    return undefined;
  }

  /** Jobs that ended (their stage ran or failed) in this run. */
  private ended = 0;

  private jobEvent(id: string, job: string, state: string): void {
    let queued = 0;
    let running = 0;
    for (const w of this.watched.values()) {
      if (w.state === "RUNNING" || w.state === "COMPLETING") running++;
      else queued++;
    }
    this.options.onEvent({ type: "job", id, job, state, jobs: { queued, running, done: this.ended } });
  }

  /** What a task's job asked for, for messages. */
  private describe(task: StageTask): string {
    const r = this.options.resources(task);
    return [`${r.cpus} CPU${r.cpus === 1 ? "" : "s"}`, r.gpus ? `${r.gpus} GPU${r.gpus === 1 ? "" : "s"}` : "", r.memMiB ? `${r.memMiB} MiB` : "", r.minutes ? `${r.minutes} min` : "", this.options.site.partition ? `partition ${this.options.site.partition}` : ""].filter(Boolean).join(", ");
  }

  private fromMarker(m: JobMarker, job: string, log: string): TaskOutcome {
    if (m.ok) return { ok: true, ref: m.ref, seconds: m.seconds, backend: m.backend, job };
    return { ok: false, message: `${m.message} (SLURM job ${job} on ${m.host}; its log: ${log})`, seconds: m.seconds, repeats: m.repeats, backend: m.backend, job };
  }

  private schedule(seconds: number): void {
    if (this.closed || this.timer || this.polling) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll();
    }, seconds * 1000);
  }

  /** One cycle: one squeue for every watched job, then each job's marker and progress. */
  private async poll(): Promise<void> {
    if (this.closed || this.watched.size === 0) return;
    this.polling = true;
    let changed = false;
    try {
      const jobs = [...this.watched.values()];
      // One call for every job of this user (a list of ids is refused whole once one has left the queue).
      const r = await command("squeue", ["--noheader", "--me", "--states=all", "--format=%i %T %r"]);
      const queueRead = r.code === 0;
      const states = new Map<string, string>();
      const reasons = new Map<string, string>();
      if (queueRead) for (const line of r.stdout.split("\n")) {
        const [id, state, reason] = line.trim().split(/\s+/);
        if (id && state) states.set(id, state);
        if (id && reason) reasons.set(id, reason.replace(/^\(|\)$/g, ""));
      }
      for (const w of jobs) {
        if (this.closed) return;
        if (!w.job) continue;
        const marker = readJson<JobMarker>(w.paths.marker);
        if (marker) {
          this.finish(w, this.fromMarker(marker, w.job, w.paths.log));
          changed = true;
          continue;
        }
        this.readProgress(w);
        const state = states.get(w.job);
        const reason = reasons.get(w.job) ?? "";
        if (state === "PENDING" && NEVER.has(reason)) {
          changed = true;
          await command("scancel", [w.job]);
          this.finish(w, {
            ok: false,
            message: `SLURM cannot place job ${w.job}: ${reason} (it asks for more than the partition's nodes or limits allow: ${this.describe(w.task)}); it was cancelled`,
            seconds: (performance.now() - w.started) / 1000,
            repeats: false,
            backend: null,
            job: w.job,
          });
          continue;
        }
        if (state && ACTIVE.has(state)) {
          w.missingSince = undefined;
          if (state !== w.state) {
            w.state = state;
            changed = true;
            this.jobEvent(w.task.id, w.job, state.toLowerCase());
          }
          continue;
        }
        // The queue could not be read (the controller is busy or restarting): nothing is known to have ended.
        if (!queueRead) continue;
        // Out of the queue (or ended) without a marker: wait for the filesystem, then ask SLURM why.
        w.missingSince ??= performance.now();
        if ((performance.now() - w.missingSince) / 1000 < (this.options.grace ?? 30)) continue;
        const ended = await this.endState(w.job);
        if (ACTIVE.has(ended.state)) {
          w.missingSince = undefined;
          continue;
        }
        changed = true;
        if (RETRY.has(ended.state) && w.attempt <= (this.options.retries ?? 2)) {
          this.jobEvent(w.task.id, w.job, `resubmitted after ${ended.state}`);
          const failure = await this.submit(w);
          if (failure) this.finish(w, failure);
          continue;
        }
        const account = ended.state ? `${ended.state}${ended.exit ? ` (exit ${ended.exit})` : ""}${ended.reason && ended.reason !== "None" ? `, ${ended.reason}` : ""}` : "left the queue without finishing";
        const last = tail(w.paths.log);
        this.finish(w, {
          ok: false,
          message: `SLURM job ${w.job} ended ${account}; its log: ${w.paths.log}${last ? ` (last lines: ${last})` : ""}`,
          seconds: (performance.now() - w.started) / 1000,
          repeats: false,
          backend: null,
          job: w.job,
        });
      }
    } finally {
      this.polling = false;
      const { first, max } = this.pollSeconds;
      this.interval = changed ? first : Math.min(max, this.interval * 2);
      if (this.watched.size > 0) this.schedule(this.interval);
    }
  }

  /** How a job ended, by `scontrol` (which knows recent jobs without accounting), else `sacct`. */
  private async endState(job: string): Promise<{ state: string; exit?: string; reason?: string }> {
    const s = await command("scontrol", ["show", "job", "--oneliner", job]);
    if (s.code === 0) {
      const field = (name: string) => new RegExp(`(?:^|\\s)${name}=(\\S+)`).exec(s.stdout)?.[1];
      const state = field("JobState");
      if (state) return { state, ...(field("ExitCode") ? { exit: field("ExitCode")! } : {}), ...(field("Reason") ? { reason: field("Reason")! } : {}) };
    }
    const a = await command("sacct", ["--noheader", "--parsable2", "--allocations", "--format=State,ExitCode,Reason", `--jobs=${job}`]);
    const [state, exit, reason] = a.code === 0 ? (a.stdout.trim().split("\n")[0] ?? "").split("|") : [];
    return state ? { state: state.split(" ")[0]!, ...(exit ? { exit } : {}), ...(reason ? { reason } : {}) } : { state: "" };
  }

  private readProgress(w: Watched): void {
    let text: string;
    try {
      text = readFileSync(w.paths.progress, "utf8");
    } catch {
      return;
    }
    if (text === w.progressSeen) return;
    w.progressSeen = text;
    try {
      w.hooks.progress(JSON.parse(text) as TrainingProgress);
    } catch {
      // A torn read on a filesystem without atomic rename: the next cycle reads it again.
      w.progressSeen = undefined;
    }
  }

  private finish(w: Watched, outcome: TaskOutcome): void {
    if (!this.watched.delete(w.task.key)) return;
    this.ended++;
    // The job's own temp folder: what a killed job left there is no one's now.
    rmSync(join(this.options.store.root, w.paths.temp), { recursive: true, force: true });
    w.settle(outcome);
  }

  /** The run is over: stop reading the queue. Jobs still queued (none, after a whole run) stay. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** Stops at once: one `scancel` for every job of the run still watched. */
  cancel(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const jobs = [...this.watched.values()].map((w) => w.job).filter(Boolean);
    this.watched.clear();
    // Synchronous: `lth run` exits as soon as it is stopped.
    if (jobs.length) spawnSync("scancel", jobs, { stdio: "ignore" });
  }

  /** Whether this machine can submit at all: `sbatch` found. */
  static available(): boolean {
    return ["/usr/bin/sbatch", "/usr/local/bin/sbatch"].some(existsSync) || (process.env["PATH"] ?? "").split(":").some((d) => d && existsSync(join(d, "sbatch")));
  }
}
