// Chooses the tensor backend (runtime/README.md, "Backends"): tfjs-node-gpu, then tfjs-node,
// then native (wasm with oneDNN's kernels), then wasm, then the plain CPU backend; and says
// why, so every result can record it.

import type * as TF from "@tensorflow/tfjs-core";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { availableParallelism } from "node:os";
import { loadNativeAddon, nativeUpdate, registerNativeKernels } from "./kernels/native.js";
import type { FusedUpdate } from "./optimizer.js";
import { registerWasmKernels } from "./kernels/wasm.js";

export type BackendChoice = "auto" | "tensorflow" | "native" | "wasm" | "cpu";
export const BACKEND_CHOICES: readonly BackendChoice[] = ["auto", "tensorflow", "native", "wasm", "cpu"];

export interface EngineOptions {
  /**
   * Threads a stage's kernels may use (oneDNN's OpenMP threads on native): the cores it was
   * given, by default all of them. wasm and cpu run on one thread whatever this says.
   */
  readonly threads?: number;
}

export interface Engine {
  readonly tf: typeof TF;
  /** The backend's name as recorded with results: "tensorflow" (with "-gpu" when CUDA), "native", "wasm", "cpu". */
  readonly backend: string;
  /** Threads its kernels use. */
  readonly threads: number;
  /** The optimizer's update as one kernel per variable, where the backend has one (native). */
  readonly fusedUpdate?: FusedUpdate;
  /** Why this backend: what was tried before it and failed. */
  readonly why: string;
}

export class BackendUnavailable extends Error {}

const require = createRequire(import.meta.url);

/** Loads a native package by a name TypeScript does not resolve: both are optional. */
async function loadNative(name: string): Promise<typeof TF> {
  const specifier: string = name;
  return (await import(specifier)) as typeof TF;
}

function reason(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  if (/Cannot find (package|module)/.test(text)) return "not installed";
  return text.split("\n")[0]!.slice(0, 160);
}

async function tensorflow(tried: string[]): Promise<Engine | undefined> {
  // Several worker processes may share one GPU: each takes memory as it needs it, not all at once.
  process.env["TF_FORCE_GPU_ALLOW_GROWTH"] ??= "true";
  for (const [pkg, name] of [["@tensorflow/tfjs-node-gpu", "tensorflow-gpu"], ["@tensorflow/tfjs-node", "tensorflow"]] as const) {
    try {
      const tf = await loadNative(pkg);
      await tf.setBackend("tensorflow");
      await tf.ready();
      return { tf, backend: name, threads: availableParallelism(), why: tried.length ? tried.join("; ") : `${pkg} loaded` };
    } catch (e) {
      tried.push(`${pkg}: ${reason(e)}`);
    }
  }
  return undefined;
}

async function portable(name: "native" | "wasm" | "cpu", tried: string[], threads: number): Promise<Engine | undefined> {
  // Checked before TensorFlow.js loads: a process that cannot have native has nothing to undo.
  const addon = name === "native" ? loadNativeAddon() : undefined;
  if (typeof addon === "string") {
    tried.push(`native: unavailable: ${addon}`);
    return undefined;
  }
  // The union package, not tfjs-core alone: its Node bundle is what registers the gradients
  // (tfjs-core's own registration module is ESM that Node cannot resolve).
  const tf = (await import("@tensorflow/tfjs")) as unknown as typeof TF;
  try {
    if (name === "wasm" || name === "native") {
      const wasm = await import("@tensorflow/tfjs-backend-wasm");
      wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/");
      registerWasmKernels(tf);
      if (addon) {
        addon.setThreads(threads);
        registerNativeKernels(tf, addon);
      }
    } else {
      await import("@tensorflow/tfjs-backend-cpu");
    }
    // PROD silences tfjs's console advice ("install our node backend"), which would interleave with lth's output.
    tf.env().set("PROD", true);
    // native is the wasm backend with oneDNN's kernels in place of its heavy ones.
    const tfName = name === "native" ? "wasm" : name;
    if (!(await tf.setBackend(tfName))) throw new Error(`the ${tfName} backend did not initialise`);
    await tf.ready();
    const detail = addon ? `oneDNN ${addon.info().dnnl} on ${threads} thread${threads === 1 ? "" : "s"}; ` : "";
    const why = detail + (tried.length ? tried.join("; ") : `${name} requested`);
    return addon ? { tf, backend: name, threads, why, fusedUpdate: nativeUpdate(tf, addon) } : { tf, backend: name, threads: 1, why };
  } catch (e) {
    tried.push(`${name}: ${reason(e)}`);
    return undefined;
  }
}

export async function loadEngine(choice: BackendChoice, options: EngineOptions = {}): Promise<Engine> {
  const tried: string[] = [];
  const threads = Math.max(1, Math.floor(options.threads ?? availableParallelism()));
  const order: ("tensorflow" | "native" | "wasm" | "cpu")[] = choice === "auto" ? ["tensorflow", "native", "wasm", "cpu"] : [choice];
  for (const name of order) {
    const engine = name === "tensorflow" ? await tensorflow(tried) : await portable(name, tried, threads);
    if (engine) return engine;
  }
  throw new BackendUnavailable(`backend ${choice} is not available: ${tried.join("; ")}`);
}
