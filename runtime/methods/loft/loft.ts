// LoFT (Wang, Dun, Liao, Jermaine & Kyrillidis, AISTATS 2023): filter-wise, model-parallel
// pretraining. The coordinator (this stage) starts `workers` processes, each with its own tensor
// engine. Every sync it shuffles the filters of each partitioned conv layer and deals them out
// round-robin; each worker builds and trains, for `local_steps` steps on its own batches, only
// its sub-network: its filters of each partitioned layer, the next layer's matching input
// channels, and the replicated layers (momentum and weight decay as `train`'s, the optimizer
// re-created at each repartition, as in the paper's released code). Slices are written back
// (they are disjoint); replicated layers are averaged.
//
// Bytes are counted from the typed arrays actually posted: each worker's sub-network and its
// filter indices out, the same sub-network trained back. Batch indices are not counted: in a
// real deployment each worker reads its own shard. Memory and multiply-adds are counted from
// the shapes of the full net and of each worker's sub-network (`netCost`).

import type { ChildProcess } from "node:child_process";
import { encodeArtifact } from "../../artifacts.js";
import type { LoftCost, LoftRecord } from "./record.js";
import { describeArch, isChain, withMeasurement, withRecord, type HistoryPoint, type Layer, type NetValue } from "../../core/net.js";
import { datasetInput, netInput, num, type OpContext, onEngine, type OpImplementations } from "../../ops/context.js";
import { OpFailure } from "../../core/errors.js";
import { stepsPerEpoch, toSteps } from "../../core/duration.js";
import { Random } from "../../core/random.js";
import type { Engine } from "../../engine/backend.js";
import { forkWorker } from "../../execute/fork.js";
import { bytesOf, deal, dealtTo, type LayerValues, partitionedLayers, PER_CHANNEL, putInputs, putOutputs, subnetwork, valuesOf, withValues } from "./slices.js";
import { netCost, type Cost } from "../../core/cost.js";
import { filterDistanceOfLayers } from "../distances.js";
import { learningRate, type FitOptions } from "../../engine/train.js";
import { trainingOptions } from "../training.js";
import type { FromLoftWorker, LoftWorkerData, Round, ToLoftWorker } from "./worker.js";
import { checkData } from "../../engine/model.js";
import { testMetrics } from "../../engine/train.js";

/** A worker process and a way to run one round on it. */
class LoftWorker {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private pending: ((m: FromLoftWorker) => void) | undefined;
  private dead: string | undefined;

  constructor(data: LoftWorkerData) {
    // Forked like the runtime's own workers: advanced serialization carries typed arrays.
    this.child = forkWorker(new URL("./worker", import.meta.url));
    this.child.on("error", (e) => this.fail(`a LoFT worker failed: ${e.message}`));
    this.child.on("exit", (code, signal) => this.fail(`a LoFT worker exited (${signal ?? `status ${code}`})`));
    this.ready = new Promise((resolve, reject) => {
      this.child.once("message", (m: FromLoftWorker) => (m.type === "ready" ? resolve() : reject(new OpFailure(`a LoFT worker did not start: ${m.type === "failed" ? m.message : m.type}`))));
      this.child.once("exit", (code, signal) => reject(new OpFailure(`a LoFT worker exited (${signal ?? `status ${code}`}) before it was ready`)));
    });
    // Awaited by `run`; a worker that never starts must not also be an unhandled rejection.
    this.ready.catch(() => undefined);
    this.child.send({ type: "start", ...data } satisfies ToLoftWorker);
  }

  private fail(message: string): void {
    this.dead ??= message;
    const p = this.pending;
    this.pending = undefined;
    p?.({ type: "failed", message });
  }

  async run(m: ToLoftWorker): Promise<FromLoftWorker> {
    await this.ready;
    if (this.dead) return { type: "failed", message: this.dead };
    return new Promise((resolve) => {
      this.pending = resolve;
      this.child.once("message", (reply: FromLoftWorker) => {
        this.pending = undefined;
        resolve(reply);
      });
      this.child.send(m);
    });
  }

  close(): void {
    this.dead ??= "closed";
    this.child.kill("SIGKILL");
  }
}

export async function loft(ctx: OpContext, engine: Engine): Promise<NetValue> {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  checkData(net, data);
  const workers = num(ctx, "workers");
  const localSteps = num(ctx, "local_steps");
  const options: FitOptions = trainingOptions(ctx);
  const seed = options.seed;
  if (!isChain(net.layers)) {
    throw new OpFailure(
      `loft partitions each conv layer's filters among workers along a chain of layers, as the paper's VGG and plain conv nets are; this net's residual blocks (${describeArch(net)}) add a block's input to its output, which LoFT's partitions do not cover. Use loft on conv2/4/6 or vgg, or train for a ResNet`,
    );
  }
  const partitioned = partitionedLayers(net.layers);
  if (partitioned.length === 0) {
    throw new OpFailure(`loft partitions the filters of conv layers that feed another conv; this net (${net.layers.map((l) => l.name).join(", ")}) has none`);
  }
  const n = data.train.n;
  const batch = Math.min(options.batch, n);
  const perEpoch = stepsPerEpoch(n, batch);
  const total = Math.max(1, toSteps(options.length, perEpoch));
  // The schedule runs over the batches all workers consume together: a worker's j-th step of a
  // sync takes the rate at the batches consumed before it, so one worker follows `train`'s.
  const lrAt = learningRate(options, perEpoch, total);
  // Batch b of the whole run: the same seeded order per epoch as `train`, so one worker is `train`.
  const orders = new Map<number, Uint32Array>();
  const batchAt = (b: number): Int32Array => {
    const epoch = Math.floor(b / perEpoch);
    let order = orders.get(epoch);
    if (!order) orders.set(epoch, (order = new Random(seed, `train/order/${epoch}`).permutation(n)));
    orders.delete(epoch - 2);
    const from = (b % perEpoch) * batch;
    return Int32Array.from(order.subarray(from, Math.min(n, from + batch)));
  };
  const rounds = Math.ceil(total / (workers * localSteps));
  // What the whole net and each worker's sub-network hold and compute (the sub-networks' shapes
  // are the same at every sync: each worker is dealt the same number of each layer's filters).
  const full = costRecord(netCost(net, batch));
  const perWorker = Array.from({ length: workers }, (_, w) => {
    const shapes = net.layers.map((l, i) => ({
      ...l,
      ...(partitioned.includes(i) ? { outputs: dealtTo(l.outputs, workers, w) } : {}),
      ...(partitioned.includes(i - 1) ? { inputs: dealtTo(net.layers[i - 1]!.outputs, workers, w) } : {}),
    }));
    return costRecord(netCost({ inputShape: net.inputShape, layers: shapes }, batch));
  });
  const paramBytes = net.layers.reduce((s, l) => s + bytesOf(valuesOf(l)), 0);
  // Synchronous data-parallel training over the same batches: ⌈total / workers⌉ steps, each worker sending its gradient and receiving the average.
  const dataParallelBytes = Math.ceil(total / workers) * workers * 2 * paramBytes;

  const shared: LoftWorkerData = {
    backend: engine.backend === "tensorflow-gpu" ? "tensorflow" : (engine.backend as LoftWorkerData["backend"]),
    net: encodeArtifact({ kind: "Net", net }),
    data: encodeArtifact({ kind: "Dataset", dataset: data }),
    optimizer: options.optimizer,
    momentum: options.momentum,
    weightDecay: options.weightDecay,
    nesterov: options.nesterov ?? false,
  };
  const pool = Array.from({ length: workers }, () => new LoftWorker(shared));
  let layers: Layer[] = net.layers.map((l) => ({ ...l }));
  let bytesExchanged = 0;
  const history: HistoryPoint[] = [...net.history];
  const epochBase = history.length ? history[history.length - 1]!.epoch : 0;
  let consumed = 0;
  let workerSteps = 0;
  // The filter distance between successive syncs (`filterDistanceOfLayers` over the partitioned layers).
  const keep = num(ctx, "keep");
  const until = ctx.params["until"] !== undefined ? num(ctx, "until") : undefined;
  const window = num(ctx, "window");
  const distances: number[] = [];
  let filtersBefore: Layer[] | undefined;
  let stopped: { sync: number; step: number; epoch: number } | undefined;
  try {
    for (let r = 0; r < rounds; r++) {
      // This sync's batches: batch b of the run goes to worker b mod workers.
      const batchesOf = Array.from({ length: workers }, (_, w) => {
        const batches: Int32Array[] = [];
        for (let j = 0; j < localSteps; j++) {
          const b = (r * localSteps + j) * workers + w;
          if (b < total) batches.push(batchAt(b));
        }
        return batches;
      });
      // Fresh partitions: each partitioned layer's filters shuffled and dealt round-robin among
      // the workers that have batches (in the last sync some may have none; their filters would not train).
      const busy = batchesOf.filter((b) => b.length > 0).length;
      const slices = Array.from({ length: workers }, () => ({}) as Record<number, Int32Array>);
      for (const i of partitioned) deal(layers[i]!.outputs, busy, seed, r, i).forEach((filters, w) => (slices[w]![i] = filters));
      const current = layers.map(valuesOf);
      const messages: Round[] = batchesOf.map((batches, w) => ({
        type: "round",
        layers: batches.length ? subnetwork(layers, slices[w]!).map(valuesOf) : [],
        slices: slices[w]!,
        batches,
        lrs: batches.map((_, j) => lrAt((r * localSteps + j) * workers)),
      }));
      // Sent to each busy worker: its sub-network and its filter indices (its batch indices are its own data shard).
      for (const m of messages) if (m.batches.length) bytesExchanged += m.layers.reduce((n, v) => n + bytesOf(v), 0) + Object.values(m.slices).reduce((n, f) => n + f.byteLength, 0);
      const replies = await Promise.all(messages.map((m, w) => (m.batches.length ? pool[w]!.run(m) : Promise.resolve(undefined))));
      const next = current.map((v) => Object.fromEntries(Object.entries(v).map(([k, a]) => [k, Float32Array.from(a as Float32Array)])) as unknown as LayerValues);
      // Replicated arrays: the mean over the workers that trained, summed in worker order in float64.
      const sums = new Map<string, Float64Array>();
      let trained = 0;
      let lossSum = 0;
      let lossCount = 0;
      replies.forEach((reply, w) => {
        if (!reply) return;
        if (reply.type !== "done") throw new OpFailure(reply.type === "failed" ? reply.message : "a LoFT worker answered out of turn");
        trained++;
        for (const [i, part] of Object.entries(reply.slices)) {
          const layer = layers[Number(i)]!;
          const own = slices[w]![Number(i)];
          if (own) {
            bytesExchanged += bytesOf(part);
            putOutputs(next[Number(i)]!.weight, layer.inputs * layer.kernel * layer.kernel, own, part.weight!);
            for (const key of PER_CHANNEL) if (part[key]) putOutputs(next[Number(i)]![key]!, 1, own, part[key]);
          } else {
            bytesExchanged += bytesOf(part);
            putInputs(next[Number(i)]!.weight, layer, slices[w]![Number(i) - 1]!, part.weight!);
          }
        }
        for (const [i, part] of Object.entries(reply.replicated)) {
          bytesExchanged += bytesOf(part);
          for (const [key, values] of Object.entries(part) as [string, Float32Array][]) {
            const id = `${i}/${key}`;
            const sum = sums.get(id) ?? new Float64Array(values.length);
            values.forEach((x, j) => (sum[j]! += x));
            sums.set(id, sum);
          }
        }
        bytesExchanged += reply.losses.byteLength;
        for (const loss of reply.losses) {
          lossSum += loss;
          lossCount++;
          if (!Number.isFinite(loss)) throw new OpFailure(`the training loss became ${loss} in sync ${r + 1} (learning rate ${lrAt(r * localSteps * workers).toPrecision(3)}); nothing was stored: lower lr, add warmup, or use a smaller batch`);
        }
      });
      for (const [id, sum] of sums) {
        const [i, key] = id.split("/") as [string, keyof LayerValues];
        next[Number(i)]![key] = Float32Array.from(sum, (x) => x / trained);
      }
      layers = layers.map((l, i) => withValues(l, next[i]!));
      // How far the partitioned layers' winning filters moved since the last sync, and whether
      // they have stayed put long enough to end pretraining here.
      const filtersNow = partitioned.map((i) => layers[i]!);
      if (filtersBefore) distances.push(filterDistanceOfLayers(filtersBefore, filtersNow, keep));
      filtersBefore = filtersNow;
      const settled = until !== undefined && r + 1 < rounds && distances.length >= window && distances.slice(-window).every((d) => d < until);
      const steps = Math.max(...messages.map((m) => m.batches.length));
      const before = consumed;
      consumed = Math.min(total, consumed + workers * localSteps);
      workerSteps += steps;
      const epochEnded = Math.floor(consumed / perEpoch) > Math.floor(before / perEpoch) || consumed === total || settled;
      let accuracy: number | undefined;
      if (epochEnded) {
        const m = testMetrics(engine, { ...net, layers }, data);
        accuracy = m.accuracy;
        history.push({ step: net.steps + workerSteps, epoch: epochBase + consumed / perEpoch, accuracy: m.accuracy, loss: m.loss, trainLoss: lossSum / Math.max(1, lossCount) });
      }
      ctx.progress({
        stage: ctx.stage,
        epoch: Math.min(Math.ceil(total / perEpoch), Math.floor((consumed - 1) / perEpoch) + 1),
        epochs: total / perEpoch,
        step: consumed,
        steps: total,
        loss: lossSum / Math.max(1, lossCount),
        ...(accuracy !== undefined ? { accuracy } : {}),
        ...(epochEnded ? { final: true } : {}),
      });
      if (settled) {
        stopped = { sync: r + 1, step: net.steps + workerSteps, epoch: consumed / perEpoch };
        break;
      }
    }
  } finally {
    for (const w of pool) w.close();
  }
  const record: LoftRecord = {
    workers,
    localSteps,
    rounds: stopped ? stopped.sync : rounds,
    partitioned: partitioned.map((i) => net.layers[i]!.name),
    bytesExchanged,
    dataParallelBytes: stopped ? Math.ceil(consumed / workers) * workers * 2 * paramBytes : dataParallelBytes,
    full,
    perWorker,
    keep,
    distances,
    ...(until !== undefined ? { until, window, epochs: total / perEpoch, ...(stopped ? { stopped } : {}) } : {}),
  };
  // The last sync always ends with an evaluation of these layers.
  return withMeasurement(withRecord({ ...net, layers, steps: net.steps + workerSteps, history }, "loft", record), history[history.length - 1]!);
}

/** The record's form of a cost: the three totals, then each layer's. */
function costRecord(c: ReturnType<typeof netCost>): LoftCost {
  const totals = (x: Cost): Cost => ({ weights: x.weights, activationBytes: x.activationBytes, flopsPerStep: x.flopsPerStep });
  return { ...totals(c), layers: c.layers.map((l) => ({ name: l.name, ...totals(l) })) };
}

export const implementations: OpImplementations = {
  loft: { engine: true, run: onEngine(async (ctx, e) => ({ kind: "Net", net: await loft(ctx, e) })) },
};
