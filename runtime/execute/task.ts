// One stage as a self-contained task: its key, op, parameters and input artifacts by
// content. A task runs the same in this process, in a worker, or on another machine that
// shares the store.

import type { ParamValue, ResultKind, StageId } from "../../compiler/stage.js";
import { decodeArtifact, encodeArtifact, EXTENSION, type Artifact } from "../artifacts.js";
import type { Engine } from "../engine/backend.js";
import type { OpContext } from "../ops/context.js";
import { IMPLEMENTATIONS } from "../ops/index.js";
import type { TrainingProgress } from "../ui/progress.js";
import type { ArtifactRef, StageKey, Store } from "../store/store.js";

export interface StageTask {
  readonly id: StageId;
  readonly op: string;
  readonly key: StageKey;
  readonly result: ResultKind;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly inputs: Readonly<Record<string, { readonly ref: ArtifactRef; readonly kind: ResultKind }>>;
  readonly files: Readonly<Record<string, string>>;
}

/** Runs a task and stores its output; returns the output's reference. */
export async function runTask(task: StageTask, store: Store, engine: Engine | undefined, progress: (p: TrainingProgress) => void): Promise<ArtifactRef> {
  const impl = IMPLEMENTATIONS.get(task.op);
  if (!impl) throw new Error(`internal: no implementation of '${task.op}'`);
  const inputs: Record<string, Artifact> = {};
  for (const [param, { ref, kind }] of Object.entries(task.inputs)) {
    inputs[param] = decodeArtifact(kind, store.readObject(ref), store.objectPath(ref));
  }
  const ctx: OpContext = { stage: task.id, params: task.params, inputs, files: task.files, progress };
  const artifact = await impl.run(ctx, engine);
  return store.putObject(encodeArtifact(artifact), EXTENSION[task.result]);
}
