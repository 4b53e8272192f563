// `lth report FILE -o OUT.html`: the figures and table of each `report` block.

import { writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { accuracyBySparsity } from "../report/charts.js";
import { NotComputed } from "../plan.js";
import { collectNets, collectValues, renderReport } from "../report/report.js";
import { loadPipeline, openStore } from "./pipeline.js";

export async function reportCommand(file: string, options: { out?: string; store?: string; format?: string }, io: CommandIO): Promise<number> {
  const format = options.format ?? "html";
  if (format !== "html" && format !== "svg") {
    io.err(`lth report: unknown format '${format}'; use html, or svg for the accuracy-against-weights figure alone`);
    return EXIT.usage;
  }
  const loaded = loadPipeline(file, io);
  if (!loaded) return EXIT.usage;
  const { graph } = loaded;
  // A file without a report block reports every binding.
  const reports = graph.reports.length ? graph.reports : [{ names: [...graph.bindings.keys()] }];
  const store = openStore(graph, options.store, io.cwd);
  try {
    const sections = reports.map((r) => ({ title: r.title ?? basename(file), nets: collectNets(graph, store, r.names, file), values: collectValues(graph, store, r.names, file) }));
    const out = resolve(io.cwd, options.out ?? `${file.replace(/\.lth$/, "")}.${format}`);
    writeFileSync(out, format === "svg" ? await accuracyBySparsity(sections.flatMap((s) => s.nets)) : await renderReport(basename(file), sections));
    io.err(`wrote ${out}`);
    return EXIT.ok;
  } catch (e) {
    if (!(e instanceof NotComputed)) throw e;
    io.err(`lth report: ${e.message}`);
    return EXIT.failed;
  }
}
