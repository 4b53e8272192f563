// The convex testbed's methods, on a `linear` net (one output) and its dataset: iterative hard
// thresholding, greedy forward selection (Shalev-Shwartz, Srebro & Zhang 2010), the L1
// penalty by FISTA (Beck & Teboulle 2009), and two measures against a planted problem's truth.
// All in float64 JavaScript, without the tensor engine: the problems are small, and the
// numbers are then the same on every backend.
//
// The model is f(x) = x·w + b. Its loss, as `train`'s on the same net and data: the mean of
// (f(x) − y)² for regression, the mean of log(1 + e^(−s·f(x))), s = ±1, for two classes.
// Features are the dataset's standardised ones (`standardised`), as the engine sees them.

import { rSquared, type DatasetValue, type Split } from "../core/dataset.js";
import { OpFailure } from "../core/errors.js";
import { describeArch, withMeasurement, type Layer, type NetValue } from "../core/net.js";
import { highest } from "../core/select.js";
import { toSteps } from "../core/duration.js";
import { standardised } from "../engine/model.js";
import { datasetInput, durationParam, netInput, num, type OpContext, type OpImplementations } from "../ops/context.js";

/** A linear model's data: X (n × d, row-major), the targets (values, or 0/1 classes), and which loss. */
interface Problem {
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly n: number;
  readonly d: number;
  readonly logistic: boolean;
}

/** Ridge added to a refit's normal equations (regression) or Newton's Hessian (logistic), for a support with more weights than examples or separable classes. */
export const REFIT_RIDGE = 1e-8;
export const LOGISTIC_RIDGE = 1e-4;

function problemOf(data: DatasetValue, split: Split): Problem {
  const d = data.inputShape.reduce((a, b) => a * b, 1);
  const x = Float64Array.from(standardised(data, split));
  const y = split.targets ? Float64Array.from(split.targets) : Float64Array.from(split.y);
  return { x, y, n: split.n, d, logistic: !split.targets };
}

/** The net's one layer, or why these methods cannot take the net and data. */
function linearLayer(net: NetValue, data: DatasetValue, op: string): Layer {
  const l = net.layers[0]!;
  if (net.layers.length !== 1 || l.kind !== "dense" || l.outputs !== 1) {
    throw new OpFailure(`${op} works on a linear net with one output (init(linear(), data) on regression or two-class data); this net is ${describeArch(net)} with ${net.layers.length} layers and ${net.layers[net.layers.length - 1]!.outputs} outputs`);
  }
  if (!data.train.targets && data.classes !== 2) throw new OpFailure(`${op} fits one output: regression or two classes, but the dataset '${data.name}' has ${data.classes} classes`);
  if (l.inputs !== data.inputShape.reduce((a, b) => a * b, 1)) throw new OpFailure(`the net reads ${l.inputs} features, the dataset '${data.name}' has ${data.inputShape.join("×")}`);
  return l;
}

/** Outputs x·w + b for every example. */
function outputs(p: Problem, w: Float64Array, b: number): Float64Array {
  const z = new Float64Array(p.n);
  for (let i = 0; i < p.n; i++) {
    let s = b;
    const row = i * p.d;
    for (let j = 0; j < p.d; j++) s += p.x[row + j]! * w[j]!;
    z[i] = s;
  }
  return z;
}

const softplus = (t: number) => (t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t)));
const sigmoid = (t: number) => (t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t)));

/** The loss and its derivative with respect to each output. */
function lossAndResidual(p: Problem, z: Float64Array): { loss: number; r: Float64Array } {
  const r = new Float64Array(p.n);
  let loss = 0;
  for (let i = 0; i < p.n; i++) {
    if (p.logistic) {
      const s = p.y[i]! > 0.5 ? 1 : -1;
      loss += softplus(-s * z[i]!) / p.n;
      r[i] = (-s * sigmoid(-s * z[i]!)) / p.n;
    } else {
      const e = z[i]! - p.y[i]!;
      loss += (e * e) / p.n;
      r[i] = (2 * e) / p.n;
    }
  }
  return { loss, r };
}

/** The gradient of the loss with respect to w and b. */
function gradient(p: Problem, w: Float64Array, b: number): { gw: Float64Array; gb: number; loss: number } {
  const { loss, r } = lossAndResidual(p, outputs(p, w, b));
  const gw = new Float64Array(p.d);
  let gb = 0;
  for (let i = 0; i < p.n; i++) {
    const ri = r[i]!;
    if (ri === 0) continue;
    gb += ri;
    const row = i * p.d;
    for (let j = 0; j < p.d; j++) gw[j] = gw[j]! + ri * p.x[row + j]!;
  }
  return { gw, gb, loss };
}

/** Solves the symmetric positive definite system a·θ = rhs (Cholesky), a m × m row-major. */
function solve(a: Float64Array, rhs: Float64Array, m: number): Float64Array {
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j]!;
      for (let k = 0; k < j; k++) s -= l[i * m + k]! * l[j * m + k]!;
      if (i === j) {
        if (!(s > 0)) throw new OpFailure("the refit's normal equations are singular (a support of duplicate or zero features)");
        l[i * m + i] = Math.sqrt(s);
      } else l[i * m + j] = s / l[j * m + j]!;
    }
  }
  const t = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    let s = rhs[i]!;
    for (let k = 0; k < i; k++) s -= l[i * m + k]! * t[k]!;
    t[i] = s / l[i * m + i]!;
  }
  const theta = new Float64Array(m);
  for (let i = m - 1; i >= 0; i--) {
    let s = t[i]!;
    for (let k = i + 1; k < m; k++) s -= l[k * m + i]! * theta[k]!;
    theta[i] = s / l[i * m + i]!;
  }
  return theta;
}

/**
 * The weights on `support` (every other weight 0) and the bias that minimise the loss:
 * least squares (normal equations with a ridge of REFIT_RIDGE × their trace / size), or
 * Newton's method for the logistic loss (ridge LOGISTIC_RIDGE on the weights, which keeps
 * them finite on separable classes), from `start`.
 */
function refit(p: Problem, support: readonly number[], start?: { w: Float64Array; b: number }): { w: Float64Array; b: number } {
  const m = support.length + 1;
  // Column c of A: feature support[c], and the last column all ones.
  const col = (i: number, c: number) => (c < support.length ? p.x[i * p.d + support[c]!]! : 1);
  const w = new Float64Array(p.d);
  if (!p.logistic) {
    const ata = new Float64Array(m * m);
    const aty = new Float64Array(m);
    for (let i = 0; i < p.n; i++)
      for (let a = 0; a < m; a++) {
        const va = col(i, a);
        aty[a] = aty[a]! + va * p.y[i]!;
        for (let c = 0; c <= a; c++) ata[a * m + c] = ata[a * m + c]! + va * col(i, c);
      }
    let trace = 0;
    for (let a = 0; a < m; a++) for (let c = 0; c < a; c++) ata[c * m + a] = ata[a * m + c]!;
    for (let a = 0; a < m; a++) trace += ata[a * m + a]!;
    for (let a = 0; a < m; a++) ata[a * m + a] = ata[a * m + a]! + (REFIT_RIDGE * trace) / m;
    const theta = solve(ata, aty, m);
    support.forEach((j, c) => (w[j] = theta[c]!));
    return { w, b: theta[m - 1]! };
  }
  const theta = new Float64Array(m);
  if (start) {
    support.forEach((j, c) => (theta[c] = start.w[j]!));
    theta[m - 1] = start.b;
  }
  for (let iteration = 0; iteration < 100; iteration++) {
    const h = new Float64Array(m * m);
    const g = new Float64Array(m);
    for (let i = 0; i < p.n; i++) {
      let z = theta[m - 1]!;
      for (let c = 0; c < support.length; c++) z += theta[c]! * col(i, c);
      const q = sigmoid(z);
      const e = (q - p.y[i]!) / p.n;
      const v = (q * (1 - q)) / p.n;
      for (let a = 0; a < m; a++) {
        const va = col(i, a);
        g[a] = g[a]! + e * va;
        for (let c = 0; c <= a; c++) h[a * m + c] = h[a * m + c]! + v * va * col(i, c);
      }
    }
    for (let a = 0; a < m; a++) for (let c = 0; c < a; c++) h[c * m + a] = h[a * m + c]!;
    for (let a = 0; a < m - 1; a++) {
      g[a] = g[a]! + LOGISTIC_RIDGE * theta[a]!;
      h[a * m + a] = h[a * m + a]! + LOGISTIC_RIDGE;
    }
    h[(m - 1) * m + (m - 1)] = h[(m - 1) * m + (m - 1)]! + 1e-12;
    const step = solve(h, g, m);
    let size = 0;
    for (let a = 0; a < m; a++) {
      theta[a] = theta[a]! - step[a]!;
      size = Math.max(size, Math.abs(step[a]!));
    }
    if (size < 1e-12) break;
  }
  support.forEach((j, c) => (w[j] = theta[c]!));
  return { w, b: theta[m - 1]! };
}

/** Keeps the k largest |w| (ties to the lower index), zeroing the rest; returns the kept positions. */
function hardThreshold(w: Float64Array, k: number): number[] {
  const kept = [...highest(Float64Array.from(w, Math.abs), Math.min(k, w.length))];
  const keep = new Uint8Array(w.length);
  for (const j of kept) keep[j] = 1;
  for (let j = 0; j < w.length; j++) if (!keep[j]) w[j] = 0;
  return kept;
}

/** Test loss and accuracy (R² for regression), as `measure` defines them. */
function metrics(p: Problem, w: Float64Array, b: number): { accuracy: number; loss: number } {
  const z = outputs(p, w, b);
  const { loss } = lossAndResidual(p, z);
  if (p.logistic) {
    let hits = 0;
    for (let i = 0; i < p.n; i++) hits += (z[i]! > 0 ? 1 : 0) === p.y[i] ? 1 : 0;
    return { accuracy: hits / p.n, loss };
  }
  return { accuracy: rSquared(loss, p.y), loss };
}

/** The net with weights w (masked where `mask` is 0) and bias b, measured on the test split. */
function result(net: NetValue, data: DatasetValue, w: Float64Array, b: number, mask: Uint8Array): NetValue {
  const l = net.layers[0]!;
  const bad = w.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0 || !Number.isFinite(b)) throw new OpFailure(`the weights diverged (${bad >= 0 ? `weight ${bad} is ${w[bad]}` : `the bias is ${b}`}); lower lr`);
  const layer: Layer = { ...l, weight: Float32Array.from(w, (v, j) => (mask[j] ? v : 0)), mask, bias: Float32Array.of(b) };
  const out = { ...net, layers: [layer] };
  const stored = Float64Array.from(layer.weight);
  return withMeasurement(out, metrics(problemOf(data, data.test), stored, layer.bias![0]!));
}

function start(l: Layer): { w: Float64Array; b: number } {
  return { w: Float64Array.from(l.weight, (v, j) => (l.mask[j] ? v : 0)), b: l.bias?.[0] ?? 0 };
}

export function iht(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const l = linearLayer(net, data, "iht");
  const k = Math.min(num(ctx, "k"), l.inputs);
  const lr = num(ctx, "lr");
  const steps = Math.max(1, toSteps(durationParam(ctx, "steps"), 1));
  const p = problemOf(data, data.train);
  // From w = 0 (Blumensath & Davies), the bias alone fitted: the first step keeps the k features most correlated with the residual.
  let { w, b } = refit(p, []);
  let support: number[] = [];
  for (let t = 0; t < steps; t++) {
    const g = gradient(p, w, b);
    for (let j = 0; j < p.d; j++) w[j] = w[j]! - lr * g.gw[j]!;
    b -= lr * g.gb;
    support = hardThreshold(w, k);
    if (!Number.isFinite(g.loss)) throw new OpFailure(`iht: the loss became ${g.loss} at step ${t + 1}; lower lr`);
  }
  if (ctx.params["debias"] !== false) ({ w, b } = refit(p, support, { w, b }));
  const mask = new Uint8Array(p.d);
  for (const j of support) mask[j] = 1;
  return result(net, data, w, b, mask);
}

export function forwardGreedy(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const l = linearLayer(net, data, "forward_greedy");
  const k = Math.min(num(ctx, "k"), l.inputs);
  const corrective = ctx.params["corrective"] !== false;
  const p = problemOf(data, data.train);
  // From no weights: the bias alone, fitted.
  let { w, b } = refit(p, []);
  const support: number[] = [];
  const chosen = new Uint8Array(p.d);
  for (let t = 0; t < k; t++) {
    const { gw } = gradient(p, w, b);
    let best = -1;
    for (let j = 0; j < p.d; j++) if (!chosen[j] && (best < 0 || Math.abs(gw[j]!) > Math.abs(gw[best]!))) best = j;
    chosen[best] = 1;
    support.push(best);
    if (corrective) ({ w, b } = refit(p, [...support].sort((x, y) => x - y), { w, b }));
    else w[best] = lineSearch(p, w, b, best);
  }
  return result(net, data, w, b, chosen);
}

/** The value of weight j that minimises the loss with every other weight and the bias held (exact for squared loss; Newton's method for the logistic). */
function lineSearch(p: Problem, w: Float64Array, b: number, j: number): number {
  const z = outputs(p, w, b);
  let v = w[j]!;
  for (let iteration = 0; iteration < (p.logistic ? 50 : 1); iteration++) {
    let g = 0;
    let h = 0;
    for (let i = 0; i < p.n; i++) {
      const xij = p.x[i * p.d + j]!;
      const zi = z[i]! + (v - w[j]!) * xij;
      if (p.logistic) {
        const q = sigmoid(zi);
        g += ((q - p.y[i]!) * xij) / p.n;
        h += (q * (1 - q) * xij * xij) / p.n;
      } else {
        g += (2 * (zi - p.y[i]!) * xij) / p.n;
        h += (2 * xij * xij) / p.n;
      }
    }
    const step = g / (h + (p.logistic ? LOGISTIC_RIDGE : 0));
    v -= step;
    if (Math.abs(step) < 1e-12) break;
  }
  return v;
}

/** The largest eigenvalue of AᵀA / n, A = [X, 1], by power iteration: the gradient's Lipschitz constant up to the loss's factor. */
function largestEigenvalue(p: Problem): number {
  let v = new Float64Array(p.d + 1).fill(1 / Math.sqrt(p.d + 1));
  let lambda = 0;
  for (let iteration = 0; iteration < 100; iteration++) {
    const z = outputs(p, v.subarray(0, p.d) as Float64Array, v[p.d]!);
    const next = new Float64Array(p.d + 1);
    for (let i = 0; i < p.n; i++) {
      const zi = z[i]! / p.n;
      for (let j = 0; j < p.d; j++) next[j] = next[j]! + zi * p.x[i * p.d + j]!;
      next[p.d] = next[p.d]! + zi;
    }
    const norm = Math.hypot(...next);
    if (norm === 0) return 0;
    const converged = Math.abs(norm - lambda) <= 1e-9 * norm;
    lambda = norm;
    v = next.map((x) => x / norm);
    if (converged) break;
  }
  return lambda;
}

export function l1(ctx: OpContext): NetValue {
  const net = netInput(ctx, "net");
  const data = datasetInput(ctx, "data");
  const l = linearLayer(net, data, "l1");
  const lambda = num(ctx, "lambda");
  const steps = Math.max(1, toSteps(durationParam(ctx, "steps"), 1));
  const p = problemOf(data, data.train);
  // Step 1/L: L = 2·λmax(AᵀA/n) for the squared loss, λmax/4 for the logistic (an upper bound, +1e-12 against 0).
  const lipschitz = (p.logistic ? 0.25 : 2) * largestEigenvalue(p) + 1e-12;
  let { w, b } = start(l);
  let yw = Float64Array.from(w);
  let yb = b;
  let t = 1;
  for (let iteration = 0; iteration < steps; iteration++) {
    const g = gradient(p, yw, yb);
    if (!Number.isFinite(g.loss)) throw new OpFailure(`l1: the loss became ${g.loss} at iteration ${iteration + 1}`);
    const next = new Float64Array(p.d);
    for (let j = 0; j < p.d; j++) {
      const u = yw[j]! - g.gw[j]! / lipschitz;
      const shrink = lambda / lipschitz;
      next[j] = u > shrink ? u - shrink : u < -shrink ? u + shrink : 0;
    }
    const nextB = yb - g.gb / lipschitz;
    const tNext = (1 + Math.sqrt(1 + 4 * t * t)) / 2;
    const momentum = (t - 1) / tNext;
    yw = next.map((v, j) => v + momentum * (v - w[j]!));
    yb = nextB + momentum * (nextB - b);
    w = next;
    b = nextB;
    t = tNext;
  }
  return result(net, data, w, b, Uint8Array.from(w, (v) => (v !== 0 ? 1 : 0)));
}

/** The planted problem's truth, or why there is none. */
function truthOf(data: DatasetValue, op: string): { weights: Float32Array; support: Int32Array } {
  if (!data.truth) throw new OpFailure(`${op} compares a net with a planted problem's true weights, and the dataset '${data.name}' has none (make it with planted(…))`);
  return data.truth;
}

/** The net's weights as the vector compared with the truth (masked weights count as 0). */
function weightsOf(net: NetValue, data: DatasetValue, op: string): Float64Array {
  const l = linearLayer(net, data, op);
  return Float64Array.from(l.weight, (v, j) => (l.mask[j] ? v : 0));
}

export function supportRecovery(ctx: OpContext): number {
  const data = datasetInput(ctx, "data");
  const truth = truthOf(data, "support_recovery");
  const w = weightsOf(netInput(ctx, "net"), data, "support_recovery");
  const k = truth.support.length;
  const top = new Set(highest(Float64Array.from(w, Math.abs), k));
  let found = 0;
  for (const j of truth.support) if (top.has(j)) found++;
  return found / k;
}

export function distanceToTruth(ctx: OpContext): number {
  const data = datasetInput(ctx, "data");
  const truth = truthOf(data, "distance_to_truth");
  const w = weightsOf(netInput(ctx, "net"), data, "distance_to_truth");
  const star = Float64Array.from(truth.weights);
  const norm = (v: Float64Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  // Classification identifies only w*'s direction: w is scaled to its norm first.
  const scale = data.train.targets ? 1 : norm(w) > 0 ? norm(star) / norm(w) : 1;
  const diff = Float64Array.from(w, (v, j) => v * scale - star[j]!);
  return norm(diff) / norm(star);
}

export const implementations: OpImplementations = {
  iht: { engine: false, run: (ctx) => ({ kind: "Net", net: iht(ctx) }) },
  forward_greedy: { engine: false, run: (ctx) => ({ kind: "Net", net: forwardGreedy(ctx) }) },
  l1: { engine: false, run: (ctx) => ({ kind: "Net", net: l1(ctx) }) },
  support_recovery: { engine: false, run: (ctx) => ({ kind: "Number", value: supportRecovery(ctx) }) },
  distance_to_truth: { engine: false, run: (ctx) => ({ kind: "Number", value: distanceToTruth(ctx) }) },
};
