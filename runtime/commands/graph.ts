// `lth graph FILE --format dot|mermaid|json`: the stage DAG, without running anything.

import { formatGraph, GRAPH_FORMATS, type GraphFormat } from "../../compiler/graph-format.js";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { loadPipeline } from "./pipeline.js";
import { readFileSync } from "node:fs";
import { SourceFile } from "../../dsl/source.js";

export function graphCommand(file: string, options: { format?: string }, io: CommandIO): number {
  const format = (options.format ?? "dot") as GraphFormat;
  if (!GRAPH_FORMATS.includes(format)) {
    io.err(`lth graph: unknown format '${format}'; use ${GRAPH_FORMATS.join(", ")}`);
    return EXIT.usage;
  }
  const loaded = loadPipeline(file, io, options.format === "json" ? "array" : undefined);
  if (!loaded) return EXIT.usage;
  const sources = new Map<string, SourceFile>();
  const source = (path: string) => {
    if (!sources.has(path)) sources.set(path, new SourceFile(path, readFileSync(path, "utf8")));
    return sources.get(path);
  };
  io.out(formatGraph(loaded.graph, format, source).trimEnd());
  return EXIT.ok;
}
