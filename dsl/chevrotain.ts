// Chevrotain, loaded from the single-file ESM bundle its package ships. The package's
// entry point imports several hundred lodash-es modules one by one: 270 ms before `lth
// check` can start on the build machine, against 60 ms for the bundle (same version, same
// exports; tests/dsl/parser.test.ts holds them equal). Without the bundle, the entry point.

import type * as Chevrotain from "chevrotain";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const entry = createRequire(import.meta.url).resolve("chevrotain");
export const CHEVROTAIN_BUNDLE = join(dirname(entry), "../chevrotain.mjs");

const chevrotain = (await import(pathToFileURL(existsSync(CHEVROTAIN_BUNDLE) ? CHEVROTAIN_BUNDLE : entry).href)) as typeof Chevrotain;

export const { createToken, CstParser, EOF, Lexer } = chevrotain;
