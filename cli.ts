#!/usr/bin/env node
// The `lth` command: parses the command line and hands each command to the phase that
// owns it. Commands load lazily, so `lth check` never loads what `lth run` needs.

import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { EXIT, processIO } from "./dsl/commands/io.js";

const { version } = createRequire(import.meta.url)("../package.json") as { version: string };

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
  .command("ops")
  .description("print the standard library: every op with its parameters, types, ranges and defaults")
  .option("--json", "as JSON")
  .option("--markdown", "as the Markdown table of dsl/LANGUAGE.md")
  .action(async (options: { json?: boolean; markdown?: boolean }) => {
    const { opsCommand } = await import("./dsl/commands/ops.js");
    process.exitCode = opsCommand(options, processIO);
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (!(e instanceof CommanderError)) throw e;
  // --help and --version end here too, with status 0; every other parse failure is a usage error.
  process.exitCode = e.exitCode === 0 ? EXIT.ok : EXIT.usage;
}
