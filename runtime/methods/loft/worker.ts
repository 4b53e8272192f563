// One LoFT worker: a process with its own tensor engine and its own copy of the training data
// (a process, not a thread: tfjs-node keeps one global backend per process, which threads
// would share unlocked).
// Each sync it receives the whole current net, the filters of each partitioned layer that are
// its slice, and its batches; it trains the slice (everything else of those layers frozen)
// and the replicated layers, and sends back only the slice and the replicated layers.

import type * as TF from "@tensorflow/tfjs-core";
import { decodeArtifact } from "../../artifacts.js";
import { liveMask, type NetValue } from "../../core/net.js";
import type { DatasetValue } from "../../core/dataset.js";
import { loadEngine, type BackendChoice } from "../../engine/backend.js";
import { type LayerValues, PER_CHANNEL, takeInputs, takeOutputs, valuesOf, withValues } from "./slices.js";
import { EngineNet, features, toEngine, type Trainable } from "../../engine/model.js";
import { Optimizer } from "../../engine/optimizer.js";
import { trainStep } from "../../engine/train.js";

export interface LoftWorkerData {
  readonly backend: BackendChoice;
  readonly net: Uint8Array;
  readonly data: Uint8Array;
}

export type ToLoftWorker =
  | ({ readonly type: "start" } & LoftWorkerData)
  | {
  readonly type: "round";
  readonly layers: readonly LayerValues[];
  /** Per layer index: this worker's filters, for the partitioned layers. */
  readonly slices: Readonly<Record<number, Int32Array>>;
  readonly batches: readonly Int32Array[];
  readonly lr: number;
};
export type Round = Extract<ToLoftWorker, { type: "round" }>;

export type FromLoftWorker =
  | { readonly type: "ready"; readonly backend: string }
  | {
      readonly type: "done";
      /** Partitioned layer i: its filters' values; layer i + 1: its matching input channels' weights. */
      readonly slices: Readonly<Record<number, Partial<LayerValues>>>;
      /** Every other layer whole; for a layer after a partitioned one, its bias and batch norm. */
      readonly replicated: Readonly<Record<number, Partial<LayerValues>>>;
      readonly losses: Float64Array;
    }
  | { readonly type: "failed"; readonly message: string };

const send = (m: FromLoftWorker) => process.send!(m);
// Ends with its coordinator: a killed stage leaves no LoFT worker behind.
process.on("disconnect", () => process.exit(0));
const start = await new Promise<LoftWorkerData>((resolve) => process.once("message", (m: ToLoftWorker) => m.type === "start" && resolve(m)));

try {
  const engine = await loadEngine(start.backend);
  const { tf } = engine;
  const template = (decodeArtifact("Net", start.net, "loft net") as { net: NetValue }).net;
  const data = (decodeArtifact("Dataset", start.data, "loft data") as { dataset: DatasetValue }).dataset;
  const xTrain = features(tf, data, data.train);
  const yTrain = tf.tensor1d(data.train.y, "int32");
  send({ type: "ready", backend: engine.backend });

  process.on("message", (m: ToLoftWorker) => {
    if (m.type !== "round") return;
    try {
      send(round(m));
    } catch (e) {
      send({ type: "failed", message: e instanceof Error ? e.message : String(e) });
    }
  });

  /** Trains this worker's slice on its batches, then sends back what it owns. */
  function round(m: Round): FromLoftWorker {
    const net: NetValue = { ...template, layers: template.layers.map((l, i) => withValues(l, m.layers[i]!)) };
    const model = new EngineNet(tf, net);
    // Gradient masks: the net's own mask, and for a partitioned layer only its filters (and the next layer's matching inputs).
    const masks: Tensor[] = [];
    const trainables: Trainable[] = model.params.flatMap((p, i) => {
      const l = p.layer;
      const area = l.kernel * l.kernel;
      // Channels a channel mask removed never train, as in `train`.
      const live = l.channels ?? new Uint8Array(l.outputs).fill(1);
      const ownsOutput = new Uint8Array(l.outputs).fill(1);
      const ownsInput = new Uint8Array(l.inputs).fill(1);
      const own = m.slices[i];
      const fed = m.slices[i - 1];
      if (own) {
        ownsOutput.fill(0);
        own.forEach((o) => (ownsOutput[o] = 1));
      }
      if (fed) {
        ownsInput.fill(0);
        fed.forEach((c) => (ownsInput[c] = 1));
      }
      // Live weights of the owned filters, from the owned input channels.
      const keep = liveMask({ mask: l.mask, outputs: l.outputs, channels: Uint8Array.from(live, (c, o) => c & ownsOutput[o]!) });
      for (let j = 0; j < keep.length; j++) keep[j] = keep[j]! & ownsInput[Math.floor(j / area) % l.inputs]!;
      const weightMask = tf.tensor(toEngine(keep, l), p.weight.shape);
      masks.push(weightMask);
      const perChannel = own || l.channels ? tf.tensor1d(Float32Array.from(ownsOutput, (o, c) => o & live[c]!)) : undefined;
      if (perChannel) masks.push(perChannel);
      const channelVariables = [p.bias, p.gamma, p.beta].filter((v): v is TF.Variable => v !== undefined);
      return [{ variable: p.weight, mask: weightMask }, ...channelVariables.map((variable) => (perChannel ? { variable, mask: perChannel } : { variable }))];
    });
    const variables = trainables.map((t) => t.variable);
    const optimizer = new Optimizer(tf, "sgd", 0, 0, 0, trainables);
    const losses = new Float64Array(m.batches.length);
    try {
      m.batches.forEach((idx, b) => {
        const loss = trainStep(tf, model, xTrain, yTrain, idx, variables, optimizer, m.lr);
        losses[b] = loss.dataSync()[0]!;
        loss.dispose();
      });
      const trained = model.read();
      const slices: Record<number, Partial<LayerValues>> = {};
      const replicated: Record<number, Partial<LayerValues>> = {};
      trained.forEach((l, i) => {
        const values = valuesOf(l);
        const own = m.slices[i];
        const fed = m.slices[i - 1];
        if (own) {
          const part: Partial<LayerValues> = { weight: takeOutputs(values.weight, l.inputs * l.kernel * l.kernel, own) };
          for (const key of PER_CHANNEL) if (values[key]) part[key] = takeOutputs(values[key], 1, own);
          slices[i] = part;
          return;
        }
        const { weight, ...perChannel } = values;
        if (fed) {
          // The weights this worker's filters feed are its slice; the layer's bias and batch norm are replicated.
          slices[i] = { weight: takeInputs(weight, l, fed) };
          replicated[i] = perChannel;
        } else replicated[i] = values;
      });
      return { type: "done", slices, replicated, losses };
    } finally {
      optimizer.dispose();
      model.dispose();
      tf.dispose(masks);
    }
  }
} catch (e) {
  send({ type: "failed", message: e instanceof Error ? e.message : String(e) });
}

type Tensor = TF.Tensor;
