// `lth init [DIR]`: an experiment folder of one's own, set up so that `lth run`, `lth codegen`
// and the scripts it writes work there as in lth's repository: a package.json (ESM, so a
// generated script's top-level await runs; lth and tsx as dependencies), a sample pipeline,
// and a .gitignore for the store. Nothing that exists is overwritten.

import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";

/** lth's own package folder (the one holding its package.json), from source or from dist/. */
export function lthPackageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file) && (JSON.parse(readFileSync(file, "utf8")) as { name?: string }).name === "lth") return dir;
  }
  throw new Error("internal: lth's package.json is not above its own code");
}

const SAMPLE = `// A first experiment: a LeNet-300-100 winning ticket from 2,000 of the MNIST digits shipped
// with lth (Frankle & Carbin, 2019). Run it with \`npx lth run experiment.lth\`; change a
// number and \`npx lth plan experiment.lth\` says what will rerun. On your own IDX files:
// let data = idx("train-images.gz", "train-labels.gz", "t10k-images.gz", "t10k-labels.gz", train: 5000, test: 1000)
let data = mnist(train: 2000, test: 1000, seed: 1)
let net0 = init(lenet_300_100(), data, seed: 7)

defaults train { lr: 1.2e-3, batch: 60, optimizer: adam }

let dense = train(net0, data, 2 epochs)

// Three rounds: prune half the remaining hidden weights, rewind the survivors, retrain.
let rounds = repeat 3 from dense as t {
  yield t
    |> prune(50%, output_rate: 25%)
    |> rewind(to: net0)
    |> train(data, 2 epochs)
}

// The random-reinitialisation control.
let control = last(rounds) |> reinit(seed: 99) |> train(data, 2 epochs)
`;

export function initCommand(dir: string | undefined, io: CommandIO): number {
  const target = resolve(io.cwd, dir ?? ".");
  if (existsSync(target) && !statSync(target).isDirectory()) {
    io.err(`lth init: ${target} is not a folder`);
    return EXIT.usage;
  }
  mkdirSync(target, { recursive: true });
  const root = lthPackageRoot();
  const own = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string; dependencies: Record<string, string> };
  const name = basename(target).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "") || "experiments";
  const files: Record<string, string> = {
    "package.json": `${JSON.stringify(
      {
        name,
        private: true,
        // ESM: a script lth codegen writes awaits at top level.
        type: "module",
        scripts: { run: "lth run experiment.lth", plan: "lth plan experiment.lth", report: "lth report experiment.lth" },
        dependencies: { lth: `file:${root}`, tsx: own.dependencies["tsx"] ?? "^4" },
        engines: { node: ">=20" },
      },
      null,
      2,
    )}\n`,
    "experiment.lth": SAMPLE,
    ".gitignore": "# lth's store: results, cached by key (lth gc cleans it)\n.lth/\nnode_modules/\n",
  };
  const written: string[] = [];
  const kept: string[] = [];
  for (const [file, text] of Object.entries(files)) {
    const path = join(target, file);
    if (existsSync(path)) kept.push(file);
    else {
      writeFileSync(path, text);
      written.push(file);
    }
  }
  if (written.length) io.err(`lth init: wrote ${written.join(", ")} in ${target}`);
  if (kept.length) io.err(`lth init: kept ${kept.join(", ")}, which ${kept.length === 1 ? "exists" : "exist"} already`);
  io.err(`next: cd ${target} && npm install && npx lth run experiment.lth`);
  io.err("then: npx lth codegen experiment.lth -o experiment.ts && npx tsx experiment.ts (the same stages, the same store)");
  return EXIT.ok;
}
