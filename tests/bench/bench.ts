// `npm run bench`: timings that belong in no test. Prints a table and writes
// bench-results.json (or the path in BENCH_OUT). Each figure is the median of several runs.

import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { checkProgram } from "../../dsl/check/index.js";

const repo = join(import.meta.dirname, "../..");
const cli = join(repo, "dist/cli.js");

/** A realistic pipeline file of `lines` lines: data, init, train, IMP rounds, controls, comments. */
export function largePipeline(lines: number): string {
  const out: string[] = [];
  for (let i = 0; out.length < lines; i++) {
    out.push(
      `// experiment ${i}: LeNet-300-100, seed ${i}`,
      `let data_${i} = mnist(train: 1000, test: 500, seed: ${i})`,
      `let net_${i} = init(lenet_300_100(), data_${i}, seed: ${i})`,
      `let dense_${i} = train(net_${i}, data_${i}, 1 epoch, lr: 0.1, optimizer: adam)`,
      `let rounds_${i} = repeat 3 from dense_${i} as t {`,
      `  let pruned = prune(t, 20%, scope: layerwise, output_rate: 10%)`,
      `  yield train(rewind(pruned, to: net_${i}), data_${i}, 1 epoch)`,
      `}`,
      `let control_${i} = last(rounds_${i}) |> reinit(seed: 99) |> train(data_${i}, 1 epoch)`,
      ``,
    );
  }
  return out.slice(0, lines).join("\n") + "\n";
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(runs: number, f: () => void): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    f();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

const dir = mkdtempSync(join(tmpdir(), "lth-bench-"));
const results: Record<string, unknown> = {
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
};
const rows: [string, string][] = [];

for (const lines of [5000, 5001]) {
  const path = join(dir, `large-${lines}.lth`);
  writeFileSync(path, largePipeline(lines));
  const inProcess = time(7, () => {
    const r = checkProgram(path);
    if ("problem" in r || !r.ok) throw new Error(`the generated ${lines}-line file does not check clean`);
  });
  const endToEnd = time(5, () => execFileSync(process.execPath, [cli, "check", path], { stdio: "pipe" }));
  results[`check_${lines}_lines`] = { inProcessMs: Math.round(inProcess), endToEndMs: Math.round(endToEnd) };
  rows.push([`lth check, ${lines} lines, in process`, `${inProcess.toFixed(0)} ms`]);
  rows.push([`lth check, ${lines} lines, end to end (node dist/cli.js)`, `${endToEnd.toFixed(0)} ms`]);
}
const startup = time(5, () => execFileSync(process.execPath, [cli, "check", join(repo, "pipelines/quickstart.lth")], { stdio: "pipe" }));
results["check_quickstart_endToEndMs"] = Math.round(startup);
rows.push(["lth check pipelines/quickstart.lth, end to end", `${startup.toFixed(0)} ms`]);

const width = Math.max(...rows.map(([k]) => k.length));
console.log(`lth bench on ${cpus().length} cores, ${process.version}`);
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
const out = process.env["BENCH_OUT"] ?? join(repo, "bench-results.json");
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
console.log(`written to ${out}`);
