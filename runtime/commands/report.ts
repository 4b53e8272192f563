// `lth report FILE -o OUT.html`: the figures and table of each `report` block.

import { writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";
import type { CommandIO } from "../../dsl/commands/io.js";
import { EXIT } from "../../dsl/commands/io.js";
import { accuracyBySparsity } from "../report/charts.js";
import { collect, renderReport } from "../report/report.js";
import { tableRows, toCsv, toMarkdown } from "../report/table.js";
import { loadPipeline, openStore } from "./pipeline.js";
import { lthPackageRoot } from "./init.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

export async function reportCommand(file: string, options: { out?: string; store?: string; format?: string }, io: CommandIO): Promise<number> {
  const format = options.format ?? "html";
  if (!["html", "svg", "csv", "markdown"].includes(format)) {
    io.err(`lth report: unknown format '${format}'; use html, svg for the accuracy-against-weights figure alone, or csv or markdown for the table`);
    return EXIT.usage;
  }
  const loaded = loadPipeline(file, io);
  if (!loaded) return EXIT.usage;
  const { graph } = loaded;
  // A file without a report block reports every binding.
  const reports = graph.reports.length ? graph.reports : [{ names: [...graph.bindings.keys()] }];
  const store = openStore(graph, options.store, io.cwd);
  const sections = reports.map((r) => ({ title: r.title ?? basename(file), ...collect(graph, store, r.names, file) }));
  const missing = sections.flatMap((s) => s.missing);
  // Nothing to draw at all: say what to run rather than write a page of gaps.
  if (sections.every((s) => s.nets.length === 0 && s.values.length === 0 && s.replicates.length === 0)) {
    io.err(`lth report: nothing ${file} names is computed yet: run \`lth run ${file}\` first`);
    for (const m of missing) io.err(`  ${m.name}: ${m.why}`);
    return EXIT.failed;
  }
  const rows = () => sections.flatMap((s) => tableRows(s.title, s.nets, s.replicates, s.replicateNets));
  const content =
    format === "svg"
      ? await accuracyBySparsity(sections.flatMap((s) => s.nets), sections.flatMap((s) => s.replicates))
      : format === "csv"
        ? toCsv(rows())
        : format === "markdown"
          ? toMarkdown(rows())
          : await renderReport(basename(file), sections, { version: lthVersion() });
  // `-o -`: standard output, as codegen's.
  if (options.out === "-") io.out(content.replace(/\n$/, ""));
  else {
    const out = resolve(io.cwd, options.out ?? `${file.replace(/\.lth$/, "")}.${format === "markdown" ? "md" : format}`);
    writeFileSync(out, content);
    io.err(`wrote ${out}`);
  }
  // The page lists what it could not show; a person reading the terminal hears it too.
  if (missing.length) {
    io.err(`${missing.length} value${missing.length === 1 ? "" : "s"} not shown:`);
    for (const m of missing) io.err(`  ${m.name}: ${m.why}`);
  }
  return EXIT.ok;
}

/** The version of this lth, for the report's provenance. */
function lthVersion(): string {
  return (JSON.parse(readFileSync(join(lthPackageRoot(), "package.json"), "utf8")) as { version: string }).version;
}
