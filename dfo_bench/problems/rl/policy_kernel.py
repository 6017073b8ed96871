"""A compiled CPU kernel for one environment step's forward of a population of linear or tanh-MLP policies.

Why hand-written: a population rollout takes one forward per environment step until its longest
episode ends, and random policies give ragged episodes (on CartPole most end within 30 steps, a
few last 500), so most forwards run on one or two live rows. Through torch a forward is a dozen
calls (normalisation, ``baddbmm`` and ``tanh`` per layer, argmax, copies) of 2–4 µs each whatever
the rows, more than a CartPole step (``benchmarks/bench_rollouts.py``, docs/rl.md). This kernel is
bound once to a set of rows and their tensors, then run once per step: it reads the rows'
observations from the rollout's buffer, normalises them, computes every layer row by row (each
output summed over the inputs in ascending order, then its bias; 16 outputs at a time in vector
registers) with Eigen's rational tanh between layers, and writes the outputs, clipped to the
action box, or their argmax.

Each row is computed alone in a fixed order, so an action does not depend on which other rows
share the forward (population rollouts equal one-by-one rollouts). The sums are not in the order
of torch's ``bmm`` (MKL's) and the tanh is not torch's, so outputs equal the torch path to float
rounding, not bit for bit: ``ControlProblem.version`` 2 marks the runs computed this way. The CUDA
path, ``cnn`` policies and a machine without a C++ toolchain use the torch path.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from dfo_bench.problems.compiled import build

SOURCE = r"""
#include <torch/extension.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

static void check(const torch::Tensor& t, at::ScalarType dtype, int64_t dim, const char* what) {
  TORCH_CHECK(t.device().is_cpu() && t.scalar_type() == dtype && t.dim() == dim && t.is_contiguous(),
              what, ": expected a contiguous ", dim, "-D ", c10::toString(dtype), " CPU tensor, got ",
              t.scalar_type(), " of shape ", t.sizes(), " on ", t.device());
}

constexpr int64_t BLOCK = 16;  // outputs summed together: one AVX-512 register, two AVX2 ones
constexpr int64_t GROUP = 4;   // blocks summed side by side, so their multiply-adds overlap
typedef float lanes_t __attribute__((vector_size(BLOCK * sizeof(float))));

// The sums of blocks j0, j0 + BLOCK, ... (``count`` of them, at most GROUP) of x·w into y.
static inline void blocks(const float* x, const float* w, float* y, int64_t in, int64_t out, int64_t j0, int64_t count) {
  lanes_t acc[GROUP] = {};
  for (int64_t k = 0; k < in; ++k) {
    const float* wk = w + k * out + j0;
    for (int64_t g = 0; g < count; ++g) {
      lanes_t lanes;
      std::memcpy(&lanes, wk + g * BLOCK, sizeof lanes);
      acc[g] += x[k] * lanes;
    }
  }
  std::memcpy(y + j0, acc, count * sizeof(lanes_t));
}

// The sums of outputs j0 .. j0 + C - 1 of x·w into y, each in a register (a layer's outputs past
// its whole blocks: an action layer's few), one fused multiply-add after another.
template <int C>
static inline void columns(const float* x, const float* w, float* y, int64_t in, int64_t out, int64_t j0) {
  float acc[C] = {};
  for (int64_t k = 0; k < in; ++k) {
    const float* wk = w + k * out + j0;
    for (int c = 0; c < C; ++c) acc[c] = std::fma(x[k], wk[c], acc[c]);
  }
  for (int c = 0; c < C; ++c) y[j0 + c] = acc[c];
}

// y = x·w + b for one row: x (in), w (in, out) row-major, b (out) or null. Every output is the
// sum of its products in ascending order of the inputs, from 0, then its bias, whether it falls in
// a whole block of outputs or in the narrower rest (-fno-associative-math: no reduction tree).
static void affine(const float* x, const float* w, const float* b, float* y, int64_t in, int64_t out) {
  const int64_t whole = out / BLOCK;
  for (int64_t g = 0; g < whole; g += GROUP) blocks(x, w, y, in, out, g * BLOCK, std::min(GROUP, whole - g));
  int64_t j0 = whole * BLOCK;
  for (; j0 + 4 <= out; j0 += 4) columns<4>(x, w, y, in, out, j0);
  switch (out - j0) {
    case 3: columns<3>(x, w, y, in, out, j0); break;
    case 2: columns<2>(x, w, y, in, out, j0); break;
    case 1: columns<1>(x, w, y, in, out, j0); break;
    default: break;
  }
  if (b != nullptr)
    for (int64_t j = 0; j < out; ++j) y[j] += b[j];
}

// tanh as Eigen 3.4's generic_fast_tanh_float (MathFunctionsImpl.h): a 13/6-degree rational
// interpolant accurate to a couple of ulps, the input clamped where it evaluates to exactly ±1 and
// tanh(x) = x for |x| < 0.0004; NaN stays NaN. Arithmetic only, so GCC vectorises it and every
// element gets the same operations whatever its position.
static void fast_tanh(float* y, int64_t count) {
#ifdef __FMA__
  constexpr float clamp = 7.99881172180175781f;
#else
  constexpr float clamp = 7.90531110763549805f;
#endif
  for (int64_t i = 0; i < count; ++i) {
    const float a = y[i];
    const float x = a > clamp ? clamp : (a < -clamp ? -clamp : a);
    const float x2 = x * x;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    y[i] = (std::fabs(a) < 0.0004f || a != a) ? a : p / q;
  }
}

// The forward of n policies, bound once to its tensors (a rollout binds anew when its rows change)
// and run every environment step: layers W[l] (n, in, out) and b[l] (n, 1, out) or empty (no bias),
// acting on rows held[i] of obs (N, o), whose values change between runs, normalised as
// (obs - mean) / std when mean is not empty; tanh between layers. Each run writes ``actions``:
// with argmax (n,) int64, the first largest output of each row (a NaN counts as largest, as in
// torch.argmax), else the outputs (n, a) clipped to [low, high] where low is not empty.
struct Forward {
  torch::Tensor obs, held, mean, scale, low, high, actions;
  std::vector<torch::Tensor> W, b;
  bool argmax;
  int64_t n, o, widest;
  std::vector<int64_t> outs;
  std::vector<const float*> weights, biases;  // per layer, resolved once: null for no bias
  std::vector<float> here, next;

  Forward(torch::Tensor obs_, torch::Tensor held_, torch::Tensor mean_, torch::Tensor scale_,
          std::vector<torch::Tensor> W_, std::vector<torch::Tensor> b_, bool argmax_, torch::Tensor low_,
          torch::Tensor high_)
      : obs(obs_), mean(mean_), scale(scale_), low(low_), high(high_), W(W_), b(b_), argmax(argmax_) {
    check(obs, at::kFloat, 2, "obs");
    check(held_, at::kLong, 1, "held");
    held = held_.clone();  // checked once below, read every run: a copy the caller cannot change
    TORCH_CHECK(!W.empty() && W.size() == b.size(), "expected as many bias entries as layers, at least one");
    const int64_t N = obs.size(0);
    o = obs.size(1);
    n = held.size(0);
    const int64_t* rows = held.data_ptr<int64_t>();
    for (int64_t i = 0; i < n; ++i) TORCH_CHECK(rows[i] >= 0 && rows[i] < N, "held row ", rows[i], " outside 0..", N - 1);
    if (mean.numel() > 0) {
      check(mean, at::kFloat, 1, "mean");
      check(scale, at::kFloat, 1, "std");
      TORCH_CHECK(mean.size(0) == o && scale.size(0) == o, "mean and std must have ", o, " entries");
    }
    int64_t width = o;
    widest = o;
    for (size_t l = 0; l < W.size(); ++l) {
      check(W[l], at::kFloat, 3, "weights");
      TORCH_CHECK(W[l].size(0) == n, "layer ", l, ": weights for ", W[l].size(0), " rows, ", n, " held");
      TORCH_CHECK(W[l].size(1) == width, "layer ", l, ": weights for ", W[l].size(1), " inputs, ", width, " given");
      if (b[l].numel() > 0) {
        check(b[l], at::kFloat, 3, "bias");
        TORCH_CHECK(b[l].size(0) == n && b[l].size(1) == 1 && b[l].size(2) == W[l].size(2), "layer ", l, ": bias ",
                    b[l].sizes(), " for weights ", W[l].sizes());
      }
      width = W[l].size(2);
      outs.push_back(width);
      weights.push_back(W[l].data_ptr<float>());
      biases.push_back(b[l].numel() > 0 ? b[l].data_ptr<float>() : nullptr);
      widest = std::max(widest, width);
    }
    if (low.numel() > 0) {
      TORCH_CHECK(!argmax, "an argmax takes no bounds");
      check(low, at::kFloat, 1, "low");
      check(high, at::kFloat, 1, "high");
      TORCH_CHECK(low.size(0) == width && high.size(0) == width, "low and high must bound ", width, " outputs");
    }
    actions = argmax ? torch::empty({n}, held.options()) : torch::empty({n, width}, obs.options());
    here.resize(widest);
    next.resize(widest);
  }

  void run() {
    const int64_t layers = static_cast<int64_t>(W.size()), a = outs.back();
    const int64_t* rows = held.data_ptr<int64_t>();
    const float* src = obs.data_ptr<float>();
    const float* m = mean.numel() > 0 ? mean.data_ptr<float>() : nullptr;
    const float* s = mean.numel() > 0 ? scale.data_ptr<float>() : nullptr;
    const float* lo = low.numel() > 0 ? low.data_ptr<float>() : nullptr;
    const float* hi = low.numel() > 0 ? high.data_ptr<float>() : nullptr;
    int64_t* chosen = argmax ? actions.data_ptr<int64_t>() : nullptr;
    float* values = argmax ? nullptr : actions.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float* row = src + rows[i] * o;
      for (int64_t k = 0; k < o; ++k) here[k] = m != nullptr ? (row[k] - m[k]) / s[k] : row[k];
      int64_t in = o;
      for (int64_t l = 0; l < layers; ++l) {
        const int64_t out = outs[l];
        const float* bias = biases[l] != nullptr ? biases[l] + i * out : nullptr;
        affine(here.data(), weights[l] + i * in * out, bias, next.data(), in, out);
        if (l + 1 < layers) fast_tanh(next.data(), out);
        std::swap(here, next);
        in = out;
      }
      if (argmax) {
        int64_t k = 0;
        for (int64_t j = 1; j < a && !std::isnan(here[k]); ++j)
          if (std::isnan(here[j]) || here[j] > here[k]) k = j;
        chosen[i] = k;
      } else {
        float* y = values + i * a;
        for (int64_t j = 0; j < a; ++j)
          y[j] = lo != nullptr ? (here[j] < lo[j] ? lo[j] : (here[j] > hi[j] ? hi[j] : here[j])) : here[j];
      }
    }
  }
};

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  pybind11::class_<Forward>(m, "Forward")
      .def(pybind11::init<torch::Tensor, torch::Tensor, torch::Tensor, torch::Tensor, std::vector<torch::Tensor>,
                          std::vector<torch::Tensor>, bool, torch::Tensor, torch::Tensor>())
      .def_readonly("actions", &Forward::actions)
      .def("__call__", &Forward::run);
}
"""


@cache
def load() -> ModuleType | None:
    """The built kernel (its ``Forward``), or None where it cannot be built (the torch path then)."""
    # Divisions as torch's (the normalisation's), sums in their written order.
    return build("dfo_bench_policy_forward", SOURCE, None, ("-fno-reciprocal-math", "-fno-associative-math"))
