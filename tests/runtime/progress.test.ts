// The run reporter: exact plain lines for files and pipes, and on a terminal, bars that
// redraw at most ten times a second and leave nothing behind, checked on an emulated screen.

import { Writable } from "node:stream";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createReporter, type TrainingProgress } from "../../runtime/ui/progress.js";

interface Sink {
  readonly stream: Writable & { isTTY?: boolean; columns?: number };
  text(): string;
  clear(): void;
}

function sink(tty?: { columns: number }): Sink {
  let text = "";
  const stream: Sink["stream"] = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += String(chunk);
      done();
    },
  });
  if (tty) {
    stream.isTTY = true;
    stream.columns = tty.columns;
  }
  return { stream, text: () => text, clear: () => (text = "") };
}

function report(stage: string, fields: Partial<TrainingProgress> = {}): TrainingProgress {
  return { stage, epoch: 1, epochs: 2, step: 10, steps: 100, loss: 0.5, ...fields };
}

/** The visible rows and cursor state after replaying `output` on a terminal. */
function screen(output: string): { rows: string[]; cursorVisible: boolean } {
  const rows: string[] = [""];
  let row = 0;
  let col = 0;
  let cursorVisible = true;
  for (const [token, priv, arg, command] of output.matchAll(/\u001b\[(\??)(\d*)([A-Za-z])|\u001b|[^\u001b]/gu)) {
    while (rows.length <= row) rows.push("");
    const line = rows[row] ?? "";
    const n = arg === "" || arg === undefined ? undefined : Number(arg);
    if (token === "\u001b") throw new Error(`unexpected escape at ${JSON.stringify(output.slice(0, 40))}`);
    if (token === "\n") {
      row += 1;
      col = 0;
    } else if (token === "\r") {
      col = 0;
    } else if (command === undefined) {
      rows[row] = line.padEnd(col).slice(0, col) + token + line.slice(col + 1);
      col += 1;
    } else if (priv === "?") {
      if (n === 25) cursorVisible = command === "h";
    } else if (command === "A") {
      row = Math.max(0, row - (n ?? 1));
    } else if (command === "B") {
      row += n ?? 1;
    } else if (command === "C") {
      col += n ?? 1;
    } else if (command === "D") {
      col = Math.max(0, col - (n ?? 1));
    } else if (command === "G") {
      col = (n ?? 1) - 1;
    } else if (command === "K") {
      rows[row] = n === 2 ? "" : n === 1 ? " ".repeat(col + 1) + line.slice(col + 1) : line.slice(0, col);
    } else if (command === "J" && (n ?? 0) === 0) {
      rows.length = row + 1;
      rows[row] = line.slice(0, col);
    } else {
      throw new Error(`unhandled ${JSON.stringify(token)}`);
    }
  }
  const visible = rows.map((r) => r.trimEnd());
  while (visible.at(-1) === "") visible.pop();
  return { rows: visible, cursorVisible };
}

describe("plain output (not a terminal)", () => {
  it("prints one line per epoch and one per stage, aligned, with the ETA from the injected clock", () => {
    const out = sink();
    let t = 0;
    const r = createReporter(out.stream, { now: () => t });
    r.info("backend: wasm (@tensorflow/tfjs-node is not installed)");
    r.started("dense", "train");
    t = 10_000;
    r.progress(report("dense", { step: 50, steps: 500, loss: 0.7 }));
    t = 40_000;
    r.progress(report("dense", { epoch: 1, epochs: 2.5, step: 100, steps: 500, loss: 0.123456, accuracy: 0.9712, final: true }));
    t = 50_000;
    r.progress(report("dense", { epoch: 2, epochs: 2.5, step: 400, steps: 500, loss: 0.05, accuracy: 0.98, final: true }));
    r.finished("dense", "train", "ran", 3.24);
    r.finished("data", "mnist", "cached", 0);
    r.finished("rounds[1]", "train", "failed", 0.43, "out of memory");
    r.finished("control", "train", "blocked", 0, "rounds[1] failed");
    r.summary({ ran: 1, cached: 1, failed: 1, blocked: 1 }, 12.44);
    r.close();
    expect(out.text()).toBe(
      [
        "backend: wasm (@tensorflow/tfjs-node is not installed)",
        "  dense  epoch 1/3  step 100/500  train loss 0.1235 · test acc 97.1%  eta 2m40s",
        "  dense  epoch 2/3  step 400/500  train loss 0.05000 · test acc 98.0%  eta 13s",
        "ran     dense  (train, 3.2 s)",
        "cached  data  (mnist)",
        "failed  rounds[1]  (train, 0.4 s): out of memory",
        "blocked control  (train): rounds[1] failed",
        "1 ran, 1 cached, 1 failed, 1 blocked in 12.4 s",
        "",
      ].join("\n"),
    );
  });

  it("prints nothing for reports made between evaluations", () => {
    const out = sink();
    const r = createReporter(out.stream, { now: () => 0 });
    r.started("dense", "train");
    for (let step = 0; step <= 100; step += 10) r.progress(report("dense", { step }));
    r.close();
    expect(out.text()).toBe("");
  });

  it("survives odd numbers, and times a stage first heard of through a report", () => {
    const out = sink();
    let t = 0;
    const r = createReporter(out.stream, { now: () => t });
    r.progress(report("a", { epoch: 1, epochs: 0.5, step: 0, steps: 0, loss: Number.NaN, final: true }));
    r.progress(report("b", { step: 5, steps: 0, loss: Infinity, accuracy: Number.NaN, final: true }));
    r.started("c", "train");
    t = 10_000;
    r.progress(report("c", { step: 1, steps: 1000, loss: 1234.5678, accuracy: 1, final: true }));
    r.progress(report("c", { step: 1000, steps: 1000, loss: -0.000012345, final: true }));
    r.progress(report("a", { step: 2, steps: 4, final: true }));
    r.finished("c", "train", "failed", Number.NaN);
    r.summary({ ran: 3, cached: 5, failed: 0, blocked: 0 }, 12.44);
    expect(out.text()).toBe(
      [
        "  a  epoch 1/1  step 0/0  train loss nan · test acc -  eta -",
        "  b  epoch 1/2  step 5/0  train loss inf · test acc nan  eta 0s",
        "  c  epoch 1/2  step 1/1000  train loss 1235 · test acc 100.0%  eta 2h46m",
        "  c  epoch 1/2  step 1000/1000  train loss -0.00001234 · test acc -  eta 0s",
        "  a  epoch 1/2  step 2/4  train loss 0.5000 · test acc -  eta 10s",
        "failed  c  (train, nan s)",
        "3 ran, 5 cached, 0 failed in 12.4 s",
        "",
      ].join("\n"),
    );
  });

  it("writes no escape sequences", () => {
    const out = sink();
    const r = createReporter(out.stream, { now: () => 0 });
    r.started("dense", "train");
    r.progress(report("dense"));
    r.progress(report("dense", { final: true }));
    r.finished("dense", "train", "ran", 1);
    r.close();
    expect(out.text()).not.toContain("\u001b");
    expect(out.text()).toContain("dense");
  });
});

describe("live output (a terminal)", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("draws a bar at once and restores the cursor on close", () => {
    const out = sink({ columns: 100 });
    let t = 0;
    const r = createReporter(out.stream, { now: () => t });
    r.started("dense", "train");
    t = 2000;
    r.progress(report("dense", { accuracy: 0.5 }));
    expect(out.text()).toContain("dense");
    expect(out.text()).toContain("epoch 1/2  step 10/100  train loss 0.5000 · test acc 50.0%  eta 18s");
    expect(out.text()).toContain("\u001b[?25l");
    r.close();
    r.close();
    expect(screen(out.text())).toEqual({ rows: [], cursorVisible: true });
  });

  it("redraws on the cli-progress timer, at most ten times a second", () => {
    vi.useFakeTimers();
    const out = sink({ columns: 100 });
    const r = createReporter(out.stream, { now: () => 0 });
    r.progress(report("dense", { step: 10 }));
    r.progress(report("dense", { step: 20 }));
    vi.advanceTimersByTime(99);
    expect(out.text()).not.toContain("step 20/100");
    vi.advanceTimersByTime(1);
    expect(out.text()).toContain("step 20/100");
    r.close();
  });

  it("prints stage lines above the bars, removes finished stages' bars, and leaves only the lines", () => {
    const out = sink({ columns: 100 });
    let t = 0;
    const r = createReporter(out.stream, { now: () => t });
    r.info("backend: cpu");
    r.started("rounds[0]", "train");
    r.started("dense", "train");
    t = 1000;
    r.progress(report("rounds[0]", { step: 50 }));
    r.progress(report("dense", { step: 25 }));
    r.started("mask", "prune");
    r.finished("mask", "prune", "ran", 0.1);

    let shown = screen(out.text());
    expect(shown.rows.slice(0, 2)).toEqual(["backend: cpu", "ran     mask  (prune, 0.1 s)"]);
    expect(shown.rows).toHaveLength(4);
    expect(shown.rows[2]).toMatch(/^rounds\[0\]  █+░+  epoch 1\/2  step 50\/100  train loss 0\.5000 · test acc -  eta 1s$/u);
    expect(shown.rows[3]).toMatch(/^dense      █+░+  epoch 1\/2  step 25\/100 .* eta 3s$/u);
    expect(shown.cursorVisible).toBe(false);

    r.finished("rounds[0]", "train", "ran", 2);
    shown = screen(out.text());
    expect(shown.rows).toHaveLength(4);
    expect(shown.rows[2]).toBe("ran     rounds[0]  (train, 2.0 s)");
    expect(shown.rows[3]).toMatch(/^dense  █+░+  epoch/u);

    r.finished("dense", "train", "failed", 3, "loss is nan");
    r.summary({ ran: 2, cached: 0, failed: 1, blocked: 0 }, 4);
    r.close();
    expect(screen(out.text())).toEqual({
      rows: [
        "backend: cpu",
        "ran     mask  (prune, 0.1 s)",
        "ran     rounds[0]  (train, 2.0 s)",
        "failed  dense  (train, 3.0 s): loss is nan",
        "2 ran, 0 cached, 1 failed in 4.0 s",
      ],
      cursorVisible: true,
    });
  });

  it("keeps bars inside a narrow terminal, dropping the bar graphic before the numbers", () => {
    const out = sink({ columns: 60 });
    const r = createReporter(out.stream, { now: () => 0 });
    r.progress(report("a-rather-long-stage-name"));
    const rows = screen(out.text()).rows;
    r.close();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toHaveLength(59);
    expect(rows[0]).not.toContain("█");
    expect(rows[0]).toMatch(/^a-rather-long-stage-name  epoch 1\/2/u);
  });
});
