// One LoFT worker: a process with its own tensor engine and its own copy of the training data
// (a process, not a thread: tfjs-node keeps one global backend per process, which threads
// would share unlocked).
// Each sync it receives its filters of each partitioned layer, the values of its sub-network,
// and its batches with their learning rates; it builds and trains only that sub-network (its filters of
// each partitioned layer, the next layer's matching input channels, every other layer whole)
// with a fresh optimizer, as the paper's released code re-creates its optimizer at each
// repartition, and sends back what it trained. A worker dealt the same filters again (the only
// worker of a one-worker run) keeps its sub-network and optimizer: nothing was repartitioned.

import { decodeArtifact } from "../../artifacts.js";
import type { Layer, NetValue } from "../../core/net.js";
import type { DatasetValue } from "../../core/dataset.js";
import { loadEngine, type BackendChoice } from "../../engine/backend.js";
import { type LayerValues, subnetwork, valuesOf, withValues } from "./slices.js";
import { EngineNet, features, toEngine } from "../../engine/model.js";
import { Optimizer, type OptimizerKind } from "../../engine/optimizer.js";
import { targetsOf, trainStep } from "../../engine/train.js";

export interface LoftWorkerData {
  readonly backend: BackendChoice;
  readonly net: Uint8Array;
  readonly data: Uint8Array;
  readonly optimizer: OptimizerKind;
  readonly momentum: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
}

export type ToLoftWorker =
  | ({ readonly type: "start" } & LoftWorkerData)
  | {
  readonly type: "round";
  /** The values of this worker's sub-network (`subnetwork`), layer by layer. */
  readonly layers: readonly LayerValues[];
  /** Per layer index: this worker's filters, for the partitioned layers. */
  readonly slices: Readonly<Record<number, Int32Array>>;
  readonly batches: readonly Int32Array[];
  /** The learning rate of each batch (the schedule's, at the batches all workers had consumed). */
  readonly lrs: readonly number[];
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
  const yTrain = targetsOf(tf, data.train);
  const yTrain2 = data.train.y2 ? tf.tensor1d(data.train.y2, "int32") : undefined;
  send({ type: "ready", backend: engine.backend });

  process.on("message", (m: ToLoftWorker) => {
    if (m.type !== "round") return;
    try {
      send(round(m));
    } catch (e) {
      send({ type: "failed", message: e instanceof Error ? e.message : String(e) });
    }
  });

  /** The sub-network and optimizer of the last sync, and the filters they were built for. */
  let held: { key: string; model: EngineNet; optimizer: Optimizer } | undefined;
  const release = () => {
    held?.optimizer.dispose();
    held?.model.dispose();
    held = undefined;
  };

  /** Trains this worker's sub-network on its batches, then sends back what it trained. */
  function round(m: Round): FromLoftWorker {
    const layers = subnetwork(template.layers, m.slices).map((l, i) => withValues(l, m.layers[i]!));
    const key = JSON.stringify(Object.entries(m.slices).map(([i, f]) => [i, [...f]]));
    if (held?.key === key) load(held.model, layers);
    else {
      release();
      // A layer fed by a partitioned one reads this worker's share of its channels, scaled back to the whole.
      const scales = new Map(Object.entries(m.slices).map(([i, f]) => [Number(i) + 1, template.layers[Number(i)]!.outputs / f.length]));
      const model = new EngineNet(tf, { ...template, layers }, scales);
      const optimizer = new Optimizer(tf, start.optimizer, start.momentum, start.weightDecay, 0, model.trainables(), engine.fusedUpdate, start.nesterov);
      held = { key, model, optimizer };
    }
    const { model, optimizer } = held;
    const variables = model.trainables().map((t) => t.variable);
    const losses = new Float64Array(m.batches.length);
    try {
      m.batches.forEach((idx, b) => {
        const loss = trainStep(tf, model, xTrain, yTrain, idx, variables, optimizer, m.lrs[b]!, undefined, undefined, yTrain2);
        losses[b] = loss.dataSync()[0]!;
        loss.dispose();
      });
    } catch (e) {
      release();
      throw e;
    }
    const slices: Record<number, Partial<LayerValues>> = {};
    const replicated: Record<number, Partial<LayerValues>> = {};
    model.read().forEach((l, i) => {
      const values = valuesOf(l);
      if (m.slices[i]) slices[i] = values;
      else if (m.slices[i - 1]) {
        // The weights this worker's filters feed are its slice; the layer's bias and batch norm are replicated.
        const { weight, ...perChannel } = values;
        slices[i] = { weight };
        replicated[i] = perChannel;
      } else replicated[i] = values;
    });
    return { type: "done", slices, replicated, losses };
  }

  /** Puts the coordinator's values into a held sub-network (replicated layers were averaged with the other workers'). */
  function load(model: EngineNet, layers: readonly Layer[]): void {
    model.params.forEach((p, i) => {
      const l = layers[i]!;
      tf.tidy(() => {
        p.weight.assign(tf.tensor(toEngine(l.weight, l), p.weight.shape));
        if (p.bias && l.bias) p.bias.assign(tf.tensor1d(l.bias));
        if (p.gamma && l.norm) p.gamma.assign(tf.tensor1d(l.norm.gamma));
        if (p.beta && l.norm) p.beta.assign(tf.tensor1d(l.norm.beta));
      });
      if (l.norm) {
        tf.dispose([p.mean!, p.variance!]);
        p.mean = tf.tensor1d(l.norm.mean);
        p.variance = tf.tensor1d(l.norm.variance);
      }
    });
  }
} catch (e) {
  send({ type: "failed", message: e instanceof Error ? e.message : String(e) });
}

