// The compiler's rules, as claims about the stage graph it makes from in-memory files:
// stage ids, unrolling, binding values, normalised parameters, sharing of identical
// calls, file paths and imports.

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { compile, MAX_ROUNDS } from "../../compiler/compile.js";
import { CompileError } from "../../compiler/stages.js";
import { stage, stagesOf, type CompiledValue, type Stage, type StageGraph, type StageId } from "../../compiler/stage.js";

const PRELUDE = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
`;

/** The example at the top of LANGUAGE.md, as shipped in pipelines/. */
const IMP = readFileSync(join(import.meta.dirname, "../../pipelines/lenet-imp.lth"), "utf8");

/** Checks and compiles /p/main.lth, with other files under /p; fails on any diagnostic. */
function compileText(main: string, others: Record<string, string> = {}): StageGraph {
  const files = { "/p/main.lth": main, ...Object.fromEntries(Object.entries(others).map(([k, v]) => [`/p/${k}`, v])) };
  const result = checkProgram("/p/main.lth", new ModuleLoader(memoryHost(files)));
  if ("problem" in result) throw new Error(result.problem);
  if (!result.ok) throw new Error(`unexpected diagnostics: ${result.diagnostics.map((d) => `${d.code}: ${d.message}`).join("; ")}`);
  return compile(result.program);
}

function allStages(g: StageGraph): Stage[] {
  return g.graph.mapNodes((_id, attrs) => attrs);
}

function ids(g: StageGraph): string[] {
  return g.graph.nodes();
}

/** The stage with this id; a failure lists the ids there are. */
function at(g: StageGraph, id: string): Stage {
  if (!g.graph.hasNode(id)) throw new Error(`no stage '${id}'; stages: ${ids(g).join(", ")}`);
  return stage(g, id as StageId);
}

function bound(g: StageGraph, name: string): CompiledValue {
  const value = g.bindings.get(name);
  if (!value) throw new Error(`no binding '${name}'`);
  return value;
}

/** The stage a binding denotes. */
function stageOf(g: StageGraph, name: string): Stage {
  const value = bound(g, name);
  if (value.kind !== "stage") throw new Error(`'${name}' is a ${value.kind}, not a stage`);
  return at(g, value.stage);
}

/** The stage ids of a binding that is a list of stages. */
function listOf(g: StageGraph, name: string): string[] {
  const value = bound(g, name);
  if (value.kind !== "list") throw new Error(`'${name}' is a ${value.kind}, not a list`);
  return value.items.map((item) => {
    if (item.kind !== "stage") throw new Error(`an item of '${name}' is a ${item.kind}`);
    return item.stage;
  });
}

/**
 * The graph with ids forgotten: each stage as a hash of its op, parameters, files and (by
 * the same hash) inputs, and each edge as a pair of such hashes. Sorted, so comparable.
 */
function canonical(g: StageGraph): { stages: string[]; edges: string[] } {
  const memo = new Map<string, string>();
  const key = (id: string): string => {
    const known = memo.get(id);
    if (known) return known;
    const s = at(g, id);
    const inputs = Object.fromEntries(Object.entries(s.inputs).map(([param, input]) => [param, key(input)]));
    const k = createHash("sha256")
      .update(JSON.stringify([s.op, s.version, s.result, s.params, s.files, inputs]))
      .digest("hex")
      .slice(0, 16);
    memo.set(id, k);
    return k;
  };
  return {
    stages: ids(g).map(key).sort(),
    edges: g.graph.mapEdges((_e, _a, from, to) => `${key(from)}->${key(to)}`).sort(),
  };
}

/** Stages by id with what determines them (no source ranges). */
function byId(g: StageGraph): Record<string, unknown> {
  return Object.fromEntries(
    allStages(g).map((s) => [s.id, { op: s.op, params: s.params, inputs: s.inputs, files: s.files, names: [...s.names].sort() }]),
  );
}

const TRAIN_DEFAULTS = {
  lr: 0.1,
  batch: 60,
  optimizer: "sgd",
  momentum: 0.9,
  weight_decay: 0,
  schedule: "constant",
  warmup: { steps: 0 },
  seed: 0,
};

describe("stage ids", () => {
  it("a let's outermost call is a stage named after the binding", () => {
    const g = compileText(IMP);
    expect(at(g, "dense").op).toBe("train");
    expect(at(g, "data").op).toBe("mnist");
    expect(at(g, "net0").op).toBe("init");
    expect(stageOf(g, "dense").id).toBe("dense");
  });

  it("a call nested in a binding's value is named <binding>/<op>, pipes included", () => {
    const g = compileText(IMP);
    expect(at(g, "control").op).toBe("train");
    expect(at(g, "control/reinit").op).toBe("reinit");
    expect(at(g, "control/reinit").params).toEqual({ seed: 99 });
    expect(at(g, "control").inputs).toEqual({ net: "control/reinit", data: "data" });
    expect(at(g, "control/reinit").inputs).toEqual({ net: "rounds[4]" });
  });

  it("compiles the LANGUAGE.md example into exactly its 20 stages", () => {
    const g = compileText(IMP);
    const rounds = [0, 1, 2, 3, 4].flatMap((k) => [`rounds[${k}].pruned`, `rounds[${k}]/rewind`, `rounds[${k}]`]);
    expect(ids(g).sort()).toEqual(["data", "net0", "dense", ...rounds, "control/reinit", "control"].sort());
  });

  it("architecture calls and last() make no stage", () => {
    const g = compileText(IMP);
    const ops = new Set(allStages(g).map((s) => s.op));
    expect(ops.has("lenet_300_100")).toBe(false);
    expect(ops.has("mlp")).toBe(false);
    expect(ops.has("last")).toBe(false);
    expect(g.graph.hasNode("ticket")).toBe(false);
  });

  it("two nested calls of one op in one binding get distinct ids", () => {
    const g = compileText(`${PRELUDE}let m = mask_distance(prune(net0, 10%), prune(net0, 20%))\n`);
    const prunes = allStages(g).filter((s) => s.op === "prune");
    expect(prunes).toHaveLength(2);
    expect(new Set(prunes.map((s) => s.id)).size).toBe(2);
    expect(prunes.map((s) => s.id)).toContain("m/prune");
    const m = at(g, "m");
    expect(new Set(Object.values(m.inputs))).toEqual(new Set(prunes.map((s) => s.id)));
    expect(at(g, m.inputs["a"]!).params["rate"]).toBe(0.1);
    expect(at(g, m.inputs["b"]!).params["rate"]).toBe(0.2);
  });

  it("each stage is findable by its own id, and a shared stage lists each name once", () => {
    const g = compileText(`${PRELUDE}let q = mask_distance(prune(net0, 10%), prune(net0, 30%))\nlet m = mask_distance(prune(net0, 20%), prune(net0, 20%))\n`);
    for (const s of allStages(g)) expect(s.names).toContain(s.id);
    const shared = allStages(g).filter((s) => s.op === "prune" && s.params["rate"] === 0.2);
    expect(shared).toHaveLength(1);
    expect(shared[0]!.names).toEqual(["m/prune"]);
  });

  it("a call in a repeat's `from` is named after the binding: <binding>/<op>", () => {
    const g = compileText(`${PRELUDE}let rr = repeat 2 from train(net0, data, 1 epoch) as t { yield prune(t, 10%) }\n`);
    expect(at(g, "rr/train").op).toBe("train");
    expect(at(g, "rr[0]").inputs).toEqual({ net: "rr/train" });
  });

  it("a repeat bound by no let is named after its context: <binding>/repeat[k]", () => {
    const g = compileText(`${PRELUDE}let x = last(repeat 2 from net0 as u { yield reinit(u, seed: 3) })\n`);
    expect(at(g, "x/repeat[0]").inputs).toEqual({ net: "net0" });
    expect(at(g, "x/repeat[1]").inputs).toEqual({ net: "x/repeat[0]" });
    expect(bound(g, "x")).toEqual({ kind: "stage", stage: "x/repeat[1]" });
  });

  it("every stage records its source file and a range inside it", () => {
    const g = compileText(IMP);
    for (const s of allStages(g)) {
      expect(s.source.file).toBe("/p/main.lth");
      expect(s.source.range.start).toBeLessThan(s.source.range.end);
      expect(s.source.range.end).toBeLessThanOrEqual(IMP.length);
    }
    const dense = at(g, "dense").source.range;
    expect(IMP.slice(dense.start, dense.end)).toBe("train(net0, data, 5 epochs)");
    const pruned = at(g, "rounds[3].pruned").source.range;
    expect(IMP.slice(pruned.start, pruned.end)).toBe("prune(t, 20%, scope: layerwise, output_rate: 10%)");
  });

  it("a stage's result kind is its op's result type", () => {
    const g = compileText(`${PRELUDE}let m = evaluate(net0, data)\nlet d = mask_distance(net0, net0)\n`);
    expect(at(g, "data").result).toBe("Dataset");
    expect(at(g, "net0").result).toBe("Net");
    expect(at(g, "m").result).toBe("Metrics");
    expect(at(g, "d").result).toBe("Number");
    for (const s of allStages(g)) expect(s.version).toBe(1);
  });
});

describe("repeat and for unroll", () => {
  it("repeat 5 unrolls into 5 rounds, each with its lets as rounds[k].name and its yield as rounds[k]", () => {
    const g = compileText(IMP);
    for (let k = 0; k < 5; k++) {
      expect(at(g, `rounds[${k}].pruned`).op).toBe("prune");
      expect(at(g, `rounds[${k}]/rewind`).op).toBe("rewind");
      expect(at(g, `rounds[${k}]`).op).toBe("train");
    }
    expect(g.graph.hasNode("rounds[5]")).toBe(false);
    expect(g.graph.hasNode("rounds[5].pruned")).toBe(false);
  });

  it("round 0 starts from the `from` value and each later round from the previous round's yield", () => {
    const g = compileText(IMP);
    expect(at(g, "rounds[0].pruned").inputs).toEqual({ net: "dense" });
    expect(g.graph.hasDirectedEdge("dense", "rounds[0].pruned")).toBe(true);
    for (let k = 1; k < 5; k++) {
      expect(at(g, `rounds[${k}].pruned`).inputs).toEqual({ net: `rounds[${k - 1}]` });
      expect(g.graph.hasDirectedEdge(`rounds[${k - 1}]`, `rounds[${k}].pruned`)).toBe(true);
    }
    for (let k = 0; k < 5; k++) {
      expect(at(g, `rounds[${k}]/rewind`).inputs).toEqual({ net: `rounds[${k}].pruned`, to: "net0" });
      expect(at(g, `rounds[${k}]`).inputs).toEqual({ net: `rounds[${k}]/rewind`, data: "data" });
    }
  });

  it("every round of a repeat has the same parameters; only the inputs change", () => {
    const g = compileText(IMP);
    for (let k = 1; k < 5; k++) {
      expect(at(g, `rounds[${k}].pruned`).params).toEqual(at(g, "rounds[0].pruned").params);
      expect(at(g, `rounds[${k}]`).params).toEqual(at(g, "rounds[0]").params);
    }
  });

  it("a let inside a round that the yield does not use is still a stage in every round", () => {
    const g = compileText(`${PRELUDE}let rr = repeat 3 from net0 as t {
  let score = evaluate(t, data)
  yield reinit(t, seed: 5)
}
`);
    expect(at(g, "rr[0].score").inputs).toEqual({ net: "net0", data: "data" });
    expect(at(g, "rr[1].score").inputs).toEqual({ net: "rr[0]", data: "data" });
    expect(at(g, "rr[2].score").inputs).toEqual({ net: "rr[1]", data: "data" });
  });

  it("for x in [1, 2, 3] makes one stage per item with the loop variable's value in its params", () => {
    const g = compileText(`${PRELUDE}let sweep = for x in [1, 2, 3] { yield train(net0, data, 1 epoch, seed: x) }\n`);
    expect([0, 1, 2].map((k) => at(g, `sweep[${k}]`).params["seed"])).toEqual([1, 2, 3]);
    for (let k = 0; k < 3; k++) expect(at(g, `sweep[${k}]`).inputs).toEqual({ net: "net0", data: "data" });
    expect(allStages(g).filter((s) => s.op === "train")).toHaveLength(3);
    expect(g.graph.hasNode("sweep[3]")).toBe(false);
  });

  it("replicate 3 as seed makes each replicate its own stages, named by replicate, with seed 1, 2, 3", () => {
    const g = compileText(`${PRELUDE}let runs = replicate 3 as seed {
  let start = init(lenet_300_100(), data, seed: seed)
  yield train(start, data, 1 epoch, seed: seed)
}
let imp = replicate 2 as s { yield repeat 2 from net0 as t { yield prune(t, 20%, seed: s, criterion: random) } }
let first = runs[0]
`);
    expect([0, 1, 2].map((k) => at(g, `runs[${k}].start`).params["seed"])).toEqual([1, 2, 3]);
    expect([0, 1, 2].map((k) => at(g, `runs[${k}]`).params["seed"])).toEqual([1, 2, 3]);
    for (let k = 0; k < 3; k++) expect(at(g, `runs[${k}]`).inputs).toEqual({ net: `runs[${k}].start`, data: "data" });
    expect(bound(g, "runs")).toEqual({ kind: "list", replicates: true, items: [0, 1, 2].map((k) => ({ kind: "stage", stage: `runs[${k}]` })) });
    // Replicates of lists: one list per replicate, each of its own rounds.
    const imp = bound(g, "imp");
    expect(imp.kind === "list" && imp.replicates && imp.items.map((l) => l.kind === "list" && l.items.map((i) => i.kind === "stage" && i.stage))).toEqual([
      ["imp[0][0]", "imp[0][1]"],
      ["imp[1][0]", "imp[1][1]"],
    ]);
    expect(at(g, "imp[1][0]").params["seed"]).toBe(2);
    // An item of a replicate block is an item, not a replicate block.
    expect(bound(g, "first")).toEqual({ kind: "stage", stage: "runs[0]" });
  });

  it("a loop variable over percents is normalised like a literal percent", () => {
    const g = compileText(`${PRELUDE}let sweep = for r in [10%, 50%, 90%] { yield prune(net0, r) }\n`);
    expect([0, 1, 2].map((k) => at(g, `sweep[${k}]`).params["rate"])).toEqual([0.1, 0.5, 0.9]);
    expect([0, 1, 2].map((k) => at(g, `sweep[${k}]`).params["output_rate"])).toEqual([0.1, 0.5, 0.9]);
  });

  it("a loop variable over architectures reaches init as a static arch parameter", () => {
    const g = compileText(`${PRELUDE}let nets = for a in [conv2(), mlp(hidden: [10])] { yield init(a, data) }\n`);
    expect(at(g, "nets[0]").params["arch"]).toEqual({ arch: "conv2", width: 1 });
    expect(at(g, "nets[1]").params["arch"]).toEqual({ arch: "mlp", hidden: [10] });
    expect(at(g, "nets[0]").inputs).toEqual({ data: "data" });
  });

  it("a for over a named list uses the list's values", () => {
    const g = compileText(`${PRELUDE}let seeds = [4, 8]\nlet sweep = for s in seeds { yield reinit(net0, seed: s) }\n`);
    expect(at(g, "sweep[0]").params).toEqual({ seed: 4 });
    expect(at(g, "sweep[1]").params).toEqual({ seed: 8 });
  });

  it("a for over a repeat's rounds makes one stage per round, fed by that round", () => {
    const g = compileText(`${PRELUDE}let rr = repeat 3 from net0 as t { yield prune(t, 20%) }
let scores = for r in rr { yield evaluate(r, data) }
`);
    for (let k = 0; k < 3; k++) expect(at(g, `scores[${k}]`).inputs).toEqual({ net: `rr[${k}]`, data: "data" });
  });

  it("a repeat nested inside a for unrolls per item, with ids sweep[i].r[k] and the outer variable in each round", () => {
    const g = compileText(`${PRELUDE}let sweep = for s in [1, 2] {
  let r = repeat 2 from net0 as t {
    let p = prune(t, 20%, seed: s)
    yield train(p, data, 1 epoch, seed: s)
  }
  yield last(r)
}
`);
    for (const [i, s] of [[0, 1], [1, 2]] as const) {
      expect(at(g, `sweep[${i}].r[0].p`).inputs).toEqual({ net: "net0" });
      expect(at(g, `sweep[${i}].r[0]`).inputs).toEqual({ net: `sweep[${i}].r[0].p`, data: "data" });
      expect(at(g, `sweep[${i}].r[1].p`).inputs).toEqual({ net: `sweep[${i}].r[0]` });
      expect(at(g, `sweep[${i}].r[1]`).inputs).toEqual({ net: `sweep[${i}].r[1].p`, data: "data" });
      for (const k of [0, 1]) {
        expect(at(g, `sweep[${i}].r[${k}]`).params["seed"]).toBe(s);
        expect(at(g, `sweep[${i}].r[${k}].p`).params["seed"]).toBe(s);
      }
    }
    expect(ids(g)).toHaveLength(2 + 2 * 2 * 2);
    expect(listOf(g, "sweep")).toEqual(["sweep[0].r[1]", "sweep[1].r[1]"]);
  });

  it("a for nested in a yield is named <round>/for[k]", () => {
    const g = compileText(`${PRELUDE}let y = for x in [1] { yield last(for z in [2, 3] { yield reinit(net0, seed: z) }) }\n`);
    expect(at(g, "y[0]/for[0]").params).toEqual({ seed: 2 });
    expect(at(g, "y[0]/for[1]").params).toEqual({ seed: 3 });
    expect(listOf(g, "y")).toEqual(["y[0]/for[1]"]);
  });

  it("a for over an empty list is an empty list and makes no stage", () => {
    const g = compileText(`${PRELUDE}let e = for x in [] { yield reinit(net0, seed: 1) }\n`);
    expect(bound(g, "e")).toEqual({ kind: "list", items: [] });
    expect(allStages(g).some((s) => s.op === "reinit")).toBe(false);
  });
});

describe("parameters added after an op's release", () => {
  it("are left out of a stage's params at their default, written or not, so older stages keep their keys", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 2 epochs)
let b = train(net0, data, 2 epochs, start: 0 steps, stop: 2 epochs)
let c = train(net0, data, 2 epochs, start: 1 epoch)
let d = train(net0, data, 2 epochs, stop: 100 steps)
`);
    // b is a with its defaults written out: one stage, named by both.
    expect(g.bindings.get("b")).toEqual(g.bindings.get("a"));
    expect(Object.keys(at(g, "a").params)).not.toContain("start");
    expect(Object.keys(at(g, "a").params)).not.toContain("stop");
    expect(at(g, "c").params["start"]).toEqual({ epochs: 1 });
    expect(at(g, "d").params["stop"]).toEqual({ steps: 100 });
  });
});

describe("a pipeline too large to unroll", () => {
  it("is a CompileError at the loop that goes over MAX_ROUNDS, not an exhausted heap", () => {
    const text = `${PRELUDE}let r = repeat 10000 from net0 as t { yield last(repeat 10000 from t as u { yield last(repeat 10000 from u as v { yield prune(v, 10%) }) }) }\n`;
    let thrown: unknown;
    try {
      compileText(text);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CompileError);
    const e = thrown as CompileError;
    expect(e.message).toBe("this pipeline unrolls into more than 100,000 rounds of repeat, for and replicate blocks; nested loops multiply their counts");
    expect(text.slice(e.range.start).startsWith("repeat 10000 from u as v")).toBe(true);
  });

  it("counts a replicate block's replicates as rounds", () => {
    const text = `${PRELUDE}let xs = for k in [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] { yield replicate 10000 as seed { yield reinit(net0, seed: seed) } }\n`;
    expect(() => compileText(text)).toThrow(CompileError);
  });

  it("compiles right up to the limit", () => {
    const g = compileText(`${PRELUDE}let r = repeat 10000 from net0 as t { yield last(repeat 9 from t as u { yield reinit(u, seed: 1) }) }\n`);
    expect(MAX_ROUNDS).toBe(100_000);
    expect(g.graph.order).toBeGreaterThan(10_000);
  });
});

describe("the value of a binding", () => {
  it("is a list of the round yields for repeat, in round order", () => {
    const g = compileText(IMP);
    expect(listOf(g, "rounds")).toEqual(["rounds[0]", "rounds[1]", "rounds[2]", "rounds[3]", "rounds[4]"]);
  });

  it("is a list of the item results for for", () => {
    const g = compileText(`${PRELUDE}let sweep = for x in [1, 2, 3] { yield reinit(net0, seed: x) }\n`);
    expect(listOf(g, "sweep")).toEqual(["sweep[0]", "sweep[1]", "sweep[2]"]);
  });

  it("last(rounds) is the last round's stage, resolved at compile time", () => {
    const g = compileText(IMP);
    expect(bound(g, "ticket")).toEqual({ kind: "stage", stage: "rounds[4]" });
  });

  it("rounds[-2] counts from the end and rounds[1] from the start", () => {
    const g = compileText(`${IMP}let a = rounds[-2]\nlet b = rounds[1]\nlet c = rounds[-5]\nlet d = rounds[0]\n`);
    expect(bound(g, "a")).toEqual({ kind: "stage", stage: "rounds[3]" });
    expect(bound(g, "b")).toEqual({ kind: "stage", stage: "rounds[1]" });
    expect(bound(g, "c")).toEqual({ kind: "stage", stage: "rounds[0]" });
    expect(bound(g, "d")).toEqual({ kind: "stage", stage: "rounds[0]" });
  });

  it("an index given by a named number works like a literal index", () => {
    const g = compileText(`${IMP}let i = 2\nlet a = rounds[i]\n`);
    expect(bound(g, "a")).toEqual({ kind: "stage", stage: "rounds[2]" });
  });

  it("indexing or taking the last of a list makes no new stage and feeds the indexed stage forward", () => {
    const g = compileText(`${IMP}let e = evaluate(rounds[-2], data)\n`);
    expect(at(g, "e").inputs).toEqual({ net: "rounds[3]", data: "data" });
    expect(ids(g)).toHaveLength(21);
  });

  it("a literal, a list of literals and an architecture are static values", () => {
    const g = compileText(`${PRELUDE}let k = 5\nlet r = 20%\nlet n = -3\nlet xs = [1, 2][1]\nlet a = lenet_300_100()\nlet v = vgg(depth: 16)\nlet d = 2 epochs\n`);
    expect(bound(g, "k")).toEqual({ kind: "static", value: 5 });
    expect(bound(g, "r")).toEqual({ kind: "static", value: 0.2 });
    expect(bound(g, "n")).toEqual({ kind: "static", value: -3 });
    expect(bound(g, "xs")).toEqual({ kind: "static", value: 2 });
    expect(bound(g, "a")).toEqual({ kind: "static", value: { arch: "mlp", hidden: [300, 100] } });
    expect(bound(g, "v")).toEqual({ kind: "static", value: { arch: "vgg", depth: 16, width: 1, batchnorm: true } });
    expect(bound(g, "d")).toEqual({ kind: "static", value: { epochs: 2 } });
  });

  it("a list of nets is a list of their stages, and stagesOf lists every stage a value needs", () => {
    const g = compileText(`${IMP}let pair = [dense, last(rounds)]\n`);
    expect(bound(g, "pair")).toEqual({
      kind: "list",
      items: [
        { kind: "stage", stage: "dense" },
        { kind: "stage", stage: "rounds[4]" },
      ],
    });
    expect(stagesOf(bound(g, "pair"))).toEqual(["dense", "rounds[4]"]);
    expect(stagesOf(bound(g, "rounds"))).toHaveLength(5);
    expect(stagesOf({ kind: "static", value: 1 })).toEqual([]);
  });

  it("every top-level let of the root file has a value", () => {
    const g = compileText(IMP);
    expect([...g.bindings.keys()].sort()).toEqual(["control", "data", "dense", "net0", "rounds", "ticket"]);
  });

  it("reports keep their title and names", () => {
    const g = compileText(`${IMP}report { dense }\n`);
    expect(g.reports).toEqual([{ title: "LeNet-300-100 winning tickets", names: ["dense", "rounds", "control"] }, { names: ["dense"] }]);
    expect(g.file).toBe("/p/main.lth");
  });
});

describe("parameters are normalised", () => {
  it("prune(n, 20%) has rate 0.2 and output_rate 0.2 (its default is the rate)", () => {
    const g = compileText(`${PRELUDE}let p = prune(net0, 20%)\n`);
    expect(at(g, "p").params).toEqual({ rate: 0.2, scope: "layerwise", criterion: "magnitude", output_rate: 0.2, seed: 0 });
  });

  it("output_rate: 10% is 0.1 and leaves the rate alone", () => {
    const g = compileText(`${PRELUDE}let p = prune(net0, 20%, output_rate: 10%)\n`);
    expect(at(g, "p").params["rate"]).toBe(0.2);
    expect(at(g, "p").params["output_rate"]).toBe(0.1);
  });

  it("percents are fractions, fractional and boundary ones included", () => {
    const g = compileText(`${PRELUDE}let a = prune(net0, 0%)\nlet b = prune(net0, 100%)\nlet c = prune(net0, 12.5%)\nlet d = prune(net0, 7%)\n`);
    expect(at(g, "a").params["rate"]).toBe(0);
    expect(at(g, "b").params["rate"]).toBe(1);
    expect(at(g, "c").params["rate"]).toBe(0.125);
    expect(at(g, "d").params["rate"]).toBe(0.07);
  });

  it("train(..., 5 epochs) has length {epochs: 5}; 500 steps is {steps: 500}; 1.5 epochs is {epochs: 1.5}", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 5 epochs)\nlet b = train(net0, data, 500 steps)\nlet c = train(net0, data, 1.5 epochs)\nlet d = train(net0, data, 1 step)\n`);
    expect(at(g, "a").params["length"]).toEqual({ epochs: 5 });
    expect(at(g, "b").params["length"]).toEqual({ steps: 500 });
    expect(at(g, "c").params["length"]).toEqual({ epochs: 1.5 });
    expect(at(g, "d").params["length"]).toEqual({ steps: 1 });
  });

  it("1 epoch is the same parameter as 1 epochs", () => {
    const one = compileText(`${PRELUDE}let a = train(net0, data, 1 epoch)\n`);
    const many = compileText(`${PRELUDE}let a = train(net0, data, 1 epochs)\n`);
    expect(at(one, "a").params).toEqual(at(many, "a").params);
    expect(at(one, "a").params["length"]).toEqual({ epochs: 1 });
  });

  it("warmup defaults to {steps: 0}, and 0 epochs and 0 steps are that same {steps: 0}", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 1 epoch)
let b = train(net0, data, 2 epochs, warmup: 0 epochs)
let c = train(net0, data, 3 epochs, warmup: 0 steps)
let d = train(net0, data, 4 epochs, warmup: 2 epochs)
`);
    expect(at(g, "a").params["warmup"]).toEqual({ steps: 0 });
    expect(at(g, "b").params["warmup"]).toEqual({ steps: 0 });
    expect(at(g, "c").params["warmup"]).toEqual({ steps: 0 });
    expect(at(g, "d").params["warmup"]).toEqual({ epochs: 2 });
  });

  it("earlybird's max is {epochs: n} and its percent rate a fraction", () => {
    const g = compileText(`${PRELUDE}let e = earlybird(init(vgg(), data), data, 30%, max: 10 epochs)\n`);
    expect(at(g, "e").params).toEqual({ rate: 0.3, eps: 0.1, window: 5, max: { epochs: 10 }, l1: 0.0001, lr: 0.1, batch: 64 });
    expect(at(g, "e/init").params["arch"]).toEqual({ arch: "vgg", depth: 11, width: 1, batchnorm: true });
  });

  it("every op default is applied", () => {
    const g = compileText(`let data = mnist()
let net0 = init(lenet_300_100(), data)
let t = train(net0, data, 1 epoch)
let s = synthetic(n: 100, features: 4, classes: 2)
let c = cifar10("cifar")
let v = init(conv6(), s)
`);
    expect(at(g, "data").params).toEqual({ train: 8000, test: 2000, seed: 0 });
    expect(at(g, "net0").params).toEqual({ arch: { arch: "mlp", hidden: [300, 100] }, seed: 0, scheme: "glorot" });
    expect(at(g, "t").params).toEqual({ length: { epochs: 1 }, ...TRAIN_DEFAULTS });
    expect(at(g, "s").params).toEqual({ n: 100, features: 4, classes: 2, seed: 0, noise: 0.1 });
    expect(at(g, "c").params).toEqual({ train: 50000, test: 10000 });
    expect(at(g, "v").params["arch"]).toEqual({ arch: "conv6", width: 1 });
  });

  it("a defaults block's values reach the call, over the op's own defaults", () => {
    const g = compileText(`${PRELUDE}defaults train { lr: 1.2e-3, optimizer: adam, warmup: 0 epochs }
defaults prune { scope: global }
let t = train(net0, data, 1 epoch)
let p = prune(net0, 20%)
`);
    expect(at(g, "t").params).toEqual({ ...TRAIN_DEFAULTS, length: { epochs: 1 }, lr: 0.0012, optimizer: "adam" });
    expect(at(g, "p").params["scope"]).toBe("global");
  });

  it("a call's argument beats a defaults entry", () => {
    const g = compileText(`${PRELUDE}defaults train { lr: 0.5, batch: 32 }
let t = train(net0, data, 1 epoch, lr: 0.01)
`);
    expect(at(g, "t").params["lr"]).toBe(0.01);
    expect(at(g, "t").params["batch"]).toBe(32);
  });

  it("two defaults blocks for one op merge", () => {
    const g = compileText(`${PRELUDE}defaults train { lr: 0.5 }
defaults train { batch: 32 }
let t = train(net0, data, 1 epoch)
`);
    expect(at(g, "t").params["lr"]).toBe(0.5);
    expect(at(g, "t").params["batch"]).toBe(32);
  });

  it("a defaults rate also becomes the default output_rate", () => {
    const g = compileText(`${PRELUDE}defaults prune { rate: 30% }\nlet p = prune(net0)\n`);
    expect(at(g, "p").params["rate"]).toBe(0.3);
    expect(at(g, "p").params["output_rate"]).toBe(0.3);
  });

  it("a defaults output_rate applies to a call that gives only its rate", () => {
    const g = compileText(`${PRELUDE}defaults prune { output_rate: 10% }\nlet p = prune(net0, 20%)\n`);
    expect(at(g, "p").params["rate"]).toBe(0.2);
    expect(at(g, "p").params["output_rate"]).toBe(0.1);
  });

  it("a defaults entry may give a required parameter", () => {
    const g = compileText(`${PRELUDE}defaults train { length: 2 epochs }\nlet t = train(net0, data)\n`);
    expect(at(g, "t").params["length"]).toEqual({ epochs: 2 });
  });

  it("a defaults entry that names a file-level binding takes its value, even in a loop whose variable shares the name", () => {
    const g = compileText(`${PRELUDE}let s = 4
defaults train { seed: s }
let a = train(net0, data, 1 epoch)
let sweep = for s in [1, 2] { yield train(net0, data, 2 epochs) }
`);
    expect(at(g, "a").params["seed"]).toBe(4);
    for (const id of listOf(g, "sweep")) expect(at(g, id).params["seed"]).toBe(4);
  });

  it("defaults apply to calls in loops and nested calls alike", () => {
    const g = compileText(`${IMP}`);
    for (const id of ["dense", "rounds[0]", "rounds[4]", "control"]) {
      expect(at(g, id).params).toMatchObject({ lr: 0.0012, batch: 60, optimizer: "adam" });
    }
  });

  it("numbers equal in value are the same parameter however written", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 1 epoch, lr: 0.1)
let b = train(net0, data, 1 epoch, lr: 1e-1)
let c = train(net0, data, 1 epoch, lr: 0.10)
let d = train(net0, data, 1 epoch, lr: 1, weight_decay: 0)
let e = train(net0, data, 1 epoch, lr: 1.0, weight_decay: 0.0)
`);
    expect(stageOf(g, "b").id).toBe(stageOf(g, "a").id);
    expect(stageOf(g, "c").id).toBe(stageOf(g, "a").id);
    expect(stageOf(g, "e").id).toBe(stageOf(g, "d").id);
  });

  it("a stage's params hold no stage: computed arguments are its inputs", () => {
    const g = compileText(IMP);
    for (const s of allStages(g)) {
      for (const [param, input] of Object.entries(s.inputs)) {
        expect(s.params).not.toHaveProperty(param);
        expect(g.graph.hasNode(input)).toBe(true);
      }
    }
    expect(at(g, "net0").inputs).toEqual({ data: "data" });
    expect(at(g, "net0").params).not.toHaveProperty("data");
  });
});

describe("identical calls share one stage", () => {
  it("two lets with the identical call give one stage with both names, and both bindings denote it", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 1 epoch)\nlet b = train(net0, data, 1 epoch)\n`);
    const trains = allStages(g).filter((s) => s.op === "train");
    expect(trains).toHaveLength(1);
    expect([...trains[0]!.names].sort()).toEqual(["a", "b"]);
    expect(stageOf(g, "a").id).toBe(trains[0]!.id);
    expect(stageOf(g, "b").id).toBe(trains[0]!.id);
  });

  it("a call that differs in one param gives two stages", () => {
    const g = compileText(`${PRELUDE}let a = train(net0, data, 1 epoch)\nlet b = train(net0, data, 1 epoch, seed: 1)\n`);
    expect(allStages(g).filter((s) => s.op === "train")).toHaveLength(2);
    expect(stageOf(g, "a").id).not.toBe(stageOf(g, "b").id);
    expect(stageOf(g, "a").names).toEqual(["a"]);
    expect(stageOf(g, "b").names).toEqual(["b"]);
  });

  it("a call that differs in one input gives two stages", () => {
    const g = compileText(`${PRELUDE}let other = init(lenet_300_100(), data, seed: 8)
let a = train(net0, data, 1 epoch)
let b = train(other, data, 1 epoch)
`);
    expect(stageOf(g, "a").id).not.toBe(stageOf(g, "b").id);
  });

  it("writing a default explicitly gives the same stage as omitting it", () => {
    const g = compileText(`let d1 = mnist()
let d2 = mnist(train: 8000, test: 2000, seed: 0)
let n1 = init(lenet_300_100(), d1)
let n2 = init(lenet_300_100(), d2, seed: 0, scheme: glorot)
let t1 = train(n1, d1, 1 epoch)
let t2 = train(n2, d2, 1 epoch, lr: 0.1, batch: 60, optimizer: sgd, momentum: 0.9, weight_decay: 0, schedule: constant, warmup: 0 steps, seed: 0)
let p1 = prune(t1, 20%)
let p2 = prune(t2, 20%, scope: layerwise, criterion: magnitude, output_rate: 20%, seed: 0)
let v1 = init(vgg(), d1)
let v2 = init(vgg(depth: 11, width: 1, batchnorm: true), d2)
`);
    for (const [x, y] of [["d1", "d2"], ["n1", "n2"], ["t1", "t2"], ["p1", "p2"], ["v1", "v2"]] as const) {
      expect(stageOf(g, y).id).toBe(stageOf(g, x).id);
      expect([...stageOf(g, x).names].sort()).toEqual([x, y]);
    }
    expect(ids(g)).toHaveLength(5);
  });

  it("writing a default explicitly gives identical params in a separate file", () => {
    const implicit = compileText(`${PRELUDE}let t = train(net0, data, 1 epoch)\nlet p = prune(t, 20%)\n`);
    const explicit = compileText(
      `${PRELUDE}let t = train(net0, data, 1 epoch, lr: 0.1, batch: 60, optimizer: sgd, momentum: 0.9, weight_decay: 0, schedule: constant, warmup: 0 epochs, seed: 0)
let p = prune(t, 20%, scope: layerwise, criterion: magnitude, output_rate: 20%, seed: 0)
`,
    );
    expect(byId(explicit)).toEqual(byId(implicit));
  });

  it("lenet_300_100() and mlp(hidden: [300, 100]) give one and the same init stage", () => {
    const g = compileText(`let data = mnist()
let a = init(lenet_300_100(), data, seed: 3)
let b = init(mlp(hidden: [300, 100]), data, seed: 3)
let c = init(mlp([300, 100]), data, seed: 3)
let d = init(mlp(hidden: [100, 300]), data, seed: 3)
`);
    expect(stageOf(g, "b").id).toBe(stageOf(g, "a").id);
    expect(stageOf(g, "c").id).toBe(stageOf(g, "a").id);
    expect(stageOf(g, "a").params["arch"]).toEqual({ arch: "mlp", hidden: [300, 100] });
    expect(stageOf(g, "d").id).not.toBe(stageOf(g, "a").id);
  });

  it("identical calls in different rounds of a for share one stage named by every round", () => {
    const g = compileText(`${PRELUDE}let same = for x in [1, 1] { yield reinit(net0, seed: x) }\n`);
    const reinits = allStages(g).filter((s) => s.op === "reinit");
    expect(reinits).toHaveLength(1);
    expect(reinits[0]!.names).toEqual(["same[0]", "same[1]"]);
    expect(listOf(g, "same")).toEqual([reinits[0]!.id, reinits[0]!.id]);
  });

  it("a call identical to a nested call elsewhere is shared with it", () => {
    const g = compileText(`${PRELUDE}let p = prune(net0, 20%)\nlet t = train(prune(net0, 20%), data, 1 epoch)\n`);
    expect(allStages(g).filter((s) => s.op === "prune")).toHaveLength(1);
    expect(at(g, "t").inputs["net"]).toBe("p");
    expect(at(g, "p").names).toEqual(["p", "t/prune"]);
  });

  it("sharing never makes two edges between the same pair of stages", () => {
    const g = compileText(`${PRELUDE}let y = rewind(net0, to: net0)\nlet d = mask_distance(net0, net0)\n`);
    expect(at(g, "y").inputs).toEqual({ net: "net0", to: "net0" });
    expect(g.graph.inDegree("y")).toBe(1);
    expect(g.graph.inDegree("d")).toBe(1);
  });
});

describe("the graph does not depend on how the file is written", () => {
  const original = `${PRELUDE}let dense = train(net0, data, 2 epochs)
let rounds = repeat 3 from dense as t {
  let pruned = prune(t, 20%)
  yield train(rewind(pruned, to: net0), data, 2 epochs)
}
let sweep = for s in [1, 2] { yield last(rounds) |> reinit(seed: s) |> train(data, 1 epoch) }
let score = evaluate(rounds[-1], data)
`;

  it("renaming every binding gives the same stages and edges up to ids", () => {
    const renamed = `let digits = mnist(train: 1000, test: 500)
let initial = init(lenet_300_100(), digits, seed: 7)
let baseline = train(initial, digits, 2 epochs)
let imp = repeat 3 from baseline as net {
  let thinned = prune(net, 20%)
  yield train(rewind(thinned, to: initial), digits, 2 epochs)
}
let controls = for seed in [1, 2] { yield last(imp) |> reinit(seed: seed) |> train(digits, 1 epoch) }
let result = evaluate(imp[-1], digits)
`;
    const a = compileText(original);
    const b = compileText(renamed);
    expect(canonical(b)).toEqual(canonical(a));
    expect(ids(b)).not.toEqual(ids(a));
  });

  it("reordering lines gives the same stages, ids and edges", () => {
    const lines = original.trimEnd().split("\n");
    // The lets are single lines except the repeat block (lines 3..6 of the file, 0-based 3..6).
    const block = lines.slice(3, 7).join("\n");
    const singles = [...lines.slice(0, 3), ...lines.slice(7)];
    const reordered = `${[...singles].reverse().join("\n")}\n${block}\n`;
    const a = compileText(original);
    const b = compileText(reordered);
    expect(byId(b)).toEqual(byId(a));
    expect(canonical(b)).toEqual(canonical(a));
    expect(new Set(b.graph.mapEdges((_e, _a, s, t) => `${s}->${t}`))).toEqual(new Set(a.graph.mapEdges((_e, _a, s, t) => `${s}->${t}`)));
  });

  it("reordering the lets inside a block gives the same stages", () => {
    const a = compileText(`${PRELUDE}let rr = repeat 2 from net0 as t {
  let p = prune(t, 20%)
  let w = rewind(p, to: net0)
  yield train(w, data, 1 epoch)
}
`);
    const b = compileText(`${PRELUDE}let rr = repeat 2 from net0 as t {
  let w = rewind(p, to: net0)
  let p = prune(t, 20%)
  yield train(w, data, 1 epoch)
}
`);
    expect(byId(b)).toEqual(byId(a));
  });

  it("adding comments and whitespace gives the same stages, ids and edges", () => {
    const commented = `// a header comment
/* a block
   comment */
${original.replace(/\n/g, "   // trailing\n\n").replace(/, /g, " /* c */ ,  ")}`;
    const a = compileText(original);
    const b = compileText(commented);
    expect(byId(b)).toEqual(byId(a));
    expect(canonical(b)).toEqual(canonical(a));
  });

  it("writing a pipe or a nested call gives the same stages up to ids", () => {
    const piped = compileText(`${PRELUDE}let c = net0 |> reinit(seed: 9) |> train(data, 1 epoch)\n`);
    const nested = compileText(`${PRELUDE}let c = train(reinit(net0, seed: 9), data, 1 epoch)\n`);
    const bound2 = compileText(`${PRELUDE}let r = reinit(net0, seed: 9)\nlet c = train(r, data, 1 epoch)\n`);
    expect(canonical(nested)).toEqual(canonical(piped));
    expect(canonical(bound2)).toEqual(canonical(piped));
  });
});

describe("files", () => {
  it("idx paths are resolved against the .lth file's folder into files, not params", () => {
    const g = compileText(`let d = idx("train-images.gz", "sub/../train-labels.gz", test_images: "../other/t10k.gz", test_labels: "/abs/t10k-labels.gz")\n`);
    const d = at(g, "d");
    expect(d.files).toEqual({
      images: "/p/train-images.gz",
      labels: "/p/train-labels.gz",
      test_images: "/other/t10k.gz",
      test_labels: "/abs/t10k-labels.gz",
    });
    expect(d.params).toEqual({});
    expect(d.inputs).toEqual({});
  });

  it("cifar10's folder goes to files and its counts to params", () => {
    const g = compileText(`let c = cifar10("data/cifar", train: 500)\n`);
    expect(at(g, "c").files).toEqual({ dir: "/p/data/cifar" });
    expect(at(g, "c").params).toEqual({ train: 500, test: 10000 });
  });

  it("an imported file's paths are resolved against its own folder", () => {
    const g = compileText(`import "lib/data.lth"\nlet n = init(lenet_300_100(), ds)\n`, {
      "lib/data.lth": `let ds = idx("a.idx", "b.idx", "c.idx", "d.idx")\n`,
    });
    expect(at(g, "ds").files).toEqual({ images: "/p/lib/a.idx", labels: "/p/lib/b.idx", test_images: "/p/lib/c.idx", test_labels: "/p/lib/d.idx" });
  });

  it("paths written differently that resolve to the same files are one stage", () => {
    const g = compileText(
      `import "lib/data.lth"
let here = idx("lib/a.idx", "./lib/b.idx", "lib/x/../c.idx", "/p/lib/d.idx")
`,
      { "lib/data.lth": `let there = idx("a.idx", "b.idx", "c.idx", "d.idx")\n` },
    );
    expect(stageOf(g, "here").id).toBe(stageOf(g, "there").id);
    expect(allStages(g)).toHaveLength(1);
  });

  it("paths that differ give different stages", () => {
    const g = compileText(`let a = idx("a.idx", "b.idx", "c.idx", "d.idx")\nlet b = idx("a.idx", "b.idx", "c.idx", "e.idx")\n`);
    expect(stageOf(g, "a").id).not.toBe(stageOf(g, "b").id);
  });
});

describe("imports", () => {
  const lib = `let data = mnist(train: 100, test: 100)
let net0 = init(lenet_300_100(), data)
`;

  it("a binding from an imported file is one stage, usable by the importer", () => {
    const g = compileText(`import "lib.lth"\nlet t = train(net0, data, 1 epoch)\n`, { "lib.lth": lib });
    expect(allStages(g).filter((s) => s.op === "mnist")).toHaveLength(1);
    expect(at(g, "data").source.file).toBe("/p/lib.lth");
    expect(at(g, "net0").source.file).toBe("/p/lib.lth");
    expect(at(g, "t").source.file).toBe("/p/main.lth");
    expect(at(g, "t").inputs).toEqual({ net: "net0", data: "data" });
    expect(g.graph.hasDirectedEdge("net0", "t")).toBe(true);
  });

  it("imported bindings are among the compiled bindings of the root file", () => {
    const g = compileText(`import "lib.lth"\nlet t = train(net0, data, 1 epoch)\n`, { "lib.lth": lib });
    expect(bound(g, "data")).toEqual({ kind: "stage", stage: "data" });
    expect(bound(g, "net0")).toEqual({ kind: "stage", stage: "net0" });
    expect(g.file).toBe("/p/main.lth");
  });

  it("a file imported along two paths (a diamond) is compiled once", () => {
    const g = compileText(`import "a.lth"\nimport "b.lth"\nlet m = mask_distance(na, nb)\n`, {
      "lib.lth": lib,
      "a.lth": `import "lib.lth"\nlet na = train(net0, data, 1 epoch)\n`,
      "b.lth": `import "lib.lth"\nlet nb = train(net0, data, 2 epochs)\n`,
    });
    expect(allStages(g).filter((s) => s.op === "mnist")).toHaveLength(1);
    expect(allStages(g).filter((s) => s.op === "init")).toHaveLength(1);
    expect(at(g, "na").inputs["net"]).toBe("net0");
    expect(at(g, "nb").inputs["net"]).toBe("net0");
    expect(at(g, "m").inputs).toEqual({ a: "na", b: "nb" });
  });

  it("an imported file's defaults apply to its own calls, not to the importer's", () => {
    const g = compileText(`import "lib.lth"\nlet mine = train(net0, data, 1 epoch)\n`, {
      "lib.lth": `${lib}defaults train { lr: 0.7 }\nlet theirs = train(net0, data, 1 epoch)\n`,
    });
    expect(at(g, "mine").params["lr"]).toBe(0.1);
    expect(at(g, "theirs").params["lr"]).toBe(0.7);
  });

  it("an importer's call identical to an imported one shares its stage", () => {
    const g = compileText(`import "lib.lth"\nlet mine = train(net0, data, 1 epoch)\n`, {
      "lib.lth": `${lib}let theirs = train(net0, data, 1 epoch)\n`,
    });
    expect(stageOf(g, "mine").id).toBe(stageOf(g, "theirs").id);
    expect([...stageOf(g, "mine").names].sort()).toEqual(["mine", "theirs"]);
  });
});

describe("the graph", () => {
  it("has one edge into each stage from each distinct stage among its inputs, and no other", () => {
    for (const text of [IMP, `${PRELUDE}let y = rewind(net0, to: net0)\nlet m = mask_distance(prune(net0, 10%), y)\n`]) {
      const g = compileText(text);
      for (const s of allStages(g)) {
        expect(new Set(g.graph.inNeighbors(s.id))).toEqual(new Set(Object.values(s.inputs)));
        expect(g.graph.inDegree(s.id)).toBe(new Set(Object.values(s.inputs)).size);
      }
    }
  });

  it("keys each stage by its id", () => {
    const g = compileText(IMP);
    for (const s of allStages(g)) expect(g.graph.getNodeAttributes(s.id).id).toBe(s.id);
  });

  it("is empty for a file without calls that compute", () => {
    const g = compileText(`let k = 5\nlet a = lenet_300_100()\n`);
    expect(g.graph.order).toBe(0);
    expect(g.graph.size).toBe(0);
    expect(bound(g, "k")).toEqual({ kind: "static", value: 5 });
  });
});
