// The table of a report as data, for papers and spreadsheets: `lth report --format csv|markdown`
// and `lth show --csv`. One row per net, a replicate block's nets too (`replicates` 1), then
// each replicate block's aggregate, one row per position (`replicates` N, with the standard
// deviations).

import type { NetSummary, ReplicateSummary } from "./charts.js";

export interface TableRow {
  readonly report: string;
  readonly net: string;
  readonly weightsRemaining: number;
  readonly accuracyFinal: number | null;
  readonly accuracyBest: number | null;
  readonly stepBest: number | null;
  readonly accuracyEarlyStop: number | null;
  readonly stepEarlyStop: number | null;
  /** Replicates aggregated into this row (1 for a single net), and the standard deviations over them. */
  readonly replicates: number;
  readonly accuracyStd: number | null;
  readonly accuracyEarlyStopStd: number | null;
}

export const COLUMNS = [
  "report",
  "net",
  "weights_remaining",
  "accuracy_final",
  "accuracy_best",
  "step_best",
  "accuracy_early_stop",
  "step_early_stop",
  "replicates",
  "accuracy_std",
  "accuracy_early_stop_std",
] as const;

export function tableRows(report: string, nets: readonly NetSummary[], replicates: readonly ReplicateSummary[], replicateNets: readonly NetSummary[] = []): TableRow[] {
  const rows: TableRow[] = [...nets, ...replicateNets].map((n) => ({
    report,
    net: n.name,
    weightsRemaining: n.remaining,
    accuracyFinal: n.accuracy,
    accuracyBest: n.best?.accuracy ?? null,
    stepBest: n.best?.step ?? null,
    accuracyEarlyStop: n.earlyStop?.testAccuracy ?? null,
    stepEarlyStop: n.earlyStop?.step ?? null,
    replicates: 1,
    accuracyStd: null,
    accuracyEarlyStopStd: null,
  }));
  for (const r of replicates) {
    for (const p of r.points) {
      if (!p.remaining) continue;
      rows.push({
        report,
        net: p.label,
        weightsRemaining: p.remaining.mean,
        accuracyFinal: p.accuracy?.mean ?? null,
        accuracyBest: null,
        stepBest: null,
        accuracyEarlyStop: p.earlyStopAccuracy?.mean ?? null,
        stepEarlyStop: null,
        replicates: r.count,
        accuracyStd: p.accuracy?.std ?? null,
        accuracyEarlyStopStd: p.earlyStopAccuracy?.std ?? null,
      });
    }
  }
  return rows;
}

const cells = (r: TableRow): (string | number | null)[] => [
  r.report,
  r.net,
  r.weightsRemaining,
  r.accuracyFinal,
  r.accuracyBest,
  r.stepBest,
  r.accuracyEarlyStop,
  r.stepEarlyStop,
  r.replicates,
  r.accuracyStd,
  r.accuracyEarlyStopStd,
];

/** RFC 4180: shares in [0, 1] at full precision, empty cells for what is not there. */
export function toCsv(rows: readonly TableRow[]): string {
  const field = (v: string | number | null) => {
    if (v === null) return "";
    const s = String(v);
    return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [COLUMNS.join(","), ...rows.map((r) => cells(r).map(field).join(","))].join("\n") + "\n";
}

/** A GitHub-flavoured Markdown table: percentages to two decimals, ± the standard deviation over replicates. */
export function toMarkdown(rows: readonly TableRow[]): string {
  const pct = (x: number | null, digits = 2) => (x === null ? "–" : `${(100 * x).toFixed(digits)}%`);
  const withStd = (x: number | null, std: number | null) => (x === null ? "–" : std === null ? pct(x) : `${pct(x)} ± ${(100 * std).toFixed(2)}`);
  const escape = (s: string) => s.replace(/\|/g, "\\|");
  const lines = [
    "| report | net | weights remaining | final accuracy | best accuracy (step) | at early stop (step) | replicates |",
    "|---|---|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${escape(r.report)} | ${escape(r.net)} | ${pct(r.weightsRemaining, 1)} | ${withStd(r.accuracyFinal, r.accuracyStd)} | ${r.accuracyBest === null ? "–" : `${pct(r.accuracyBest)} (${r.stepBest})`} | ${r.accuracyEarlyStop === null ? "–" : `${withStd(r.accuracyEarlyStop, r.accuracyEarlyStopStd)}${r.stepEarlyStop === null ? "" : ` (${r.stepEarlyStop})`}`} | ${r.replicates} |`,
    ),
  ];
  return lines.join("\n") + "\n";
}
