// What a person watching `lth run` sees: a line per finished stage, plus, for stages that
// train, live bars on a terminal or one line per epoch when the output is a file or a pipe.

import cliProgress from "cli-progress";
import type { TrainingProgress } from "../engine/progress.js";
import type { MultiBar, Params, SingleBar } from "cli-progress";

/** What a training stage reports while it runs. */
export type { TrainingProgress };

export type StageOutcome = "ran" | "cached" | "failed" | "blocked";

export interface Reporter {
  /** One line at the start, e.g. "backend: wasm (@tensorflow/tfjs-node is not installed)". */
  info(line: string): void;
  started(stage: string, op: string): void;
  progress(p: TrainingProgress): void;
  /** A stage's line: outcome, id, op, seconds (for ran/failed), and a message for failed/blocked. */
  finished(stage: string, op: string, outcome: StageOutcome, seconds: number, message?: string): void;
  /** The last line: counts and wall time, e.g. "3 ran, 5 cached, 0 failed in 12.4 s". */
  summary(counts: Record<StageOutcome, number>, seconds: number): void;
  /** Stop any live display (idempotent); must leave the terminal clean. */
  close(): void;
}

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

interface Running {
  readonly start: number;
  bar?: SingleBar;
}

interface BarPayload {
  readonly progress: TrainingProgress;
  readonly eta: string;
}

/** Wide enough for "blocked" and a space, so stage ids line up. */
const OUTCOME_WIDTH = 8;
const MAX_BAR = 30;
/** Below this the bar says too little to be worth the room; the numbers matter more. */
const MIN_BAR = 10;

export function createReporter(out: Output, options: { now?: () => number } = {}): Reporter {
  const now = options.now ?? (() => performance.now());
  const live = out.isTTY === true;
  const running = new Map<string, Running>();
  let bars: MultiBar | null = null;

  // Every line goes above the bars; MultiBar.log only queues, so redraw at once to keep
  // the lines in order with the writes made while no bars are up.
  const writeLine = (line: string): void => {
    if (bars) {
      bars.log(`${line}\n`);
      bars.update();
    } else {
      out.write(`${line}\n`);
    }
  };

  const formatBar = (_options: unknown, params: Params, payload: BarPayload): string => {
    let width = 0;
    for (const [id, state] of running) if (state.bar) width = Math.max(width, id.length);
    const head = payload.progress.stage.padEnd(width);
    const text = describe(payload.progress, payload.eta);
    // One column spare: a line that fills the terminal would wrap on some terminals and
    // throw off MultiBar's cursor arithmetic.
    const room = Math.min(MAX_BAR, params.maxWidth - 1 - head.length - text.length - 4);
    const bar = room >= MIN_BAR ? `  ${drawBar(params.progress, room)}  ` : "  ";
    return `${head}${bar}${text}`.slice(0, Math.max(0, params.maxWidth - 1));
  };

  const openBars = (): MultiBar =>
    new cliProgress.MultiBar({
      stream: out,
      format: formatBar,
      fps: 10,
      hideCursor: true,
      clearOnComplete: true,
      // A logged line is drawn over the first bar, but MultiBar repaints only bars whose
      // text changed, so without this an idle bar would vanish under it.
      forceRedraw: true,
      // true means "trim to the width" rather than switching the terminal's wrapping off,
      // which would also cut the long error messages logged above the bars.
      linewrap: true,
      // Its SIGINT handler would swallow the first Ctrl-C; the runner owns signals and
      // calls close().
      gracefulExit: false,
    });

  const removeBar = (state: Running): void => {
    if (!state.bar || !bars) return;
    // remove() leaves the last bar's line on screen; stopping clears it.
    if ([...running.values()].filter((s) => s.bar).length === 1) {
      bars.stop();
      bars = null;
    } else {
      bars.remove(state.bar);
    }
    delete state.bar;
  };

  return {
    info: writeLine,

    started(stage) {
      running.set(stage, { start: now() });
    },

    progress(p) {
      let state = running.get(p.stage);
      if (!state) {
        state = { start: now() };
        running.set(p.stage, state);
      }
      const eta = timeLeft(now() - state.start, p.step, p.steps);
      if (!live) {
        if (p.final) out.write(`  ${p.stage}  ${describe(p, eta)}\n`);
        return;
      }
      const payload: BarPayload = { progress: p, eta };
      if (state.bar) {
        state.bar.setTotal(p.steps);
        state.bar.update(p.step, payload);
      } else {
        bars ??= openBars();
        state.bar = bars.create(p.steps, p.step, payload);
        // Otherwise a new bar first shows up on the next tick of the redraw timer.
        bars.update();
      }
    },

    finished(stage, op, outcome, seconds, message) {
      const state = running.get(stage);
      if (state) removeBar(state);
      running.delete(stage);
      const detail = outcome === "ran" || outcome === "failed" ? `${op}, ${decimal(seconds)} s` : op;
      const tail = message === undefined ? "" : `: ${message}`;
      writeLine(`${outcome.padEnd(OUTCOME_WIDTH)}${stage}  (${detail})${tail}`);
    },

    summary(counts, seconds) {
      const parts = [`${counts.ran} ran`, `${counts.cached} cached`, `${counts.failed} failed`];
      if (counts.blocked > 0) parts.push(`${counts.blocked} blocked`);
      writeLine(`${parts.join(", ")} in ${decimal(seconds)} s`);
    },

    close() {
      bars?.stop();
      bars = null;
      running.clear();
    },
  };
}

/** The numbers of a progress report, shared by the plain line and the bar. */
function describe(p: TrainingProgress, eta: string): string {
  const epochs = `${count(p.epoch)}/${count(Math.ceil(p.epochs))}`;
  const steps = `${count(p.step)}/${count(p.steps)}`;
  const loss = finite(p.loss, (x) => x.toPrecision(4));
  const acc = p.accuracy === undefined ? "-" : finite(p.accuracy * 100, (x) => `${x.toFixed(1)}%`);
  return `epoch ${epochs}  step ${steps}  train loss ${loss} · test acc ${acc}  eta ${eta}`;
}

/** Extrapolates the stage's own pace so far over the steps it has left. */
function timeLeft(elapsedMs: number, step: number, steps: number): string {
  if (!(step > 0)) return "-";
  const ms = (elapsedMs / step) * Math.max(0, steps - step);
  if (!Number.isFinite(ms) || ms < 0) return "-";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${pad2(s % 60)}s`;
  return `${Math.floor(m / 60)}h${pad2(m % 60)}m`;
}

function drawBar(fraction: number, size: number): string {
  const done = Math.round(Math.min(1, Math.max(0, fraction)) * size);
  return "\u2588".repeat(done) + "\u2591".repeat(size - done);
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

function decimal(n: number): string {
  return finite(n, (x) => x.toFixed(1));
}

function count(n: number): string {
  return finite(n, String);
}

function finite(n: number, format: (x: number) => string): string {
  if (Number.isNaN(n)) return "nan";
  if (n === Infinity) return "inf";
  if (n === -Infinity) return "-inf";
  return format(n);
}
