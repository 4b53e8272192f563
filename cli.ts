#!/usr/bin/env node
// The `lth` command: parses the command line and hands each command to the phase that
// owns it. Commands load lazily, so `lth check` never loads what `lth run` needs.

import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { dirname } from "node:path";
import { EXIT, processIO } from "./dsl/commands/io.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

// A reader that stops reading (`lth run … | head`) is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const program = new Command("lth")
  .description("Typed, cached experiment pipelines for Lottery Ticket Hypothesis research")
  .version(version)
  .showHelpAfterError()
  .exitOverride();

program
  .command("check")
  .description("parse and type-check .lth files; print every problem with its line and column")
  .argument("<files...>", ".lth files, or folders to search for them")
  .option("--json", "print the diagnostics as a JSON array")
  .action(async (files: string[], options: { json?: boolean }) => {
    const { checkCommand } = await import("./dsl/commands/check.js");
    process.exitCode = checkCommand(files, options, processIO);
  });

program
  .command("fmt")
  .description("rewrite .lth files in canonical form, keeping every comment")
  .argument("<files...>", ".lth files, or folders to search for them")
  .option("--check", "change nothing; list the files that are not formatted and exit 1")
  .action(async (files: string[], options: { check?: boolean }) => {
    const { fmtCommand } = await import("./dsl/commands/fmt.js");
    process.exitCode = fmtCommand(files, options, processIO);
  });

program
  .command("lsp")
  .description("a Language Server Protocol server over standard input and output, for editors (diagnostics, hover, completion, definition, references, rename, symbols, folding, formatting)")
  .option("--stdio", "talk over standard input and output (the default; accepted as editors pass it)")
  .action(async () => {
    const { startServer } = await import("./dsl/lsp/server.js");
    // The runtime's half: lenses planned from the store (no tensor engine), and a binding run as `lth run FILE NAME` in a child process.
    const { bindingLenses } = await import("./runtime/commands/lens.js");
    const { execFile } = await import("node:child_process");
    const cliPath = fileURLToPath(import.meta.url);
    process.exitCode = await startServer({
      lenses: (path) => bindingLenses(path),
      run: (path, name) =>
        new Promise((resolve) =>
          execFile(process.execPath, [cliPath, "run", path, name], { cwd: dirname(path), maxBuffer: 64 * 2 ** 20 }, (error, _stdout, stderr) =>
            resolve(error ? { ok: false, message: `lth run ${name}: ${stderr.trim().split("\n").slice(-3).join(" ") || error.message}` } : { ok: true, message: `lth run ${name}: done` }),
          ),
        ),
    });
  });

program
  .command("ops")
  .description("print the standard library: every op with its parameters, types, ranges and defaults")
  .option("--json", "as JSON")
  .option("--markdown", "as the Markdown table of dsl/LANGUAGE.md")
  .action(async (options: { json?: boolean; markdown?: boolean }) => {
    const { opsCommand } = await import("./dsl/commands/ops.js");
    process.exitCode = opsCommand(options, processIO);
  });

const storeOption = "--store <dir>";
const storeHelp = "the store folder (default: $LTH_STORE, else .lth/ beside the pipeline)";

/** SLURM's site settings, the same for `run` and `plan` (slurm.json beside the pipeline gives defaults). */
function withSlurmOptions(command: Command): Command {
  return command
    .option("--partition <name>", "slurm: the partition to submit to")
    .option("--account <name>", "slurm: the account to charge")
    .option("--qos <name>", "slurm: the quality of service")
    .option("--constraint <features>", "slurm: node features a job needs")
    .option("--gres", "slurm: ask for GPUs as --gres=gpu:N instead of --gpus=N")
    .option("--sbatch <arg>", "slurm: one more sbatch argument, as is (repeatable)", (arg: string, all: string[] = []) => [...all, arg])
    .option("--cpus <n>", "slurm: CPUs each job asks for, and native's threads there (default: this machine's cores)");
}

withSlurmOptions(
  program
    .command("plan")
    .description("say, for every stage, whether a run would use the cache or run it, and why")
    .argument("<file>", "the .lth pipeline")
    .argument("[names...]", "bindings to plan for (default: all)")
    .option("--json", "as JSON")
    .option(storeOption, storeHelp)
    .option("--executor <name>", "local | slurm: with slurm, also what each tensor stage would be submitted as", "local"),
).action(async (file: string, names: string[], options: RunCliOptions) => {
  const { planCommand } = await import("./runtime/commands/plan.js");
  process.exitCode = planCommand(file, names, options, processIO);
});

type RunCliOptions = {
  json?: boolean;
  store?: string;
  backend?: string;
  jobs?: string;
  executor?: string;
  partition?: string;
  account?: string;
  qos?: string;
  constraint?: string;
  gres?: boolean;
  sbatch?: string[];
  cpus?: string;
};

withSlurmOptions(
  program
    .command("run")
    .description("bring the named bindings (default: all) up to date, rerunning only what changed")
    .argument("<file>", "the .lth pipeline")
    .argument("[names...]", "bindings to compute (default: all)")
    .option("--backend <name>", "auto | tensorflow | native | wasm | cpu (auto: the first that loads, in that order)", "auto")
    .option("--jobs <n>", "stages to run at once in worker processes, each using cores ÷ jobs threads on native (default: 1 on native, whose kernels use every core; else the number of cores)")
    .option("--json", "one JSON object per line: stage events, then a summary")
    .option(storeOption, storeHelp)
    .option("--executor <name>", "local (worker processes here) | slurm (each tensor stage a batch job; the store must be on a filesystem the nodes share)", "local"),
).action(async (file: string, names: string[], options: RunCliOptions) => {
  const { runCommand } = await import("./runtime/commands/run.js");
  process.exitCode = await runCommand(file, names, options, processIO);
});

program
  .command("show")
  .description("print a computed binding: a net's accuracy, weights per layer and training history; a list's items")
  .argument("<file>", "the .lth pipeline")
  .argument("<name>", "a binding (or a stage id such as rounds[2].pruned)")
  .option("--json", "as JSON")
  .option("--csv", "the report's table of its nets as CSV (net, weights remaining, accuracy final / best / at early stop)")
  .option(storeOption, storeHelp)
  .action(async (file: string, name: string, options: { json?: boolean; csv?: boolean; store?: string }) => {
    const { showCommand } = await import("./runtime/commands/show.js");
    process.exitCode = showCommand(file, name, options, processIO);
  });

program
  .command("graph")
  .description("print the stage DAG")
  .argument("<file>", "the .lth pipeline")
  .option("--format <format>", "dot | mermaid | json", "dot")
  .action(async (file: string, options: { format?: string }) => {
    const { graphCommand } = await import("./runtime/commands/graph.js");
    process.exitCode = graphCommand(file, options, processIO);
  });

program
  .command("init")
  .description("set up a folder for experiments of your own: package.json (lth and tsx as dependencies), a sample pipeline, .gitignore for the store")
  .argument("[dir]", "the folder (default: the current one); nothing in it is overwritten")
  .action(async (dir: string | undefined) => {
    const { initCommand } = await import("./runtime/commands/init.js");
    process.exitCode = initCommand(dir, processIO);
  });

program
  .command("codegen")
  .description("write the pipeline as a TypeScript script that builds and runs the same stages (same keys, same store)")
  .argument("<file>", "the .lth pipeline")
  .option("-o, --out <file>", "the script to write (default: FILE with .ts; - for stdout)")
  .action(async (file: string, options: { out?: string }) => {
    const { codegenCommand } = await import("./compiler/commands/codegen.js");
    process.exitCode = codegenCommand(file, options, processIO);
  });

program
  .command("report")
  .description("write one self-contained HTML page with the figures and table of each report block")
  .argument("<file>", "the .lth pipeline (run it first)")
  .option("-o, --out <file>", "the page to write (default: FILE with .html or .svg)")
  .option("--format <format>", "html (the page), svg (the accuracy-against-weights figure alone), csv or markdown (the table; -o - writes to standard output)", "html")
  .option(storeOption, storeHelp)
  .action(async (file: string, options: { out?: string; store?: string; format?: string }) => {
    const { reportCommand } = await import("./runtime/commands/report.js");
    process.exitCode = await reportCommand(file, options, processIO);
  });

program
  .command("gc")
  .description(
    "remove from the store what no pipeline needs: keeps what the given pipelines need now and what every other pipeline recorded in the store (by running it there) needs; reports the bytes freed",
  )
  .argument("<files...>", "the .lth pipelines whose current results to keep")
  .option(storeOption, storeHelp)
  .option("--dry-run", "list what would be removed and how many bytes it holds; remove nothing")
  .option("--only-given", "keep only what the given pipelines need: also remove what other pipelines recorded in the store need (their next run recomputes it)")
  .option("--forget-missing", "drop the records of pipeline files that no longer exist, and what only they keep")
  .option("--json", "as JSON")
  .action(async (files: string[], options: { store?: string; json?: boolean; dryRun?: boolean; onlyGiven?: boolean; forgetMissing?: boolean }) => {
    const { gcCommand } = await import("./runtime/commands/gc.js");
    process.exitCode = await gcCommand(files, options, processIO);
  });

/**
 * The last word on anything a command did not handle: one line naming what went wrong, never
 * a stack trace (LTH_DEBUG=1 prints it, for a bug report). Exit 1, like a failed stage.
 */
function fatal(e: unknown): void {
  const error = e instanceof Error ? e : new Error(String(e));
  // Failed system calls and the store's own errors say what and where; anything else is a bug in lth.
  const expected = typeof (error as NodeJS.ErrnoException).syscall === "string" || error.name === "StoreWriteError";
  process.stderr.write(`lth: ${expected ? "" : "internal error: "}${error.message}\n`);
  if (process.env["LTH_DEBUG"]) process.stderr.write(`${error.stack ?? ""}\n`);
  else if (!expected) process.stderr.write("lth: run again with LTH_DEBUG=1 for the stack trace, and please report it\n");
  process.exit(EXIT.failed);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

try {
  // Test hooks: LTH_FAULT (the crash and full-disk tests) reaches the store's writes through
  // the store's write probe; the module is not even loaded without it.
  if (process.env["LTH_FAULT"]) (await import("./runtime/store/faults.js")).installFaults();
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version end here too, with status 0; every other parse failure is a usage error.
    process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  } else fatal(e);
}
