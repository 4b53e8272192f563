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

// ---- the engine: a no-op rerun of 400 stages ------------------------------------------
const runJson = (file: string, args: string[] = []) =>
  execFileSync(process.execPath, [cli, "run", file, "--json", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] })
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; id?: string; seconds?: number; output?: string; worker?: { tensors: number; rss: number } });
{
  const file = join(dir, "stages400.lth");
  writeFileSync(file, "let data = synthetic(n: 50, features: 4, classes: 2)\nlet n0 = init(mlp(hidden: [4]), data)\nlet r = repeat 199 from n0 as t {\n  yield t |> prune(1%) |> rewind(to: n0)\n}\n");
  runJson(file);
  const rerun = time(5, () => runJson(file));
  results["noop_rerun_400_stages_ms"] = Math.round(rerun);
  rows.push(["no-op rerun of 400 stages, end to end", `${rerun.toFixed(0)} ms`]);
}

// ---- training: lth's train stage against PyTorch's loop on the same data -----------------
const python = ["python3", "/usr/bin/python3"].find((py) => {
  try {
    execFileSync(py, ["-c", "import torch"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
});
const jobs = [
  { name: "LeNet-300-100, 3 epochs of 8,000 digits, batch 60, Adam", data: "mnist(train: 8000, test: 2000, seed: 1)", arch: "lenet_300_100()", torch: "lenet", epochs: 3, lr: 1.2e-3, backends: ["wasm", "cpu"] },
  { name: "Conv-2 (half width), 1 epoch of 2,000 digits, batch 60, Adam", data: "mnist(train: 2000, test: 1000, seed: 1)", arch: "conv2(width: 0.5)", torch: "conv2", epochs: 1, lr: 2e-4, backends: ["wasm"] },
];
const torchScript = join(dir, "torch_job.py");
writeFileSync(
  torchScript,
  `import json, struct, sys, time, numpy as np, torch, torch.nn as nn
torch.set_num_threads(2)
path, kind, epochs, lr = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
b = open(path, 'rb').read(); n = struct.unpack('<Q', b[:8])[0]; h = json.loads(b[8:8+n]); base = 8 + n
def t(name, dt):
    s, e = h[name]['data_offsets']; return np.frombuffer(b[base+s:base+e], dtype=dt)
meta = h['__metadata__']; mean, std = json.loads(meta['mean'])[0], json.loads(meta['std'])[0]
def split(name):
    x = (t(name + '.x', np.uint8).astype(np.float32) / 255 - mean) / std
    return torch.tensor(x.reshape(-1, 1, 28, 28)), torch.tensor(t(name + '.y', np.int32).astype(np.int64))
xtr, ytr = split('train'); xte, yte = split('test')
torch.manual_seed(7)
if kind == 'lenet':
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))
else:
    net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(32 * 14 * 14, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
for m in net:
    if isinstance(m, (nn.Linear, nn.Conv2d)): nn.init.xavier_uniform_(m.weight); nn.init.zeros_(m.bias)
opt = torch.optim.Adam(net.parameters(), lr=lr)
start = time.time()
for ep in range(epochs):
    order = torch.randperm(len(ytr))
    for i in range(0, len(ytr), 60):
        idx = order[i:i+60]; opt.zero_grad(); nn.functional.cross_entropy(net(xtr[idx]), ytr[idx]).backward(); opt.step()
    with torch.no_grad(): acc = (net(xte).argmax(1) == yte).float().mean().item()
print(json.dumps({'seconds': time.time() - start, 'accuracy': acc}))
`,
);
const training: Record<string, unknown>[] = [];
for (const job of jobs) {
  const file = join(dir, `${job.torch}.lth`);
  writeFileSync(file, `let data = ${job.data}\nlet net = init(${job.arch}, data, seed: 7)\nlet t = train(net, data, ${job.epochs} epochs, lr: ${job.lr}, batch: 60, optimizer: adam)\n`);
  const entry: Record<string, unknown> = { job: job.name };
  let dataset = "";
  for (const backend of job.backends) {
    const samples = Array.from({ length: backend === "cpu" ? 1 : 3 }, (_, i) => {
      const store = join(dir, `${job.torch}-${backend}-${i}`);
      const events = runJson(file, ["--backend", backend, "--jobs", "1", "--store", store]);
      const data = events.find((e) => e.type === "stage" && e.id === "data")!;
      dataset = join(store, "objects", data.output!.slice(0, 2), `${data.output}.safetensors`);
      return events.find((e) => e.type === "stage" && e.id === "t")!.seconds!;
    });
    entry[`lth_${backend}_seconds`] = +median(samples).toFixed(2);
    rows.push([`${job.name}: lth train stage, ${backend}`, `${median(samples).toFixed(2)} s`]);
  }
  if (python) {
    const torch = Array.from({ length: 3 }, () => JSON.parse(execFileSync(python, [torchScript, dataset, job.torch, String(job.epochs), String(job.lr)], { encoding: "utf8" })) as { seconds: number });
    const seconds = median(torch.map((r) => r.seconds));
    entry["pytorch_cpu_seconds"] = +seconds.toFixed(2);
    entry["ratio_lth_wasm_to_pytorch"] = +((entry["lth_wasm_seconds"] as number) / seconds).toFixed(2);
    rows.push([`${job.name}: PyTorch CPU loop (2 threads)`, `${seconds.toFixed(2)} s`]);
    rows.push([`${job.name}: ratio lth (wasm) / PyTorch`, `${entry["ratio_lth_wasm_to_pytorch"]}`]);
  } else rows.push([`${job.name}: PyTorch`, "skipped: python3 cannot import torch (Debian: apt-get install python3-torch)"]);
  training.push(entry);
}
results["training"] = training;

// ---- leaks: live tensors and resident memory over a 12-round IMP run ---------------------
{
  const file = join(dir, "imp12.lth");
  writeFileSync(
    file,
    "let data = mnist(train: 2000, test: 500, seed: 1)\nlet net0 = init(lenet_300_100(), data, seed: 7)\nlet dense = train(net0, data, 1 epoch, lr: 1.2e-3, optimizer: adam)\nlet rounds = repeat 12 from dense as t {\n  yield t |> prune(20%, output_rate: 10%) |> rewind(to: net0) |> train(data, 1 epoch, lr: 1.2e-3, optimizer: adam)\n}\n",
  );
  const trains = runJson(file, ["--jobs", "1"]).filter((e) => e.type === "stage" && e.worker);
  const tensors = trains.map((e) => e.worker!.tensors);
  const rss = trains.map((e) => Math.round(e.worker!.rss / 2 ** 20));
  results["imp_12_rounds"] = { liveTensorsAfterEachTrain: tensors, workerRssMiBAfterEachTrain: rss };
  rows.push(["12-round IMP: live tensors after each train stage", `${Math.min(...tensors)}–${Math.max(...tensors)}`]);
  rows.push(["12-round IMP: worker RSS after the first and last train", `${rss[0]} MiB, ${rss[rss.length - 1]} MiB`]);
}

const width = Math.max(...rows.map(([k]) => k.length));
console.log(`lth bench on ${cpus().length} cores, ${process.version}`);
for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
const out = process.env["BENCH_OUT"] ?? join(repo, "bench-results.json");
writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
console.log(`written to ${out}`);
