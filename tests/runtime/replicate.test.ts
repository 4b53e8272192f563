// `replicate N as seed { … yield … }`: N runs of a block with `seed` bound to 1 … N, each its
// own cached stages, aggregated by `show` and `report` (mean, sample standard deviation, min
// and max), over nets and position by position over lists (one IMP run per replicate).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { formatText } from "../../dsl/commands/fmt.js";
import { compile } from "../../compiler/compile.js";
import { stats } from "../../runtime/report/aggregate.js";
import { Experiment, ExperimentError } from "../../runtime/api/experiment.js";
import { epochs } from "../../runtime/api/values.js";
import { Rig } from "./rig.js";

function check(text: string) {
  const r = checkProgram("/p/main.lth", new ModuleLoader(memoryHost({ "/p/main.lth": text })));
  if ("problem" in r) throw new Error(r.problem);
  return r;
}

/** The stage graph of a program that checks clean. */
function compiled(text: string) {
  const r = check(text);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => d.message).join("; "));
  return compile(r.program);
}

const PIPELINE = `let d = mnist(train: 300, test: 200, validation: 100)
let runs = replicate 3 as seed {
  let n = init(arch: mlp(hidden: [32]), data: d, seed: seed)
  yield train(n, d, 2 epochs, seed: seed)
}
let imp = replicate 2 as seed {
  let n0 = init(mlp(hidden: [32]), d, seed: seed)
  yield repeat 2 from train(n0, d, 1 epoch, seed: seed) as t {
    yield prune(t, 20%, scope: global) |> rewind(to: n0) |> train(d, 1 epoch, seed: seed)
  }
}
let barriers = replicate 2 as seed {
  yield mask_distance(imp[0][0], prune(imp[0][0], 10%, seed: seed, criterion: random))
}
`;

describe("the language", () => {
  it("binds the variable to 1 … N and gives a Replicates value, usable as a list", () => {
    const graph = compiled(`${PIPELINE}let first = runs[0]\nlet final = last(runs)\nlet again = for n in runs { yield n }\n`);
    const runs = graph.bindings.get("runs")!;
    expect(runs).toMatchObject({ kind: "list", replicates: true });
    expect(runs.kind === "list" && runs.items).toHaveLength(3);
    // Each replicate its own stages, seeded 1, 2, 3.
    const seeds = [...graph.graph.nodeEntries()].filter((n) => n.attributes.op === "init" && n.node.startsWith("runs[")).map((n) => n.attributes.params["seed"]);
    expect(seeds).toEqual([1, 2, 3]);
    expect(graph.bindings.get("again")).not.toHaveProperty("replicates");
  });

  it("refuses a count below 1 or a fraction, with the count's place", () => {
    const zero = check("let x = replicate 0 as s { yield s }\n");
    expect(zero.diagnostics.map((d) => [d.code, d.message])).toEqual([["out-of-range", "'replicate' needs between 1 and 10000 replicates; found 0"]]);
    expect(zero.diagnostics[0]!.range.start).toBe("let x = replicate ".length);
    const fraction = check("let x = replicate 2.5 as s { yield s }\n");
    expect(fraction.diagnostics.map((d) => d.message)).toContain("'replicate' takes a whole number of replicates; found 2.5");
    expect(check("let x = replicate 2 as s { let y = 1 }\n").ok).toBe(false);
    expect(check("let replicate = 1\n").diagnostics.map((d) => d.message)).toEqual(["'replicate' is a reserved word and cannot be used as a name"]);
  });

  it("is formatted as written, with its comments", () => {
    const source = "let x = replicate   2 as s {\n  // each seed\n  yield   s }\n";
    expect(formatText("/p/main.lth", source)).toEqual({ text: "let x = replicate 2 as s {\n  // each seed\n  yield s\n}\n" });
  });
});

describe("show and report aggregate it", () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = new Rig(PIPELINE);
    const r = await rig.run();
    expect(r.summary.failed, r.stderr).toBe(0);
  });
  type Stat = { mean: number; std: number; min: number; max: number };
  const show = async (name: string) => JSON.parse((await rig.lth(["show", rig.file, name, "--json"])).stdout) as Record<string, unknown>;
  const expectStats = (got: Stat, xs: number[]) => {
    const want = stats(xs);
    expect(got.mean).toBeCloseTo(xs.reduce((a, b) => a + b, 0) / xs.length, 12);
    expect(got.std).toBeCloseTo(want.std, 12);
    expect([got.min, got.max]).toEqual([Math.min(...xs), Math.max(...xs)]);
  };

  it("over replicates of a net: accuracy (final and at early stop) and weights remaining", async () => {
    const j = (await show("runs")) as { type: string; count: number; items: Record<string, unknown>[]; aggregate: Record<string, Stat> };
    expect(j.type).toBe("Replicates");
    expect(j.count).toBe(3);
    const accuracies = j.items.map((i) => i["accuracy"] as number);
    expect(new Set(accuracies).size).toBeGreaterThan(1);
    expectStats(j.aggregate["accuracy"]!, accuracies);
    expectStats(j.aggregate["earlyStopAccuracy"]!, j.items.map((i) => (i["earlyStop"] as { testAccuracy: number }).testAccuracy));
    expect(j.aggregate["remaining"]).toEqual({ mean: 1, std: 0, min: 1, max: 1 });
    // Each net's early-stopping point, as show --json prints it for a net on its own.
    for (const item of j.items) {
      expect(Object.keys(item["earlyStop"] as object).sort()).toEqual(["epoch", "step", "testAccuracy", "testLoss", "validationAccuracy", "validationLoss"]);
    }
    const alone = (await show("runs[1]")) as { earlyStop: unknown };
    expect(alone.earlyStop).toEqual(j.items[1]!["earlyStop"]);
    // The sample standard deviation, by hand.
    const mean = accuracies.reduce((a, b) => a + b, 0) / 3;
    expect(j.aggregate["accuracy"]!.std).toBeCloseTo(Math.sqrt(accuracies.reduce((a, x) => a + (x - mean) ** 2, 0) / 2), 12);
    const text = (await rig.lth(["show", rig.file, "runs"])).stdout;
    expect(text).toContain("runs: 3 replicates (seed 1…3); mean ± standard deviation [min, max]");
    expect(text).toContain(`test accuracy ${(100 * j.aggregate["accuracy"]!.mean).toFixed(2)}% ± ${(100 * j.aggregate["accuracy"]!.std).toFixed(2)}`);
    expect(text).toMatch(/early stop \(lowest validation loss\): step \d+/);
  });

  it("position by position over replicates of lists, and over numbers", async () => {
    const j = (await show("imp")) as { type: string; count: number; items: { items: Record<string, unknown>[] }[]; aggregate: { accuracy: Stat[]; remaining: Stat[] } };
    expect(j.type).toBe("Replicates");
    expect(j.aggregate.accuracy).toHaveLength(2);
    for (const k of [0, 1]) {
      expectStats(j.aggregate.accuracy[k]!, j.items.map((i) => i.items[k]!["accuracy"] as number));
      const w = j.items[0]!.items[k]!["weights"] as { total: number; remaining: number };
      expect(j.aggregate.remaining[k]!.mean).toBeCloseTo(w.remaining / w.total, 12);
    }
    const numbers = (await show("barriers")) as { items: { value: number }[]; aggregate: { value: Stat } };
    expectStats(numbers.aggregate.value, numbers.items.map((i) => i.value));
  });

  it("exports the table as CSV (show --csv, report --format csv) and Markdown, to standard output with -o -", async () => {
    const csv = (await rig.lth(["show", rig.file, "runs", "--csv"])).stdout.split("\n");
    expect(csv[0]).toBe("report,net,weights_remaining,accuracy_final,accuracy_best,step_best,accuracy_early_stop,step_early_stop,replicates,accuracy_std,accuracy_early_stop_std");
    const rows = csv.slice(1).map((l) => l.split(","));
    const runs = (await show("runs")) as { items: { accuracy: number; earlyStop: { testAccuracy: number; step: number } }[]; aggregate: { accuracy: Stat } };
    // One row per replicate, then the aggregate.
    expect(rows.map((r) => [r[1], r[8]])).toEqual([["runs[0]", "1"], ["runs[1]", "1"], ["runs[2]", "1"], ["runs", "3"]]);
    expect(rows.slice(0, 3).map((r) => Number(r[3]))).toEqual(runs.items.map((i) => i.accuracy));
    expect(rows.slice(0, 3).map((r) => [Number(r[6]), Number(r[7])])).toEqual(runs.items.map((i) => [i.earlyStop.testAccuracy, i.earlyStop.step]));
    expect(Number(rows[3]![3])).toBeCloseTo(runs.aggregate.accuracy.mean, 12);
    expect(Number(rows[3]![9])).toBeCloseTo(runs.aggregate.accuracy.std, 12);
    const report = await rig.lth(["report", rig.file, "--format", "csv", "-o", "-"]);
    expect(report.exitCode, report.stderr).toBe(0);
    expect(report.stdout.split("\n").filter((l) => l.includes(",runs,"))).toHaveLength(1);
    expect(report.stdout.split("\n").filter((l) => /,imp\[·\]\[\d\],/.test(l))).toHaveLength(2);
    const markdown = await rig.lth(["report", rig.file, "--format", "markdown", "-o", "-"]);
    expect(markdown.stdout).toContain("| report | net | weights remaining | final accuracy | best accuracy (step) | at early stop (step) | replicates |");
    expect(markdown.stdout).toContain(`| runs | 100.0% | ${(100 * runs.aggregate.accuracy.mean).toFixed(2)}% ± ${(100 * runs.aggregate.accuracy.std).toFixed(2)} |`);
  });

  it("report: the mean with a ±std band, and the aggregate in a table", async () => {
    const out = join(rig.dir, "report.html");
    const r = await rig.lth(["report", rig.file, "-o", out]);
    expect(r.exitCode, r.stderr).toBe(0);
    const html = readFileSync(out, "utf8");
    const runs = (await show("runs")) as { aggregate: { accuracy: Stat } };
    expect(html).toContain('<table class="replicates">');
    expect(html).toContain(`<td>runs</td><td>3</td><td>100.0%</td><td>${(100 * runs.aggregate.accuracy.mean).toFixed(2)}% ± ${(100 * runs.aggregate.accuracy.std).toFixed(2)}`);
    expect(html).toContain("<td>imp[·][1]</td><td>2</td><td>64.0%</td>");
    // Numbers are tabled as numbers, not as percentages.
    const barriers = (await show("barriers")) as { aggregate: { value: Stat } };
    expect(html).toContain(`<td>barriers</td><td>2</td><td>–</td><td>${barriers.aggregate.value.mean.toPrecision(4)} ± ${barriers.aggregate.value.std.toPrecision(2)}</td>`);
    // The band: an area between mean − std and mean + std, labelled as such.
    expect(html).toMatch(/imp \(mean ± std of 2\)/);
    expect(html).toMatch(/<path[^>]*aria-roledescription="area"|role-mark[^"]*area|mark-area/);
  });
});

describe("enum values are values (issue 20)", () => {
  it("a list of criteria loops into prune; a value of the wrong enum is a type-mismatch", () => {
    const base = "let d = mnist(train: 300, test: 100)\nlet n0 = init(mlp(hidden: [8]), d)\n";
    const graph = compiled(`${base}let sweep = for c in [snip, grasp, synflow, magnitude, random] { yield prune(n0, 50%, criterion: c, data: d) }\n`);
    const criteria = [...graph.graph.nodeEntries()].filter((n) => n.attributes.op === "prune").map((n) => n.attributes.params["criterion"]);
    expect(criteria).toEqual(["snip", "grasp", "synflow", "magnitude", "random"]);
    const bad = check(`${base}let sweep = for c in [snip, layerwise] { yield prune(n0, 50%, criterion: c, data: d) }\n`);
    expect(bad.diagnostics.map((d) => d.code)).toEqual(["type-mismatch"]);
    expect(bad.diagnostics[0]!.message).toContain("'criterion' expects one of magnitude, random, snip, grasp, synflow");
    // Still not a value where nothing takes it: a name no enum has stays undefined.
    expect(check(`${base}let x = [snap]\n`).diagnostics.map((d) => d.code)).toEqual(["undefined-name"]);
  });
});

describe("the TypeScript API", () => {
  it("ex.replicate(N, (seed) => …) calls the block with seed 1 … N, as the language does", () => {
    const ex = new Experiment({ base: "/tmp/lth-api-replicate", quiet: true });
    const d = ex.mnist({ train: 300, test: 200 });
    const runs = ex.replicate(3, (seed) => ex.train(ex.init(ex.mlp([8]), d, { seed }), d, epochs(1), { seed }));
    expect(runs).toHaveLength(3);
    const g = ex.graph();
    expect(runs.map((r) => g.graph.getNodeAttributes(r.stage).params["seed"])).toEqual([1, 2, 3]);
    for (const bad of [0, 2.5, 10_001]) expect(() => ex.replicate(bad, () => 1)).toThrow(ExperimentError);
  });
});
