// Loads a `.lth` file and everything it imports: paths relative to the importing file,
// missing files and import cycles reported at the import's path string.

import { readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import type { FileNode, ImportItem } from "../ast.js";
import { error, type Diagnostic } from "../diagnostics.js";
import { parseSource } from "../parse.js";
import { SourceFile } from "../source.js";

/** Where source text comes from: the disk for the CLI, a map in tests. */
export interface SourceHost {
  /** The file's text, or a reason it cannot be read. */
  read(path: string): { text: string } | { problem: string };
}

export const diskHost: SourceHost = {
  read(path) {
    try {
      if (statSync(path).isDirectory()) return { problem: "it is a folder" };
      return { text: readFileSync(path, "utf8") };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { problem: code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : String(e) };
    }
  },
};

export interface ModuleImport {
  readonly item: ImportItem;
  /** Absent when the file could not be read. */
  readonly target?: Module;
}

export interface Module {
  readonly source: SourceFile;
  readonly ast: FileNode;
  readonly imports: readonly ModuleImport[];
  readonly syntaxErrors: boolean;
  /** One of this file's imports failed. */
  readonly incompleteImports: boolean;
}

export interface LoadedProgram {
  readonly root: Module;
  /** Every module reached, root first, in the order they were loaded. */
  readonly modules: readonly Module[];
  readonly diagnostics: readonly Diagnostic[];
}

interface MutableModule {
  source: SourceFile;
  ast: FileNode;
  imports: ModuleImport[];
  syntaxErrors: boolean;
  incompleteImports: boolean;
}

/** Loads modules once per path, so diamonds and repeated roots share one module. */
export class ModuleLoader {
  private readonly cache = new Map<string, MutableModule>();
  /** Cycles already reported, by their files: one reached from two roots is one problem. */
  private readonly cycles = new Set<string>();
  readonly diagnostics: Diagnostic[] = [];

  constructor(private readonly host: SourceHost = diskHost) {}

  /** Loads `path` (absolute) and its imports, or says why the file itself cannot be read. */
  load(path: string): LoadedProgram | { problem: string } {
    const text = this.host.read(path);
    if ("problem" in text) return { problem: text.problem };
    const root = this.module(path, text.text);
    const modules: Module[] = [];
    this.walk(root, [], new Set(), modules);
    const files = new Set(modules.map((m) => m.source));
    return { root, modules, diagnostics: this.diagnostics.filter((d) => files.has(d.file)) };
  }

  private module(path: string, text: string): MutableModule {
    const cached = this.cache.get(path);
    if (cached) return cached;
    const parsed = parseSource(new SourceFile(path, text));
    const module: MutableModule = {
      source: parsed.source,
      ast: parsed.ast,
      imports: [],
      syntaxErrors: parsed.diagnostics.length > 0,
      incompleteImports: false,
    };
    this.cache.set(path, module);
    this.diagnostics.push(...parsed.diagnostics);
    for (const item of parsed.ast.items) {
      if (item.kind !== "Import") continue;
      const target = resolve(dirname(path), item.path.value);
      const read = item.path.value === "" ? { problem: "the path is empty" } : this.host.read(target);
      if ("problem" in read) {
        module.incompleteImports = true;
        module.imports.push({ item });
        this.diagnostics.push(
          error(
            module.source,
            item.path.range,
            "import-not-found",
            `cannot import "${item.path.value}": ${read.problem}`,
          ),
        );
        continue;
      }
      module.imports.push({ item, target: this.module(target, read.text) });
    }
    return module;
  }

  /** Depth-first over imports; a path back into the stack is a cycle. */
  private walk(module: MutableModule, stack: MutableModule[], done: Set<MutableModule>, order: Module[]): void {
    if (done.has(module)) return;
    done.add(module);
    order.push(module);
    stack.push(module);
    for (const edge of module.imports) {
      const target = edge.target as MutableModule | undefined;
      if (!target) continue;
      const at = stack.indexOf(target);
      if (at >= 0) {
        this.reportCycle(stack.slice(at), edge);
        continue;
      }
      this.walk(target, stack, done, order);
    }
    stack.pop();
  }

  /** Reported at the import by which the cycle's first file enters it. */
  private reportCycle(cycle: MutableModule[], closing: ModuleImport): void {
    const identity = cycle.map((m) => m.source.path).sort().join("\0");
    if (this.cycles.has(identity)) return;
    this.cycles.add(identity);
    const [first] = cycle;
    const next = cycle[1];
    const edge = next ? first!.imports.find((i) => i.target === next)! : closing;
    // Paths as seen from the file the error is in, like the import strings themselves.
    const from = dirname(first!.source.path);
    const names = [...cycle, first!].map((m) => relative(from, m.source.path));
    this.diagnostics.push(error(first!.source, edge.item.path.range, "import-cycle", `import cycle: ${names.join(" → ")}`));
  }
}
