// `lth graph`'s output: the stage DAG as DOT, Mermaid and JSON, in dependency order, with
// every label escaped for the format it lands in.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkProgram, memoryHost, ModuleLoader } from "../../dsl/check/index.js";
import { SourceFile } from "../../dsl/source.js";
import { compile } from "../../compiler/compile.js";
import { formatGraph, GRAPH_FORMATS, stagesInOrder } from "../../compiler/graph-format.js";
import type { StageGraph } from "../../compiler/stage.js";

const PRELUDE = `let data = mnist(train: 1000, test: 500)
let net0 = init(lenet_300_100(), data, seed: 7)
`;

/** The example at the top of LANGUAGE.md, as shipped in pipelines/. */
const IMP = readFileSync(join(import.meta.dirname, "../../pipelines/lenet-imp.lth"), "utf8");

/** Nested loops, sharing, pipes and a stage used by many: a graph with some shape. */
const TANGLED = `${PRELUDE}let sweep = for s in [1, 2] {
  let r = repeat 2 from net0 as t {
    let p = prune(t, 20%, seed: s)
    yield train(p, data, 1 epoch, seed: s)
  }
  yield last(r)
}
let m = mask_distance(prune(net0, 10%), sweep[0])
let e = evaluate(sweep[-1] |> reinit(seed: 3) |> train(data, 1 epoch), data)
`;

function compileFiles(files: Record<string, string>, root = "/p/main.lth"): StageGraph {
  const result = checkProgram(root, new ModuleLoader(memoryHost(files)));
  if ("problem" in result) throw new Error(result.problem);
  if (!result.ok) throw new Error(`unexpected diagnostics: ${result.diagnostics.map((d) => `${d.code}: ${d.message}`).join("; ")}`);
  return compile(result.program);
}

function compileText(main: string): StageGraph {
  return compileFiles({ "/p/main.lth": main });
}

/** A source lookup over in-memory files, as `lth graph` passes one. */
function lookup(files: Record<string, string>): (path: string) => SourceFile | undefined {
  return (path) => (files[path] === undefined ? undefined : new SourceFile(path, files[path]));
}

/** The every-form fixture from disk, with its import. */
function everyForm(): { graph: StageGraph; path: string } {
  const path = join(import.meta.dirname, "../fixtures/valid/every-form.lth");
  const result = checkProgram(path);
  if ("problem" in result || !result.ok) throw new Error("every-form.lth does not check");
  return { graph: compile(result.program), path };
}

/**
 * Reads a DOT double-quoted string starting at `text[from]` (which must be `"`): its value
 * with `\"`, `\\` and `\n` undone, and where it ends. Any other escape is a failure, since
 * the formatter writes none.
 */
function readDotString(text: string, from: number): { value: string; end: number } {
  if (text[from] !== '"') throw new Error(`no string at ${from}: ${text.slice(from, from + 20)}`);
  let value = "";
  for (let i = from + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') return { value, end: i + 1 };
    if (c === "\\") {
      const next = text[++i];
      if (next === '"' || next === "\\") value += next;
      else if (next === "n") value += "\n";
      else throw new Error(`unexpected escape \\${next}`);
    } else value += c;
  }
  throw new Error("unterminated string");
}

/** The DOT node statements: index → decoded label; fails on any malformed line. */
function dotNodes(dot: string): Map<number, string> {
  const nodes = new Map<number, string>();
  for (const line of dot.split("\n")) {
    const m = /^ {2}s(\d+) \[label=/.exec(line);
    if (!m) continue;
    const { value, end } = readDotString(line, m[0].length);
    expect(line.slice(end)).toBe("];");
    nodes.set(Number(m[1]), value);
  }
  return nodes;
}

function dotEdges(dot: string): [number, number][] {
  return dot
    .split("\n")
    .map((line) => /^ {2}s(\d+) -> s(\d+);$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2])]);
}

/** The Mermaid node statements: index → decoded label (entities and `<br/>` undone). */
function mermaidNodes(mermaid: string): Map<number, { raw: string; label: string }> {
  const nodes = new Map<number, { raw: string; label: string }>();
  for (const line of mermaid.split("\n")) {
    const m = /^ {2}s(\d+)\["([^"]*)"\]$/.exec(line);
    if (!m) continue;
    const raw = m[2]!;
    const label = raw.replace(/<br\/>/g, "\n").replace(/#(\d+);/g, (_all, code: string) => String.fromCharCode(Number(code)));
    nodes.set(Number(m[1]), { raw, label });
  }
  return nodes;
}

function mermaidEdges(mermaid: string): [number, number][] {
  return mermaid
    .split("\n")
    .map((line) => /^ {2}s(\d+) --> s(\d+)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => [Number(m[1]), Number(m[2])]);
}

interface JsonGraph {
  file: string;
  stages: {
    id: string;
    op: string;
    version: number;
    params: Record<string, unknown>;
    inputs: Record<string, string>;
    files: Record<string, string>;
    result: string;
    names: string[];
    source: { file: string; line?: number; column?: number };
  }[];
  edges: { from: string; to: string }[];
}

function edgeSet(g: StageGraph): Set<string> {
  return new Set(g.graph.mapEdges((_e, _a, from, to) => `${from}->${to}`));
}

/** The Mermaid / DOT node index → stage id mapping: stages are numbered in stagesInOrder. */
function indexToId(g: StageGraph): string[] {
  return stagesInOrder(g).map((s) => s.id);
}

describe("stagesInOrder", () => {
  const graphs = () => [compileText(IMP), compileText(TANGLED), everyForm().graph];

  it("lists every stage exactly once", () => {
    for (const g of graphs()) {
      const order = stagesInOrder(g).map((s) => s.id);
      expect(order).toHaveLength(g.graph.order);
      expect(new Set(order)).toEqual(new Set(g.graph.nodes()));
    }
  });

  it("puts every input before the stage that uses it", () => {
    for (const g of graphs()) {
      const position = new Map<string, number>(stagesInOrder(g).map((s, i) => [s.id, i]));
      for (const s of stagesInOrder(g)) {
        for (const input of Object.values(s.inputs)) expect(position.get(input)!).toBeLessThan(position.get(s.id)!);
      }
      g.graph.forEachEdge((_e, _a, from, to) => expect(position.get(from)!).toBeLessThan(position.get(to)!));
    }
  });

  it("puts the rounds of a repeat in round order", () => {
    const order = stagesInOrder(compileText(IMP)).map((s) => s.id);
    const rounds = order.filter((id) => /^rounds\[\d\]$/.test(id));
    expect(rounds).toEqual(["rounds[0]", "rounds[1]", "rounds[2]", "rounds[3]", "rounds[4]"]);
    expect(order[0]).toBe("data");
    expect(order[order.length - 1]).toBe("control");
  });

  it("is empty for a graph without stages", () => {
    expect(stagesInOrder(compileText("let k = 5\n"))).toEqual([]);
  });
});

describe("GRAPH_FORMATS", () => {
  it("lists dot, mermaid and json, and each one formats", () => {
    expect([...GRAPH_FORMATS].sort()).toEqual(["dot", "json", "mermaid"]);
    const g = compileText(IMP);
    for (const format of GRAPH_FORMATS) {
      const out = formatGraph(g, format);
      expect(out.length).toBeGreaterThan(0);
      expect(out.endsWith("\n")).toBe(true);
    }
  });
});

describe("dot", () => {
  it("is a digraph with one node line per stage and one edge line per edge", () => {
    for (const g of [compileText(IMP), compileText(TANGLED), everyForm().graph]) {
      const dot = formatGraph(g, "dot");
      const lines = dot.trimEnd().split("\n");
      expect(lines[0]).toBe("digraph lth {");
      expect(lines[lines.length - 1]).toBe("}");
      const nodes = dotNodes(dot);
      const edges = dotEdges(dot);
      expect(nodes.size).toBe(g.graph.order);
      expect(edges).toHaveLength(g.graph.size);
      // Every line is the header, a node, an edge, or the closing brace.
      const statements = lines.slice(1, -1).filter((l) => !/^ {2}s\d+ (\[label=|-> s\d+;$)/.test(l));
      expect(statements).toEqual(["  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];']);
    }
  });

  it("numbers nodes in dependency order and its edges are exactly the graph's", () => {
    const g = compileText(TANGLED);
    const dot = formatGraph(g, "dot");
    const idOf = indexToId(g);
    expect([...dotNodes(dot).keys()]).toEqual(idOf.map((_id, i) => i));
    const edges = new Set(dotEdges(dot).map(([a, b]) => `${idOf[a]}->${idOf[b]}`));
    expect(edges).toEqual(edgeSet(g));
    for (const [a, b] of dotEdges(dot)) expect(a).toBeLessThan(b);
  });

  it("labels each node with its stage id, then its op and the params that differ from the op's defaults, percents as percents", () => {
    const g = compileText(IMP);
    const labels = dotNodes(formatGraph(g, "dot"));
    const idOf = indexToId(g);
    for (const [i, label] of labels) {
      const [id, call, ...rest] = label.split("\n");
      expect(id).toBe(idOf[i]);
      expect(call).toMatch(new RegExp(`^${g.graph.getNodeAttributes(idOf[i]!).op}\\(.*\\)$`));
      expect(rest).toEqual([]);
    }
    const of = (id: string) => labels.get(idOf.indexOf(id))!;
    // mnist's train 8000 and test 2000 are its defaults, as are glorot, layerwise and magnitude.
    expect(of("data")).toBe("data\nmnist(seed: 1)");
    expect(of("net0")).toBe("net0\ninit(arch: mlp(hidden: [300, 100]), seed: 7)");
    expect(of("rounds[2].pruned")).toBe("rounds[2].pruned\nprune(rate: 20%, output_rate: 10%)");
    expect(of("control/reinit")).toContain("seed: 99");
    expect(of("rounds[0]/rewind")).toBe("rounds[0]/rewind\nrewind()");
  });

  it("shows awkward percents as the percent that was written", () => {
    const g = compileText(`${PRELUDE}let a = prune(net0, 7%)\nlet b = prune(net0, 14.3%, output_rate: 0.1%)\nlet e = earlybird(init(vgg(), data), data, 30%, max: 2 epochs)\n`);
    const labels = [...dotNodes(formatGraph(g, "dot")).values()];
    const of = (id: string) => labels.find((l) => l.startsWith(`${id}\n`))!;
    expect(of("a")).toContain("rate: 7%");
    // output_rate defaults to rate: the same value is not shown again.
    expect(of("a")).not.toContain("output_rate");
    expect(of("b")).toContain("rate: 14.3%");
    expect(of("b")).toContain("output_rate: 0.1%");
    expect(of("e")).toContain("rate: 30%");
  });

  it("is a header and a brace for a graph without stages", () => {
    const dot = formatGraph(compileText("let k = 5\n"), "dot");
    expect(dot).toBe('digraph lth {\n  rankdir=TB;\n  node [shape=box, fontname="Helvetica"];\n}\n');
  });
});

describe("mermaid", () => {
  it("starts with flowchart TD and has one node line per stage and one edge line per edge", () => {
    for (const g of [compileText(IMP), compileText(TANGLED), everyForm().graph]) {
      const mermaid = formatGraph(g, "mermaid");
      const lines = mermaid.trimEnd().split("\n");
      expect(lines[0]).toBe("flowchart TD");
      expect(mermaidNodes(mermaid).size).toBe(g.graph.order);
      expect(mermaidEdges(mermaid)).toHaveLength(g.graph.size);
      expect(lines).toHaveLength(1 + g.graph.order + g.graph.size);
    }
  });

  it("has exactly the graph's edges between nodes numbered in dependency order", () => {
    const g = compileText(TANGLED);
    const idOf = indexToId(g);
    const edges = new Set(mermaidEdges(formatGraph(g, "mermaid")).map(([a, b]) => `${idOf[a]}->${idOf[b]}`));
    expect(edges).toEqual(edgeSet(g));
  });

  it("breaks the label between id and op with <br/> and decodes to the same label as DOT", () => {
    const g = compileText(IMP);
    const mermaid = mermaidNodes(formatGraph(g, "mermaid"));
    const dot = dotNodes(formatGraph(g, "dot"));
    expect(mermaid.get(0)!.raw).toBe("data<br/>mnist(seed: 1)");
    for (const [i, label] of dot) expect(mermaid.get(i)!.label).toBe(label);
  });

  it("escapes the # of a disambiguated id as an entity", () => {
    const g = compileText(`${PRELUDE}let m = mask_distance(prune(net0, 10%), prune(net0, 20%))\n`);
    const second = g.graph.nodes().find((id) => id.includes("#"));
    expect(second).toBe("m/prune#2");
    const raws = [...mermaidNodes(formatGraph(g, "mermaid")).values()].map((n) => n.raw);
    expect(raws.some((r) => r.startsWith("m/prune#35;2<br/>"))).toBe(true);
    expect([...dotNodes(formatGraph(g, "dot")).values()].some((l) => l.startsWith("m/prune#2\n"))).toBe(true);
  });
});

describe("json", () => {
  it("has the root file, every stage in dependency order and every edge", () => {
    const g = compileText(TANGLED);
    const json = JSON.parse(formatGraph(g, "json")) as JsonGraph;
    expect(json.file).toBe("/p/main.lth");
    expect(json.stages.map((s) => s.id)).toEqual(indexToId(g));
    expect(new Set(json.edges.map((e) => `${e.from}->${e.to}`))).toEqual(edgeSet(g));
    expect(json.edges).toHaveLength(g.graph.size);
  });

  it("carries each stage's op, version, params, inputs, files, result and names unchanged", () => {
    const g = compileText(IMP);
    const json = JSON.parse(formatGraph(g, "json")) as JsonGraph;
    for (const s of json.stages) {
      const stage = g.graph.getNodeAttributes(s.id);
      expect({ ...s, source: undefined }).toEqual({
        id: stage.id,
        op: stage.op,
        version: stage.version,
        params: stage.params,
        inputs: stage.inputs,
        files: stage.files,
        result: stage.result,
        names: stage.names,
        source: undefined,
      });
    }
  });

  it("gives each stage the 1-based line and column of its call when a source lookup is passed", () => {
    const files = { "/p/main.lth": IMP };
    const g = compileFiles(files);
    const json = JSON.parse(formatGraph(g, "json", lookup(files))) as JsonGraph;
    const source = (id: string) => json.stages.find((s) => s.id === id)!.source;
    expect(source("data")).toEqual({ file: "/p/main.lth", line: 3, column: 12 });
    expect(source("dense")).toEqual({ file: "/p/main.lth", line: 8, column: 13 });
    expect(source("rounds[3].pruned")).toEqual({ file: "/p/main.lth", line: 11, column: 16 });
    expect(source("rounds[3]/rewind")).toEqual({ file: "/p/main.lth", line: 12, column: 15 });
    expect(source("rounds[3]")).toEqual({ file: "/p/main.lth", line: 12, column: 9 });
    expect(source("control")).toEqual({ file: "/p/main.lth", line: 16, column: 15 });
  });

  it("counts columns in code points and places an imported stage in its own file", () => {
    const files = {
      "/p/main.lth": `import "lib/data.lth"\n/* é 😀 */ let t = train(net0, data, 1 epoch)\n`,
      "/p/lib/data.lth": `\n\nlet data = mnist()\nlet net0 = init(lenet_300_100(), data)\n`,
    };
    const g = compileFiles(files);
    const json = JSON.parse(formatGraph(g, "json", lookup(files))) as JsonGraph;
    const source = (id: string) => json.stages.find((s) => s.id === id)!.source;
    // `/* é 😀 */ let t = ` is 18 code points (21 UTF-16 units).
    expect(source("t")).toEqual({ file: "/p/main.lth", line: 2, column: 19 });
    expect(source("data")).toEqual({ file: "/p/lib/data.lth", line: 3, column: 12 });
    expect(source("net0")).toEqual({ file: "/p/lib/data.lth", line: 4, column: 12 });
  });

  it("gives the file alone, without line or column, when there is no source lookup or it knows no file", () => {
    const files = { "/p/main.lth": IMP };
    const g = compileFiles(files);
    for (const out of [formatGraph(g, "json"), formatGraph(g, "json", () => undefined)]) {
      const json = JSON.parse(out) as JsonGraph;
      for (const s of json.stages) expect(s.source).toEqual({ file: "/p/main.lth" });
    }
  });

  it("is an empty list of stages and edges for a graph without stages", () => {
    const json = JSON.parse(formatGraph(compileText("let k = 5\n"), "json")) as JsonGraph;
    expect(json).toEqual({ file: "/p/main.lth", stages: [], edges: [] });
  });
});

describe("hostile text", () => {
  const HOSTILE = 'we"ird\\dir <script>alert(1)</script> `${x}` {a|b} &amp; #34; \n line';
  /** `s` as a .lth string literal. */
  const lthString = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
  const text = `let d = idx(${lthString(HOSTILE)}, "b.idx", "c.idx", "d.idx")\nlet n = init(lenet_300_100(), d)\n`;

  it("a path with quotes, backslashes, markup, backticks and ${} reaches the stage's files unchanged", () => {
    const g = compileText(text);
    expect(g.graph.getNodeAttributes("d").files["images"]).toBe(`/p/${HOSTILE}`);
  });

  it("round-trips through JSON exactly", () => {
    const g = compileText(text);
    const json = JSON.parse(formatGraph(g, "json")) as JsonGraph;
    expect(json.stages.find((s) => s.id === "d")!.files["images"]).toBe(`/p/${HOSTILE}`);
  });

  it("reaches DOT and Mermaid labels only as the file's name, escaped: a data op's label names its files", () => {
    const g = compileText(text);
    const name = HOSTILE.split(/[\\/]/).pop()!;
    // DOT: the label reads back exactly (quotes, backslashes and newlines escaped).
    expect([...dotNodes(formatGraph(g, "dot")).values()][0]).toBe(`d\nidx(${name}, b.idx, c.idx, d.idx)`);
    // Mermaid: no markup, quote, backtick or brace survives unescaped.
    const mermaid = formatGraph(g, "mermaid").split("\n").find((l) => l.includes("idx("))!;
    const label = mermaid.slice(mermaid.indexOf('["') + 2, mermaid.lastIndexOf('"]'));
    expect(label.replaceAll("<br/>", "")).not.toMatch(/[<>"`{}|]/);
    expect(label).toContain("script#62; #96;$#123;x#125;#96;");
  });

  /**
   * No string a user writes reaches a label today (paths go to `files`, ids are built from
   * identifiers, enums are identifiers); these put hostile text in a stage's params
   * directly, to hold the escaping itself. (The id stays: nodes are keyed by it.)
   */
  function hostileGraph(): StageGraph {
    const g = compileText(`${PRELUDE}let r = reinit(net0, seed: 1)\n`);
    g.graph.mergeNodeAttributes("r", { params: { note: HOSTILE, seed: 1 } });
    return g;
  }
  /** The label of stage r, as DOT decodes it. */
  const hostileLabel = (g: StageGraph): string => {
    const label = [...dotNodes(formatGraph(g, "dot")).values()].find((l) => l.startsWith("r\n"));
    if (!label) throw new Error("no label for r");
    return label;
  };

  it("a DOT label with hostile text stays one valid quoted string and decodes to the label", () => {
    const dot = formatGraph(hostileGraph(), "dot");
    const label = hostileLabel(hostileGraph());
    expect(label.startsWith("r\nreinit(")).toBe(true);
    expect(label).toContain(HOSTILE);
    // The raw newline of the text is escaped: no statement spans two lines.
    const lines = dot.trimEnd().split("\n");
    expect(lines).toHaveLength(3 + 3 + 2 + 1);
    expect(dotEdges(dot)).toHaveLength(2);
  });

  it("a Mermaid label with hostile text has no raw quote, markup, backtick or brace, and decodes to the label", () => {
    const mermaid = formatGraph(hostileGraph(), "mermaid");
    const nodes = [...mermaidNodes(mermaid).values()];
    expect(nodes).toHaveLength(3);
    const node = nodes.find((n) => n.label === hostileLabel(hostileGraph()));
    expect(node).toBeDefined();
    const raw = node!.raw;
    expect(raw).not.toContain('"');
    expect(raw).not.toMatch(/<script/i);
    expect(raw.replace(/<br\/>/g, "")).not.toMatch(/[<>`{}|"]/);
    expect(raw).not.toContain("\n");
    expect(mermaid.trimEnd().split("\n")).toHaveLength(1 + 3 + 2);
  });

  it("JSON with hostile text in params parses back to the same values", () => {
    const json = JSON.parse(formatGraph(hostileGraph(), "json")) as JsonGraph;
    const r = json.stages.find((s) => s.op === "reinit")!;
    expect(r.id).toBe("r");
    expect(r.params["note"]).toBe(HOSTILE);
  });
});
