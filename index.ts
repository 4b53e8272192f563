// The package's public API: the language front end. The compiler and runtime add their
// entry points here as they land.

export { checkProgram, memoryHost, ModuleLoader, diskHost } from "./dsl/check/index.js";
export type { CheckedProgram, CheckResult, ExprInfo, Module, SourceHost, Binding, LetBinding, ResolvedCall } from "./dsl/check/index.js";
export { parseSource, parseText, type ParsedFile } from "./dsl/parse.js";
export { formatText } from "./dsl/commands/fmt.js";
export { DIAGNOSTIC_CODES, formatDiagnosticLine, renderDiagnostic, type Diagnostic, type DiagnosticCode, type RenderedDiagnostic } from "./dsl/diagnostics.js";
export { LANGUAGE_VERSION, lookupOp, OPS, type OpDecl, type ParamDecl, type Bounds, type Constraint, type DefaultValue } from "./dsl/ops.js";
export { signature } from "./dsl/ops-doc.js";
export type { Type, Value } from "./dsl/types.js";
export { SourceFile, type Range, type Position } from "./dsl/source.js";
export type * as Ast from "./dsl/ast.js";

// The TypeScript API: build and run the same stages as `lth run`, from a script.
export { Experiment, ExperimentError, type ExperimentOptions } from "./runtime/api/experiment.js";
export { epochs, percent, steps, type Arch, type Dataset, type Duration, type Metrics, type Net, type Num, type Percent } from "./runtime/api/values.js";
export * from "./runtime/api/ops.generated.js";
export type { Counts, RunEvent } from "./runtime/execute/scheduler.js";
export type { ExecutorChoice } from "./runtime/execute/run.js";
export type { SlurmSite } from "./runtime/execute/slurm.js";
export { codegen } from "./compiler/codegen/script.js";
