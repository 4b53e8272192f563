// `lth graph`: the stage DAG as Graphviz DOT, Mermaid or JSON. Names and strings come from
// a user's file, so every label is escaped for the format it lands in.

import { topologicalSort } from "graphology-dag";
import type { SourceFile } from "../dsl/source.js";
import { lookupOp } from "../dsl/ops.js";
import { normalise } from "./stages.js";
import type { ParamValue, Stage, StageGraph, StageId } from "./stage.js";

export type GraphFormat = "dot" | "mermaid" | "json";
export const GRAPH_FORMATS: readonly GraphFormat[] = ["dot", "mermaid", "json"];

/** Stages in dependency order, ties broken by the order they were compiled in. */
export function stagesInOrder(graph: StageGraph): Stage[] {
  return (topologicalSort(graph.graph) as StageId[]).map((id) => graph.graph.getNodeAttributes(id));
}

/** A parameter as the user wrote it: `20%`, `5 epochs`, `mlp(hidden: [300, 100])`. */
export function showParam(op: string, param: string, v: ParamValue | undefined): string {
  if (v === undefined) return "unset";
  const type = lookupOp(op)?.params.find((p) => p.name === param)?.type.kind;
  if (type === "Percent" && typeof v === "number") return `${+(v * 100).toPrecision(12)}%`;
  if (Array.isArray(v)) return `[${v.map((x) => showParam(op, "", x)).join(", ")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, ParamValue>;
    if (typeof o["epochs"] === "number") return `${o["epochs"]} epoch${o["epochs"] === 1 ? "" : "s"}`;
    if (typeof o["steps"] === "number") return `${o["steps"]} step${o["steps"] === 1 ? "" : "s"}`;
    if (typeof o["arch"] === "string") {
      const rest = Object.entries(o).filter(([k]) => k !== "arch");
      return `${o["arch"]}(${rest.map(([k, x]) => `${k}: ${showParam(op, "", x)}`).join(", ")})`;
    }
  }
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** A stage's parameters that differ from its op's defaults, as `name: value`. */
export function nonDefaultParams(stage: Stage): string[] {
  const decl = lookupOp(stage.op);
  const isDefault = (param: string, v: ParamValue): boolean => {
    const d = decl?.params.find((p) => p.name === param)?.default;
    if (!d) return false;
    const expected = d.kind === "Param" ? stage.params[d.name] : normalise(d);
    return JSON.stringify(expected) === JSON.stringify(v);
  };
  return Object.entries(stage.params)
    .filter(([k, v]) => !isDefault(k, v))
    .map(([k, v]) => `${k}: ${showParam(stage.op, k, v)}`);
}

/** A stage's label: its id and its call, with only the parameters that differ from the op's defaults. */
function label(stage: Stage): string {
  // A data op's files by name (`train-images-idx3-ubyte.gz`, the folder `cifar-10-batches-bin`): which data, at a glance.
  const files = Object.values(stage.files).map((path) => path.split(/[\\/]/).filter(Boolean).pop() ?? path);
  return [stage.id, `${stage.op}(${[...files, ...nonDefaultParams(stage)].join(", ")})`].join("\n");
}

function dotString(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** Mermaid labels are quoted; quotes and markup characters become HTML entities. */
function mermaidString(s: string): string {
  const escaped = s.replace(/[&"<>#`{}|]/g, (c) => `#${c.charCodeAt(0)};`).replace(/\n/g, "<br/>");
  return `"${escaped}"`;
}

export function formatGraph(graph: StageGraph, format: GraphFormat, source?: (file: string) => SourceFile | undefined): string {
  const stages = stagesInOrder(graph);
  const index = new Map(stages.map((s, i) => [s.id, i]));
  const edges = graph.graph.mapEdges((_edge, _attrs, from, to) => [from as StageId, to as StageId] as const);
  switch (format) {
    case "dot": {
      const lines = ["digraph lth {", "  rankdir=TB;", '  node [shape=box, fontname="Helvetica"];'];
      for (const s of stages) lines.push(`  s${index.get(s.id)} [label=${dotString(label(s))}];`);
      for (const [from, to] of edges) lines.push(`  s${index.get(from)} -> s${index.get(to)};`);
      lines.push("}");
      return `${lines.join("\n")}\n`;
    }
    case "mermaid": {
      const lines = ["flowchart TD"];
      for (const s of stages) lines.push(`  s${index.get(s.id)}[${mermaidString(label(s))}]`);
      for (const [from, to] of edges) lines.push(`  s${index.get(from)} --> s${index.get(to)}`);
      return `${lines.join("\n")}\n`;
    }
    case "json": {
      const json = {
        file: graph.file,
        stages: stages.map((s) => {
          const file = source?.(s.source.file);
          const start = file?.position(s.source.range.start);
          return {
            id: s.id,
            op: s.op,
            version: s.version,
            params: s.params,
            inputs: s.inputs,
            files: s.files,
            result: s.result,
            names: s.names,
            source: { file: s.source.file, ...(start ? { line: start.line, column: start.column } : {}) },
          };
        }),
        edges: edges.map(([from, to]) => ({ from, to })),
      };
      return `${JSON.stringify(json, null, 2)}\n`;
    }
  }
}
