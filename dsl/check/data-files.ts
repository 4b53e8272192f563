// The data files a pipeline reads (the `path` parameters of `idx`, `cifar10` and `cifar100`), checked
// before anything runs: each must exist, be the kind of thing its op reads (a file, or a
// folder holding the files of the set) and be readable. Paths are relative to the folder of
// the .lth file whose call names them, as the compiler resolves them. Only what the file
// system says (stat, access) is consulted, so `lth check` stays instant; whether a file's
// content is well-formed is for `plan` and `run` to find (code `cannot-run`).

import { accessSync, constants, statSync } from "node:fs";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";

/** What is at a path. `unreadable` says why it cannot be read (permission denied, …). */
export type DataEntry = { readonly kind: "file" | "folder" | "missing" } | { readonly kind: "unreadable"; readonly why: string };

/** Where the checker looks at data files: the disk for `lth check`, a map in tests. */
export interface DataFileHost {
  /** What is at `path` (absolute). */
  probe(path: string): DataEntry;
}

export const diskDataFiles: DataFileHost = {
  probe(path) {
    let folder: boolean;
    try {
      folder = statSync(path).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
      return { kind: "unreadable", why: reason(code, e) };
    }
    try {
      accessSync(path, folder ? constants.R_OK | constants.X_OK : constants.R_OK);
    } catch (e) {
      return { kind: "unreadable", why: reason((e as NodeJS.ErrnoException).code, e) };
    }
    return { kind: folder ? "folder" : "file" };
  },
};

function reason(code: string | undefined, e: unknown): string {
  if (code === "EACCES" || code === "EPERM") return "permission denied";
  if (code === "ELOOP") return "too many levels of symbolic links";
  if (code === "ENAMETOOLONG") return "the name is too long";
  return (e as Error).message ?? String(e);
}

/** The files of CIFAR-10's binary version, as runtime/data/cifar10.ts reads them (a test holds the two equal). */
export const CIFAR10_FILES: readonly string[] = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

/** The files of CIFAR-100's binary version, as runtime/data/cifar100.ts reads them (a test holds the two equal). */
export const CIFAR100_FILES: readonly string[] = ["train.bin", "test.bin"];

/** What a path parameter must name; a parameter not listed here must merely exist and be readable. */
type Expected =
  | "file"
  | {
      readonly folderWith: readonly string[];
      readonly describe: string;
      /** The name the set's archive is published under, which holds the folder. */
      readonly archive: string;
    };

const EXPECTED: Readonly<Record<string, Readonly<Record<string, Expected>>>> = {
  idx: { images: "file", labels: "file", test_images: "file", test_labels: "file" },
  cifar10: {
    dir: { folderWith: CIFAR10_FILES, describe: "CIFAR-10's binary version: data_batch_1.bin to data_batch_5.bin and test_batch.bin", archive: "cifar-10-binary.tar.gz" },
  },
  cifar100: {
    dir: { folderWith: CIFAR100_FILES, describe: "CIFAR-100's binary version: train.bin and test.bin", archive: "cifar-100-binary.tar.gz" },
  },
};

/**
 * The problem with the data path `written` (as the .lth file spells it) that parameter
 * `param` of `op` names, in a call in the file `lthFile`; undefined when there is none.
 */
export function dataFileProblem(host: DataFileHost, op: string, param: string, written: string, lthFile: string): string | undefined {
  const name = `'${param}'`;
  if (written === "") return `${name}: the path is empty`;
  const folder = dirname(lthFile);
  const path = resolve(folder, written);
  const expected = EXPECTED[op]?.[param];
  const entry = host.probe(path);
  switch (entry.kind) {
    case "unreadable":
      return `${name}: cannot read ${quoted(written)}: ${entry.why}`;
    case "missing": {
      const where = isAbsolute(written) ? "" : ` (a relative path is read from the folder of ${quoted(basename(lthFile))})`;
      return `${name}: ${quoted(written)} does not exist${where}${suggestion(host, written, folder, expected)}`;
    }
    case "folder":
      if (expected === "file") return `${name}: ${quoted(written)} is a folder; '${op}' reads a file here`;
      if (expected) {
        const absent = expected.folderWith.filter((f) => host.probe(join(path, f)).kind !== "file");
        if (absent.length > 0) return `${name}: ${quoted(written)} does not hold ${absent.join(", ")} (${expected.describe})`;
        const unreadable = expected.folderWith.map((f) => [f, host.probe(join(path, f))] as const).find(([, e]) => e.kind === "unreadable");
        if (unreadable) return `${name}: cannot read ${quoted(join(written, unreadable[0]))}: ${(unreadable[1] as { why: string }).why}`;
      }
      return undefined;
    case "file":
      if (expected && expected !== "file") return `${name}: ${quoted(written)} is a file; '${op}' reads a folder holding ${expected.describe}`;
      return undefined;
  }
}

/**
 * "; did you mean …?" for a missing file whose other form is there: `x.gz` for `x`, or `x`
 * for `x.gz` (`idx` reads both); for a missing folder, an archive beside it to extract first.
 */
function suggestion(host: DataFileHost, written: string, folder: string, expected: Expected | undefined): string {
  if (expected === undefined || expected === "file") {
    const other = written.endsWith(".gz") ? written.slice(0, -3) : `${written}.gz`;
    if (other !== "" && host.probe(resolve(folder, other)).kind === "file") return `; did you mean ${quoted(other)}?`;
    return "";
  }
  const parent = dirname(resolve(folder, written));
  const name = basename(resolve(folder, written));
  for (const archive of [`${name}.tar.gz`, `${name}.tgz`, expected.archive]) {
    if (host.probe(join(parent, archive)).kind !== "file") continue;
    return `; ${quoted(join(dirname(written), archive))} is beside it: extract it first (tar xzf ${quoted(archive)})`;
  }
  return "";
}

/** A path in a message: in double quotes, control and format characters as \u{…} escapes (LANGUAGE.md). */
function quoted(text: string): string {
  const escaped = text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\p{Cc}\p{Cf}\u2028\u2029\uFFFD]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
  return `"${escaped}"`;
}
