// lth's native kernels: oneDNN primitives (the library PyTorch's CPU convolutions are) run on
// the memory of the TensorFlow.js wasm backend they extend. Every call receives the wasm
// heap (an ArrayBuffer) and byte offsets into it, so no tensor is copied on the way in or
// out; oneDNN reads and writes the heap in place. Layouts are TensorFlow's: activations NHWC,
// conv filters HWIO, matrices row-major (optionally transposed through their strides).
//
// Primitives (and, for convolutions, the reorders of filters between HWIO and the blocked
// layout oneDNN's AVX-512 kernels want) are built once per shape and kept in a cache keyed
// by every number that describes the call, and the thread count they run with.
//
// Threads: setThreads gives the stage's cores; a primitive uses them all only when its work
// pays for waking them (kParallelWork below), else one. The choice is a function of the call's
// shape and that count, so a given key still computes the same bytes every time.

#include <napi.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "dnnl.hpp"

using dnnl::algorithm;
using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

namespace {

/** The stage's cores (setThreads). */
int maxThreads = 1;

/**
 * Multiply-adds (or, for element-wise kernels, a weighted count of elements) below which a
 * kernel runs on one thread. Measured here (2 cores, AVX-512): waking OpenMP's second thread
 * costs about 80 µs, so a 60×100×10 product took 24 µs on one thread and 104 on two; a
 * 60×784×300 one (14M multiply-adds) ran as fast on either; a 60×6272×128 one (48M) ran 1.3×
 * faster on two and a 60×28×28×32→32 convolution (434M) 1.6×. LeNet-300-100's training
 * (no product above 14M) ran 1.5× faster on one thread than on two.
 */
constexpr double kParallelWork = 16.0 * 1024 * 1024;

/** Sets OpenMP's thread count for one kernel call (creation and execution), and restores it after. */
struct Threads {
  int n;
  explicit Threads(double work) : n(work >= kParallelWork ? maxThreads : 1) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(maxThreads); }
};

/** The dims of a call with the thread count it runs with appended: primitives are cached per both. */
std::vector<int64_t> withThreads(const std::vector<int64_t>& d, const Threads& t) {
  std::vector<int64_t> k(d);
  k.push_back(t.n);
  return k;
}

dnnl::engine& cpu() {
  static dnnl::engine e(dnnl::engine::kind::cpu, 0);
  return e;
}

dnnl::stream& stream() {
  static dnnl::stream s(cpu());
  return s;
}

/** The heap's base address; offsets are bytes from it, checked against its length. */
struct Heap {
  uint8_t* base;
  size_t length;
  float* at(const Napi::Env& env, double offset, size_t floats) const {
    if (offset < 0 || static_cast<size_t>(offset) + floats * sizeof(float) > length) {
      throw Napi::RangeError::New(env, "lth native: a tensor lies outside the heap it was given");
    }
    return reinterpret_cast<float*>(base + static_cast<size_t>(offset));
  }
};

Heap heapOf(const Napi::Value& v) {
  Napi::ArrayBuffer buffer = v.As<Napi::ArrayBuffer>();
  return Heap{static_cast<uint8_t*>(buffer.Data()), buffer.ByteLength()};
}

std::vector<int64_t> numbers(const Napi::Value& v);

/** A kernel call's arguments: (heap, byte offsets of its tensors, the numbers that describe it). */
struct Call {
  Napi::Env env;
  Heap heap;
  std::vector<int64_t> at;
  std::vector<int64_t> d;
  explicit Call(const Napi::CallbackInfo& info) : env(info.Env()), heap(heapOf(info[0])), at(numbers(info[1])), d(numbers(info[2])) {}
  /** The i-th tensor of the call, `floats` long, checked to lie in the heap. */
  float* tensor(int i, size_t floats) const { return heap.at(env, static_cast<double>(at[i]), floats); }
};

std::vector<int64_t> numbers(const Napi::Value& v) {
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); i++) out[i] = static_cast<int64_t>(a.Get(i).As<Napi::Number>().DoubleValue());
  return out;
}

std::string keyOf(const char* kind, const std::vector<int64_t>& dims) {
  std::ostringstream s;
  s << kind;
  for (int64_t d : dims) s << ',' << d;
  return s.str();
}

// ---- matrix products ---------------------------------------------------------------------

/** C[b] = op(A[b]) · op(B[b]) (+ bias, then ReLU), batches broadcast where one side has 1. */
struct MatMul {
  memory::desc a, b, c, bias;
  dnnl::matmul prim;
};

std::unordered_map<std::string, std::unique_ptr<MatMul>> matmuls;

// dims: batchA, batchB, m, n, k, transposeA, transposeB, bias (0/1), relu (0/1)
MatMul& matmulFor(const std::vector<int64_t>& d, const Threads& t) {
  std::string key = keyOf("mm", withThreads(d, t));
  auto found = matmuls.find(key);
  if (found != matmuls.end()) return *found->second;
  const int64_t ba = d[0], bb = d[1], m = d[2], n = d[3], k = d[4];
  const bool ta = d[5] != 0, tb = d[6] != 0, hasBias = d[7] != 0, relu = d[8] != 0;
  auto out = std::make_unique<MatMul>();
  // A is stored [batch, m, k], or [batch, k, m] when transposed: the strides say which.
  out->a = memory::desc({ba, m, k}, dt::f32, ta ? memory::dims{m * k, 1, m} : memory::dims{m * k, k, 1});
  out->b = memory::desc({bb, k, n}, dt::f32, tb ? memory::dims{k * n, 1, k} : memory::dims{k * n, n, 1});
  out->c = memory::desc({std::max(ba, bb), m, n}, dt::f32, tag::abc);
  dnnl::primitive_attr attr;
  if (relu) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
    attr.set_post_ops(ops);
  }
  if (hasBias) {
    out->bias = memory::desc({1, 1, n}, dt::f32, tag::abc);
    dnnl::matmul::desc desc(out->a, out->b, out->bias, out->c);
    out->prim = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, cpu()));
  } else {
    dnnl::matmul::desc desc(out->a, out->b, out->c);
    out->prim = dnnl::matmul(dnnl::matmul::primitive_desc(desc, attr, cpu()));
  }
  return *matmuls.emplace(key, std::move(out)).first->second;
}

// matmul(heap, [aOffset, bOffset, cOffset, biasOffset], dims)
Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t ba = d[0], bb = d[1], m = d[2], n = d[3], k = d[4];
  const Threads t(static_cast<double>(std::max(ba, bb)) * m * n * k);
  MatMul& mm = matmulFor(d, t);
  memory a(mm.a, cpu(), call.tensor(0, ba * m * k));
  memory b(mm.b, cpu(), call.tensor(1, bb * k * n));
  memory c(mm.c, cpu(), call.tensor(2, std::max(ba, bb) * m * n));
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}};
  if (d[7] != 0) args.emplace(DNNL_ARG_BIAS, memory(mm.bias, cpu(), call.tensor(3, n)));
  mm.prim.execute(stream(), args);
  stream().wait();
  return call.env.Undefined();
}

// ---- convolutions ------------------------------------------------------------------------

// dims: n, h, w, c, f, kh, kw, sh, sw, padTop, padLeft, padBottom, padRight, oh, ow, dh, dw
struct ConvShape {
  memory::dims src, weights, dst, strides, dilation, padL, padR;
  explicit ConvShape(const std::vector<int64_t>& d)
      : src{d[0], d[3], d[1], d[2]},
        weights{d[4], d[3], d[5], d[6]},
        dst{d[0], d[4], d[13], d[14]},
        strides{d[7], d[8]},
        // oneDNN counts dilation from 0 (none), TensorFlow from 1.
        dilation{d[15] - 1, d[16] - 1},
        padL{d[9], d[10]},
        padR{d[11], d[12]} {}
};

/** A convolution's three primitives, and the reorders of the filter between HWIO and the layout each prefers. */
struct Conv {
  memory::desc src, dst, hwio;
  dnnl::convolution_forward::primitive_desc fwdPd;
  dnnl::convolution_forward fwd;
  dnnl::reorder toFwd;
  memory fwdWeights;
  bool fwdReorder = false;
  dnnl::convolution_backward_data::primitive_desc bwdDataPd;
  dnnl::convolution_backward_data bwdData;
  dnnl::reorder toBwdData;
  memory bwdDataWeights;
  bool bwdDataReorder = false;
  dnnl::convolution_backward_weights::primitive_desc bwdWeightsPd;
  dnnl::convolution_backward_weights bwdWeights;
  dnnl::reorder fromBwdWeights;
  memory bwdWeightsOut;
  bool bwdWeightsReorder = false;
};

std::unordered_map<std::string, std::unique_ptr<Conv>> convs;

/** A convolution's multiply-adds (each of its three directions does as many). */
double convWork(const std::vector<int64_t>& d) { return static_cast<double>(d[0]) * d[13] * d[14] * d[4] * d[3] * d[5] * d[6]; }

Conv& convFor(const std::vector<int64_t>& d, const Threads& t) {
  std::string key = keyOf("conv", withThreads(d, t));
  auto found = convs.find(key);
  if (found != convs.end()) return *found->second;
  ConvShape s(d);
  auto c = std::make_unique<Conv>();
  c->src = memory::desc(s.src, dt::f32, tag::nhwc);
  c->dst = memory::desc(s.dst, dt::f32, tag::nhwc);
  c->hwio = memory::desc(s.weights, dt::f32, tag::hwio);
  memory::desc anyWeights(s.weights, dt::f32, tag::any);
  dnnl::convolution_forward::desc fwdDesc(dnnl::prop_kind::forward_training, algorithm::convolution_direct, c->src, anyWeights, c->dst, s.strides,
                                          s.dilation, s.padL, s.padR);
  c->fwdPd = dnnl::convolution_forward::primitive_desc(fwdDesc, cpu());
  c->fwd = dnnl::convolution_forward(c->fwdPd);
  if (c->fwdPd.weights_desc() != c->hwio) {
    c->fwdReorder = true;
    c->fwdWeights = memory(c->fwdPd.weights_desc(), cpu());
    c->toFwd = dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), c->hwio, cpu(), c->fwdPd.weights_desc()));
  }
  dnnl::convolution_backward_data::desc bdDesc(algorithm::convolution_direct, c->src, anyWeights, c->dst, s.strides, s.dilation, s.padL, s.padR);
  c->bwdDataPd = dnnl::convolution_backward_data::primitive_desc(bdDesc, cpu(), c->fwdPd);
  c->bwdData = dnnl::convolution_backward_data(c->bwdDataPd);
  if (c->bwdDataPd.weights_desc() != c->hwio) {
    c->bwdDataReorder = true;
    c->bwdDataWeights = memory(c->bwdDataPd.weights_desc(), cpu());
    c->toBwdData = dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), c->hwio, cpu(), c->bwdDataPd.weights_desc()));
  }
  dnnl::convolution_backward_weights::desc bwDesc(algorithm::convolution_direct, c->src, anyWeights, c->dst, s.strides, s.dilation, s.padL, s.padR);
  c->bwdWeightsPd = dnnl::convolution_backward_weights::primitive_desc(bwDesc, cpu(), c->fwdPd);
  c->bwdWeights = dnnl::convolution_backward_weights(c->bwdWeightsPd);
  if (c->bwdWeightsPd.diff_weights_desc() != c->hwio) {
    c->bwdWeightsReorder = true;
    c->bwdWeightsOut = memory(c->bwdWeightsPd.diff_weights_desc(), cpu());
    c->fromBwdWeights = dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), c->bwdWeightsPd.diff_weights_desc(), cpu(), c->hwio));
  }
  return *convs.emplace(key, std::move(c)).first->second;
}

size_t count(const memory::dims& dims) {
  size_t n = 1;
  for (auto d : dims) n *= static_cast<size_t>(d);
  return n;
}

// conv2d(heap, [xOffset, filterOffset, yOffset], dims)
Napi::Value Conv2D(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const Threads t(convWork(d));
  Conv& c = convFor(d, t);
  ConvShape s(d);
  memory x(c.src, cpu(), call.tensor(0, count(s.src)));
  memory w(c.hwio, cpu(), call.tensor(1, count(s.weights)));
  memory y(c.dst, cpu(), call.tensor(2, count(s.dst)));
  if (c.fwdReorder) c.toFwd.execute(stream(), w, c.fwdWeights);
  c.fwd.execute(stream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, c.fwdReorder ? c.fwdWeights : w}, {DNNL_ARG_DST, y}});
  stream().wait();
  return call.env.Undefined();
}

// conv2dBackpropInput(heap, [dyOffset, filterOffset, dxOffset], dims)
Napi::Value Conv2DBackpropInput(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const Threads t(convWork(d));
  Conv& c = convFor(d, t);
  ConvShape s(d);
  memory dy(c.dst, cpu(), call.tensor(0, count(s.dst)));
  memory w(c.hwio, cpu(), call.tensor(1, count(s.weights)));
  memory dx(c.src, cpu(), call.tensor(2, count(s.src)));
  if (c.bwdDataReorder) c.toBwdData.execute(stream(), w, c.bwdDataWeights);
  c.bwdData.execute(stream(), {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_WEIGHTS, c.bwdDataReorder ? c.bwdDataWeights : w}, {DNNL_ARG_DIFF_SRC, dx}});
  stream().wait();
  return call.env.Undefined();
}

// conv2dBackpropFilter(heap, [xOffset, dyOffset, dwOffset], dims)
Napi::Value Conv2DBackpropFilter(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const Threads t(convWork(d));
  Conv& c = convFor(d, t);
  ConvShape s(d);
  memory x(c.src, cpu(), call.tensor(0, count(s.src)));
  memory dy(c.dst, cpu(), call.tensor(1, count(s.dst)));
  memory dw(c.hwio, cpu(), call.tensor(2, count(s.weights)));
  c.bwdWeights.execute(stream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_WEIGHTS, c.bwdWeightsReorder ? c.bwdWeightsOut : dw}});
  if (c.bwdWeightsReorder) c.fromBwdWeights.execute(stream(), c.bwdWeightsOut, dw);
  stream().wait();
  return call.env.Undefined();
}

// ---- max pooling -------------------------------------------------------------------------

// dims: n, h, w, c, kh, kw, sh, sw, padTop, padLeft, padBottom, padRight, oh, ow
struct Pool {
  memory::desc src, dst;
  dnnl::pooling_forward::primitive_desc fwdPd;
  dnnl::pooling_forward fwd;
  dnnl::pooling_forward train;
  dnnl::pooling_backward bwd;
  memory workspace, scratchDst;
};

std::unordered_map<std::string, std::unique_ptr<Pool>> pools;

/** A pooling's comparisons, weighted as element-wise work (a 60×28×28×32 max pool ran no faster on two threads). */
double poolWork(const std::vector<int64_t>& d) { return static_cast<double>(d[0]) * d[12] * d[13] * d[3] * d[4] * d[5]; }

Pool& poolFor(const std::vector<int64_t>& d, const Threads& t) {
  std::string key = keyOf("pool", withThreads(d, t));
  auto found = pools.find(key);
  if (found != pools.end()) return *found->second;
  auto p = std::make_unique<Pool>();
  p->src = memory::desc({d[0], d[3], d[1], d[2]}, dt::f32, tag::nhwc);
  p->dst = memory::desc({d[0], d[3], d[12], d[13]}, dt::f32, tag::nhwc);
  memory::dims kernel{d[4], d[5]}, strides{d[6], d[7]}, padL{d[8], d[9]}, padR{d[10], d[11]};
  // Inference for the forward op (no workspace); training to recompute the argmax for the gradient.
  dnnl::pooling_forward::desc inferDesc(dnnl::prop_kind::forward_inference, algorithm::pooling_max, p->src, p->dst, strides, kernel, padL, padR);
  p->fwd = dnnl::pooling_forward(dnnl::pooling_forward::primitive_desc(inferDesc, cpu()));
  dnnl::pooling_forward::desc trainDesc(dnnl::prop_kind::forward_training, algorithm::pooling_max, p->src, p->dst, strides, kernel, padL, padR);
  p->fwdPd = dnnl::pooling_forward::primitive_desc(trainDesc, cpu());
  p->train = dnnl::pooling_forward(p->fwdPd);
  p->workspace = memory(p->fwdPd.workspace_desc(), cpu());
  p->scratchDst = memory(p->dst, cpu());
  dnnl::pooling_backward::desc bwdDesc(algorithm::pooling_max, p->src, p->dst, strides, kernel, padL, padR);
  p->bwd = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bwdDesc, cpu(), p->fwdPd));
  return *pools.emplace(key, std::move(p)).first->second;
}

// maxPool(heap, [xOffset, yOffset], dims)
Napi::Value MaxPool(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const Threads t(poolWork(d));
  Pool& p = poolFor(d, t);
  memory x(p.src, cpu(), call.tensor(0, d[0] * d[1] * d[2] * d[3]));
  memory y(p.dst, cpu(), call.tensor(1, d[0] * d[12] * d[13] * d[3]));
  p.fwd.execute(stream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}});
  stream().wait();
  return call.env.Undefined();
}

// maxPoolGrad(heap, [dyOffset, xOffset, dxOffset], dims): the forward pass again for the
// argmax (oneDNN's workspace), then the gradient to it; ties go where oneDNN's forward puts them.
Napi::Value MaxPoolGrad(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const Threads t(poolWork(d));
  Pool& p = poolFor(d, t);
  memory dy(p.dst, cpu(), call.tensor(0, d[0] * d[12] * d[13] * d[3]));
  memory x(p.src, cpu(), call.tensor(1, d[0] * d[1] * d[2] * d[3]));
  memory dx(p.src, cpu(), call.tensor(2, d[0] * d[1] * d[2] * d[3]));
  p.train.execute(stream(), {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, p.scratchDst}, {DNNL_ARG_WORKSPACE, p.workspace}});
  p.bwd.execute(stream(), {{DNNL_ARG_DIFF_DST, dy}, {DNNL_ARG_DIFF_SRC, dx}, {DNNL_ARG_WORKSPACE, p.workspace}});
  stream().wait();
  return call.env.Undefined();
}

// ---- sums over leading axes --------------------------------------------------------------

// sumLeading(heap, [xOffset, yOffset], [outer, inner]): y[j] = Σ_i x[i, j], the reduction
// behind every bias gradient (over batch and space, NHWC). As a product with a row of ones
// (oneDNN's matmul): its reduction primitive takes ten times longer on these shapes.
struct SumLeadingPrim {
  memory::desc x, y;
  dnnl::matmul prim;
  memory ones;
};

std::unordered_map<std::string, std::unique_ptr<SumLeadingPrim>> sums;

Napi::Value SumLeading(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t outer = d[0], inner = d[1];
  const Threads t(static_cast<double>(outer) * inner);
  std::string key = keyOf("sum", withThreads(d, t));
  auto found = sums.find(key);
  if (found == sums.end()) {
    auto p = std::make_unique<SumLeadingPrim>();
    memory::desc onesDesc({1, outer}, dt::f32, tag::ab);
    p->x = memory::desc({outer, inner}, dt::f32, tag::ab);
    p->y = memory::desc({1, inner}, dt::f32, tag::ab);
    p->prim = dnnl::matmul(dnnl::matmul::primitive_desc(dnnl::matmul::desc(onesDesc, p->x, p->y), cpu()));
    p->ones = memory(onesDesc, cpu());
    float* ones = static_cast<float*>(p->ones.get_data_handle());
    for (int64_t i = 0; i < outer; i++) ones[i] = 1.f;
    found = sums.emplace(key, std::move(p)).first;
  }
  SumLeadingPrim& p = *found->second;
  memory x(p.x, cpu(), call.tensor(0, outer * inner));
  memory y(p.y, cpu(), call.tensor(1, inner));
  p.prim.execute(stream(), {{DNNL_ARG_SRC, p.ones}, {DNNL_ARG_WEIGHTS, x}, {DNNL_ARG_DST, y}});
  stream().wait();
  return call.env.Undefined();
}

// ---- batch normalisation in training ------------------------------------------------------

// dims: n, h, w, c; epsilon separately. Statistics over batch and space per channel. oneDNN's
// batch norm for NHWC (nspc_bnorm) took 13 ms a call on a 60×32×32×16 batch here; its JIT
// kernel wants channels in blocks of 16 (nChw16c), so activations are reordered there and back
// (a copy each way inside the addon, well under a millisecond at that size).
struct BatchNorm {
  memory::desc nhwc, blocked, channel;
  dnnl::batch_normalization_forward fwd;
  dnnl::batch_normalization_backward bwd;
  dnnl::reorder toBlocked, toNhwc;
  memory x, y, dy, dx;
};

std::unordered_map<std::string, std::unique_ptr<BatchNorm>> norms;

/** Batch norm's work: its passes over the activations (statistics, normalisation, two reorders; more backward), weighted as element-wise work. */
double normWork(const std::vector<int64_t>& d) { return 8.0 * d[0] * d[1] * d[2] * d[3]; }

BatchNorm& normFor(const std::vector<int64_t>& d, float epsilon, const Threads& t) {
  std::vector<int64_t> k(withThreads(d, t));
  k.push_back(static_cast<int64_t>(epsilon * 1e12));
  std::string key = keyOf("bn", k);
  auto found = norms.find(key);
  if (found != norms.end()) return *found->second;
  auto b = std::make_unique<BatchNorm>();
  memory::dims dims{d[0], d[3], d[1], d[2]};
  b->nhwc = memory::desc(dims, dt::f32, tag::nhwc);
  b->blocked = memory::desc(dims, dt::f32, tag::aBcd16b);
  b->channel = memory::desc({d[3]}, dt::f32, tag::a);
  const auto flags = dnnl::normalization_flags::use_scale | dnnl::normalization_flags::use_shift;
  dnnl::batch_normalization_forward::desc fwdDesc(dnnl::prop_kind::forward_training, b->blocked, epsilon, flags);
  auto fwdPd = dnnl::batch_normalization_forward::primitive_desc(fwdDesc, cpu());
  b->fwd = dnnl::batch_normalization_forward(fwdPd);
  dnnl::batch_normalization_backward::desc bwdDesc(dnnl::prop_kind::backward, b->blocked, b->blocked, epsilon, flags);
  b->bwd = dnnl::batch_normalization_backward(dnnl::batch_normalization_backward::primitive_desc(bwdDesc, cpu(), fwdPd));
  b->toBlocked = dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), b->nhwc, cpu(), b->blocked));
  b->toNhwc = dnnl::reorder(dnnl::reorder::primitive_desc(cpu(), b->blocked, cpu(), b->nhwc));
  for (memory* m : {&b->x, &b->y, &b->dy, &b->dx}) *m = memory(b->blocked, cpu());
  return *norms.emplace(key, std::move(b)).first->second;
}

// batchNormTrain(heap, [x, gamma, beta, y, mean, variance], [n, h, w, c], epsilon): y = γ(x − μ)/√(σ² + ε) + β
// with the batch's μ and (biased) σ², which it also writes.
Napi::Value BatchNormTrain(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const float epsilon = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  const Threads t(normWork(d));
  BatchNorm& b = normFor(d, epsilon, t);
  const int64_t n = d[0] * d[1] * d[2] * d[3], c = d[3];
  auto ch = [&](int i) { return memory(b.channel, cpu(), call.tensor(i, c)); };
  memory x(b.nhwc, cpu(), call.tensor(0, n));
  memory y(b.nhwc, cpu(), call.tensor(3, n));
  b.toBlocked.execute(stream(), x, b.x);
  b.fwd.execute(stream(), {{DNNL_ARG_SRC, b.x}, {DNNL_ARG_SCALE, ch(1)}, {DNNL_ARG_SHIFT, ch(2)}, {DNNL_ARG_DST, b.y}, {DNNL_ARG_MEAN, ch(4)}, {DNNL_ARG_VARIANCE, ch(5)}});
  b.toNhwc.execute(stream(), b.y, y);
  stream().wait();
  return call.env.Undefined();
}

// batchNormTrainGrad(heap, [x, dy, mean, variance, gamma, beta, dx, dgamma, dbeta], [n, h, w, c], epsilon):
// the gradients of batchNormTrain through the batch's statistics. (oneDNN 2.6 asks for β too,
// though no gradient depends on it.)
Napi::Value BatchNormTrainGrad(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const float epsilon = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  const Threads t(normWork(d));
  BatchNorm& b = normFor(d, epsilon, t);
  const int64_t n = d[0] * d[1] * d[2] * d[3], c = d[3];
  auto ch = [&](int i) { return memory(b.channel, cpu(), call.tensor(i, c)); };
  memory x(b.nhwc, cpu(), call.tensor(0, n));
  memory dy(b.nhwc, cpu(), call.tensor(1, n));
  memory dx(b.nhwc, cpu(), call.tensor(6, n));
  b.toBlocked.execute(stream(), x, b.x);
  b.toBlocked.execute(stream(), dy, b.dy);
  b.bwd.execute(stream(), {{DNNL_ARG_SRC, b.x},
                           {DNNL_ARG_DIFF_DST, b.dy},
                           {DNNL_ARG_MEAN, ch(2)},
                           {DNNL_ARG_VARIANCE, ch(3)},
                           {DNNL_ARG_SCALE, ch(4)},
                           {DNNL_ARG_SHIFT, ch(5)},
                           {DNNL_ARG_DIFF_SRC, b.dx},
                           {DNNL_ARG_DIFF_SCALE, ch(7)},
                           {DNNL_ARG_DIFF_SHIFT, ch(8)}});
  b.toNhwc.execute(stream(), b.dx, dx);
  stream().wait();
  return call.env.Undefined();
}

// ---- the loss ----------------------------------------------------------------------------

// softmaxCrossEntropy(heap, [logits, labels, loss], [n, classes]): the mean over the batch of
// −log softmax(logits)[label], labels int32; as TensorFlow.js computes it in a dozen kernels.
Napi::Value SoftmaxCrossEntropy(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t n = d[0], k = d[1];
  const float* logits = call.tensor(0, n * k);
  const int32_t* labels = reinterpret_cast<const int32_t*>(call.tensor(1, n));
  float* loss = call.tensor(2, 1);
  double total = 0;
  for (int64_t i = 0; i < n; i++) {
    const float* row = logits + i * k;
    float top = row[0];
    for (int64_t j = 1; j < k; j++) top = std::max(top, row[j]);
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += std::exp(static_cast<double>(row[j] - top));
    const int32_t label = labels[i];
    // An index outside the classes gives no probability mass, as a one-hot row of zeros would.
    const double picked = label >= 0 && label < k ? static_cast<double>(row[label] - top) : 0.0;
    total += (label >= 0 && label < k ? std::log(sum) - picked : 0.0);
  }
  *loss = static_cast<float>(total / static_cast<double>(n));
  return call.env.Undefined();
}

// softmaxCrossEntropyGrad(heap, [logits, labels, dy, dlogits], [n, classes]): (softmax − onehot)·dy/n.
Napi::Value SoftmaxCrossEntropyGrad(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t n = d[0], k = d[1];
  const float* logits = call.tensor(0, n * k);
  const int32_t* labels = reinterpret_cast<const int32_t*>(call.tensor(1, n));
  const float dy = *call.tensor(2, 1);
  float* out = call.tensor(3, n * k);
  const double scale = static_cast<double>(dy) / static_cast<double>(n);
  for (int64_t i = 0; i < n; i++) {
    const float* row = logits + i * k;
    float top = row[0];
    for (int64_t j = 1; j < k; j++) top = std::max(top, row[j]);
    double sum = 0;
    for (int64_t j = 0; j < k; j++) sum += std::exp(static_cast<double>(row[j] - top));
    for (int64_t j = 0; j < k; j++) {
      const double p = std::exp(static_cast<double>(row[j] - top)) / sum;
      out[i * k + j] = static_cast<float>((p - (j == labels[i] ? 1.0 : 0.0)) * scale);
    }
  }
  return call.env.Undefined();
}

// ---- tiling ------------------------------------------------------------------------------

// tile(heap, [xOffset, outOffset], [bytesPerElement, rank, ...shape, ...reps]): the input
// repeated reps[d] times along each axis d (what batch norm's gradient does to its per-channel
// statistics). Each axis is laid out once from the axes inside it, then copied reps[d] − 1 times.
void tileAxis(const uint8_t* x, uint8_t* out, int d, int rank, const int64_t* shape, const int64_t* reps, const int64_t* xStride, const int64_t* outStride) {
  if (d == rank - 1) {
    const int64_t row = shape[d] * xStride[d];
    for (int64_t r = 0; r < reps[d]; r++) std::memcpy(out + r * row, x, static_cast<size_t>(row));
    return;
  }
  for (int64_t i = 0; i < shape[d]; i++) tileAxis(x + i * xStride[d], out + i * outStride[d], d + 1, rank, shape, reps, xStride, outStride);
  const int64_t block = shape[d] * outStride[d];
  for (int64_t r = 1; r < reps[d]; r++) std::memcpy(out + r * block, out, static_cast<size_t>(block));
}

Napi::Value Tile(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t bytes = d[0];
  const int rank = static_cast<int>(d[1]);
  const int64_t* shape = d.data() + 2;
  const int64_t* reps = d.data() + 2 + rank;
  std::vector<int64_t> xStride(rank), outStride(rank);
  int64_t xs = bytes, os = bytes;
  for (int k = rank - 1; k >= 0; k--) {
    xStride[k] = xs;
    outStride[k] = os;
    xs *= shape[k];
    os *= shape[k] * reps[k];
  }
  if (call.at[0] < 0 || static_cast<size_t>(call.at[0] + xs) > call.heap.length || call.at[1] < 0 || static_cast<size_t>(call.at[1] + os) > call.heap.length) {
    throw Napi::RangeError::New(call.env, "lth native: a tensor lies outside the heap it was given");
  }
  tileAxis(call.heap.base + call.at[0], call.heap.base + call.at[1], 0, rank, shape, reps, xStride.data(), outStride.data());
  return call.env.Undefined();
}

// ---- gathering rows ----------------------------------------------------------------------

// gatherRows(heap, [xOffset, indicesOffset, outOffset], [rows, rowBytes, count]): out[i] = x[indices[i]],
// a batch drawn from the resident training set. Returns the first index out of range, or -1.
Napi::Value GatherRows(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t rows = d[0], rowBytes = d[1], n = d[2];
  if (call.at[0] < 0 || static_cast<size_t>(call.at[0] + rows * rowBytes) > call.heap.length || call.at[1] < 0 || static_cast<size_t>(call.at[1] + n * 4) > call.heap.length ||
      call.at[2] < 0 || static_cast<size_t>(call.at[2] + n * rowBytes) > call.heap.length) {
    throw Napi::RangeError::New(call.env, "lth native: a tensor lies outside the heap it was given");
  }
  const uint8_t* x = call.heap.base + call.at[0];
  const int32_t* indices = reinterpret_cast<const int32_t*>(call.heap.base + call.at[1]);
  uint8_t* out = call.heap.base + call.at[2];
  for (int64_t i = 0; i < n; i++) {
    if (indices[i] < 0 || indices[i] >= rows) return Napi::Number::New(call.env, static_cast<double>(i));
  }
  for (int64_t i = 0; i < n; i++) std::memcpy(out + i * rowBytes, x + static_cast<int64_t>(indices[i]) * rowBytes, static_cast<size_t>(rowBytes));
  return Napi::Number::New(call.env, -1);
}

// ---- the optimizer's update --------------------------------------------------------------

// optimizerStep(heap, [v, g, s0, s1, mask], [n, kind, hasMask, scale], [lr, momentum, decay, l1, beta1, beta2, stepSize, epsilon]):
// one variable's update in place, the same arithmetic as the engine's Optimizer (optimizer.ts)
// in one pass instead of a dozen element-wise kernels: L2 decay and the L1 term on batch-norm
// scales into the gradient, the mask on the gradient and on the state, then SGD, momentum or
// Adam (kind 0, 1, 2). Offsets of absent tensors are ignored.
/** One update's numbers, and the arrays it reads and writes (state and mask null where absent). */
struct Update {
  float* v;
  const float* g;
  float* s0;
  float* s1;
  const float* mask;
  float lr, momentum, decay, l1, beta1, beta2, stepSize, epsilon;
};

// The loop for one combination of kind and terms, with no test left inside it, so that the
// compiler vectorises it (binding.gyp's -fno-math-errno lets std::sqrt vectorise: with errno
// it was a call per element, 18× slower), in the widest vectors the machine has
// (target_clones picks at load). The arithmetic is optimizer.ts's, in its order, element by
// element, IEEE-exact in every width (-ffp-contract=off: no fused multiply-adds), so every
// clone writes the same bytes.
template <int Kind, bool Decay, bool L1, bool Mask>
__attribute__((target_clones("avx512f", "avx2", "default"))) void updateLoop(const Update& u, int64_t from, int64_t to) {
  float* __restrict v = u.v;
  const float* __restrict g = u.g;
  float* __restrict s0 = u.s0;
  float* __restrict s1 = u.s1;
  const float* __restrict mask = u.mask;
  const float lr = u.lr, momentum = u.momentum, decay = u.decay, l1 = u.l1, beta1 = u.beta1, beta2 = u.beta2, stepSize = u.stepSize, epsilon = u.epsilon;
  const float oneMinusBeta1 = 1.f - beta1, oneMinusBeta2 = 1.f - beta2;
#pragma omp simd
  for (int64_t i = from; i < to; i++) {
    float grad = g[i];
    if constexpr (Decay) grad = grad + v[i] * decay;
    if constexpr (L1) grad = grad + static_cast<float>((v[i] > 0.f) - (v[i] < 0.f)) * l1;
    if constexpr (Mask) grad = grad * mask[i];
    if constexpr (Kind == 0) {
      v[i] = v[i] - grad * lr;
    } else if constexpr (Kind == 1) {
      float buf = s0[i] * momentum + grad;
      if constexpr (Mask) buf = buf * mask[i];
      s0[i] = buf;
      v[i] = v[i] - buf * lr;
    } else {
      float m = s0[i] * beta1 + grad * oneMinusBeta1;
      float w = s1[i] * beta2 + (grad * grad) * oneMinusBeta2;
      if constexpr (Mask) {
        m = m * mask[i];
        w = w * mask[i];
      }
      s0[i] = m;
      s1[i] = w;
      v[i] = v[i] - (m / (std::sqrt(w) + epsilon)) * stepSize;
    }
  }
}

using UpdateLoop = void (*)(const Update&, int64_t, int64_t);

template <int Kind>
UpdateLoop pickLoop(bool decay, bool l1, bool mask) {
  const int which = (decay ? 4 : 0) | (l1 ? 2 : 0) | (mask ? 1 : 0);
  static const UpdateLoop loops[8] = {updateLoop<Kind, false, false, false>, updateLoop<Kind, false, false, true>, updateLoop<Kind, false, true, false>,
                                      updateLoop<Kind, false, true, true>,   updateLoop<Kind, true, false, false>,  updateLoop<Kind, true, false, true>,
                                      updateLoop<Kind, true, true, false>,   updateLoop<Kind, true, true, true>};
  return loops[which];
}

Napi::Value OptimizerStep(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  Napi::Array p = info[3].As<Napi::Array>();
  auto param = [&](uint32_t i) { return static_cast<float>(p.Get(i).As<Napi::Number>().DoubleValue()); };
  const int64_t n = d[0];
  const int kind = static_cast<int>(d[1]);
  const bool hasMask = d[2] != 0, scale = d[3] != 0;
  Update u{};
  u.v = call.tensor(0, n);
  u.g = call.tensor(1, n);
  u.s0 = kind >= 1 ? call.tensor(2, n) : nullptr;
  u.s1 = kind == 2 ? call.tensor(3, n) : nullptr;
  u.mask = hasMask ? call.tensor(4, n) : nullptr;
  u.lr = param(0), u.momentum = param(1), u.decay = param(2), u.l1 = param(3), u.beta1 = param(4), u.beta2 = param(5), u.stepSize = param(6), u.epsilon = param(7);
  const bool decay = u.decay > 0.f, l1 = scale && u.l1 > 0.f;
  const UpdateLoop loop = kind == 0 ? pickLoop<0>(decay, l1, hasMask) : kind == 1 ? pickLoop<1>(decay, l1, hasMask) : pickLoop<2>(decay, l1, hasMask);
  // Weighted as 16 multiply-adds an element: 1,048,576 elements' Adam update took 626 µs on
  // one thread and 371 on two; LeNet-300-100's 235,200-weight layer takes 107 µs on one.
  // Each element's update is independent of the others, so the split changes no bytes.
  const Threads t(16.0 * n);
  if (t.n == 1) {
    loop(u, 0, n);
  } else {
#pragma omp parallel num_threads(t.n)
    {
      const int64_t parts = omp_get_num_threads(), part = omp_get_thread_num();
      // Chunks of 16 floats (a cache line), so no two threads write one line.
      const int64_t lines = (n + 15) / 16, per = (lines + parts - 1) / parts;
      const int64_t from = std::min(n, part * per * 16), to = std::min(n, (part + 1) * per * 16);
      loop(u, from, to);
    }
  }
  return call.env.Undefined();
}

// ---- element-wise kernels ---------------------------------------------------------------

// The element-wise kernels of a conv layer without batch norm and of its gradient (the bias
// added over the channels, ReLU, its gradient's step and product), which on wasm took a third
// of a Conv-2 step: 1.5 ms for one bias add over a 60×28×28×32 batch. One vectorised pass each.
enum class Eltwise { Add = 0, Multiply = 1, Relu = 2, Step = 3 };

__attribute__((target_clones("avx512f", "avx2", "default"))) void biasReluLoop(const float* __restrict x, const float* __restrict bias, float* __restrict y, int64_t rows,
                                                                               int64_t c) {
  for (int64_t r = 0; r < rows; r++) {
    const float* xr = x + r * c;
    float* yr = y + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; j++) {
      const float t = xr[j] + bias[j];
      yr[j] = t < 0.f ? 0.f : t;
    }
  }
}

__attribute__((target_clones("avx512f", "avx2", "default"))) void biasReluGradLoop(const float* __restrict dy, const float* __restrict y, float* __restrict dx,
                                                                                   float* __restrict db, int64_t rows, int64_t c) {
  for (int64_t j = 0; j < c; j++) db[j] = 0.f;
  for (int64_t r = 0; r < rows; r++) {
    const float* dyr = dy + r * c;
    const float* yr = y + r * c;
    float* dxr = dx + r * c;
#pragma omp simd
    for (int64_t j = 0; j < c; j++) {
      const float g = dyr[j] * (yr[j] > 0.f ? 1.f : 0.f);
      dxr[j] = g;
      db[j] = db[j] + g;
    }
  }
}

template <Eltwise Op>
__attribute__((target_clones("avx512f", "avx2", "default"))) void eltwiseLoop(const float* __restrict a, const float* __restrict b, float* __restrict out,
                                                                              int64_t n, int64_t period, float alpha) {
  if constexpr (Op == Eltwise::Add) {
    // b repeats every `period` elements (a bias over the last axis), or is as long as a.
    for (int64_t base = 0; base < n; base += period) {
      const int64_t end = std::min(n, base + period);
#pragma omp simd
      for (int64_t i = base; i < end; i++) out[i] = a[i] + b[i - base];
    }
  } else if constexpr (Op == Eltwise::Multiply) {
    for (int64_t base = 0; base < n; base += period) {
      const int64_t end = std::min(n, base + period);
#pragma omp simd
      for (int64_t i = base; i < end; i++) out[i] = a[i] * b[i - base];
    }
  } else if constexpr (Op == Eltwise::Relu) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = a[i] < 0.f ? 0.f : a[i];
  } else {
    // TensorFlow.js's step: 1 where x > 0, else alpha.
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = a[i] > 0.f ? 1.f : alpha;
  }
}

// eltwise(heap, [a, b, out], [op, n, period], alpha): out = a + b, a · b (b of `period`
// elements, repeated), relu(a) or step(a). b's offset is ignored by relu and step.
Napi::Value EltwiseKernel(const Napi::CallbackInfo& info) {
  const Call call(info);
  const std::vector<int64_t>& d = call.d;
  const int64_t n = d[1], period = d[2];
  const float alpha = static_cast<float>(info[3].As<Napi::Number>().DoubleValue());
  const Eltwise op = static_cast<Eltwise>(d[0]);
  const bool binary = op == Eltwise::Add || op == Eltwise::Multiply;
  if (n <= 0 || (binary && (period <= 0 || n % period != 0))) throw Napi::RangeError::New(call.env, "lth native: an element-wise kernel's shapes do not repeat evenly");
  const float* a = call.tensor(0, n);
  const float* b = binary ? call.tensor(1, period) : nullptr;
  float* out = call.tensor(2, n);
  switch (op) {
    case Eltwise::Add: eltwiseLoop<Eltwise::Add>(a, b, out, n, period, alpha); break;
    case Eltwise::Multiply: eltwiseLoop<Eltwise::Multiply>(a, b, out, n, period, alpha); break;
    case Eltwise::Relu: eltwiseLoop<Eltwise::Relu>(a, b, out, n, period, alpha); break;
    case Eltwise::Step: eltwiseLoop<Eltwise::Step>(a, b, out, n, period, alpha); break;
    default: throw Napi::RangeError::New(call.env, "lth native: no such element-wise kernel");
  }
  return call.env.Undefined();
}

// ---- a layer's bias and ReLU -------------------------------------------------------------

// biasRelu(heap, [x, bias, y], [rows, c]): y = relu(x + bias), the bias over the last axis;
// what Add then Relu compute, in one pass instead of two.
Napi::Value BiasRelu(const Napi::CallbackInfo& info) {
  const Call call(info);
  const int64_t rows = call.d[0], c = call.d[1];
  const float* x = call.tensor(0, rows * c);
  const float* bias = call.tensor(1, c);
  float* y = call.tensor(2, rows * c);
  biasReluLoop(x, bias, y, rows, c);
  return call.env.Undefined();
}

// biasReluGrad(heap, [dy, y, dx, dbias], [rows, c]): through relu(x + bias) from its output y:
// dx = dy · step(y) (TensorFlow.js's ReLU gradient, step(x + bias) being step(y)) and dbias its
// sum over the rows, in row order, on one thread (the same bytes at any thread count). One
// pass instead of Step, Multiply and Sum.
Napi::Value BiasReluGrad(const Napi::CallbackInfo& info) {
  const Call call(info);
  const int64_t rows = call.d[0], c = call.d[1];
  const float* dy = call.tensor(0, rows * c);
  const float* y = call.tensor(1, rows * c);
  float* dx = call.tensor(2, rows * c);
  float* db = call.tensor(3, c);
  biasReluGradLoop(dy, y, dx, db, rows, c);
  return call.env.Undefined();
}

// ---- the library -------------------------------------------------------------------------

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  const int n = info[0].As<Napi::Number>().Int32Value();
  if (n < 1) throw Napi::RangeError::New(info.Env(), "lth native: threads must be at least 1");
  maxThreads = n;
  omp_set_num_threads(n);
  return info.Env().Undefined();
}

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dnnl_version_t* v = dnnl_version();
  Napi::Object out = Napi::Object::New(env);
  std::ostringstream version;
  version << v->major << '.' << v->minor << '.' << v->patch;
  out.Set("dnnl", version.str());
  out.Set("threads", omp_get_max_threads());
  out.Set("isa", static_cast<int>(dnnl::get_effective_cpu_isa()));
  return out;
}

/** Wraps a kernel so a oneDNN error reaches JavaScript as an Error naming the kernel. */
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const dnnl::error& e) {
    throw Napi::Error::New(info.Env(), std::string("lth native (oneDNN): ") + e.what());
  }
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("matmul", Napi::Function::New(env, guarded<Matmul>));
  exports.Set("conv2d", Napi::Function::New(env, guarded<Conv2D>));
  exports.Set("conv2dBackpropInput", Napi::Function::New(env, guarded<Conv2DBackpropInput>));
  exports.Set("conv2dBackpropFilter", Napi::Function::New(env, guarded<Conv2DBackpropFilter>));
  exports.Set("maxPool", Napi::Function::New(env, guarded<MaxPool>));
  exports.Set("maxPoolGrad", Napi::Function::New(env, guarded<MaxPoolGrad>));
  exports.Set("batchNormTrain", Napi::Function::New(env, guarded<BatchNormTrain>));
  exports.Set("batchNormTrainGrad", Napi::Function::New(env, guarded<BatchNormTrainGrad>));
  exports.Set("softmaxCrossEntropy", Napi::Function::New(env, guarded<SoftmaxCrossEntropy>));
  exports.Set("softmaxCrossEntropyGrad", Napi::Function::New(env, guarded<SoftmaxCrossEntropyGrad>));
  exports.Set("tile", Napi::Function::New(env, guarded<Tile>));
  exports.Set("sumLeading", Napi::Function::New(env, guarded<SumLeading>));
  exports.Set("gatherRows", Napi::Function::New(env, guarded<GatherRows>));
  exports.Set("biasRelu", Napi::Function::New(env, guarded<BiasRelu>));
  exports.Set("biasReluGrad", Napi::Function::New(env, guarded<BiasReluGrad>));
  exports.Set("eltwise", Napi::Function::New(env, guarded<EltwiseKernel>));
  exports.Set("optimizerStep", Napi::Function::New(env, guarded<OptimizerStep>));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("info", Napi::Function::New(env, Info));
  return exports;
}

}  // namespace

NODE_API_MODULE(lth_native, Init)
