"""A compiled CPU kernel for the losses of one-coordinate MLP moves, and its loader.

The pure-torch path in ``mlp_moves.MovesCache`` evaluates every training sample of every move,
several passes over (P, classes, samples) tensors. This kernel makes one pass per move over
only the samples whose logits change: for a first-layer weight w[j, k] those with a nonzero
input k (MNIST pixels are mostly zero), and of those only where relu(z_j) changes. It runs on
the calling thread: built without OpenMP, ATen's ``parallel_for`` / ``parallel_reduce`` call
their function once over the whole range (``mlp_low_rank_kernel`` measured this), and a move
touches too few samples (about a thousand) to pay for a hand-off to another thread. Built
once by ``compiled.build``; where that fails, ``load()`` returns None and the torch path is used.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from dfo_bench.problems.compiled import build

SAMPLE_LOSS = r"""
#include <torch/extension.h>
#include <algorithm>
#include <cmath>
#include <cstdint>

// One sample's log-softmax (into its C floats lps) and cross-entropy (returned) from its float64
// logits Ls and label y, after a move changed them.
static inline double sample_loss(const double* Ls, float* lps, int64_t C, int64_t y) {
  double m = -INFINITY, sum = 0.0;
  for (int64_t c = 0; c < C; ++c) m = std::max(m, Ls[c]);
  for (int64_t c = 0; c < C; ++c) sum += std::exp((float)(Ls[c] - m));  // float exp: ~1e-7 relative
  const double lse = m + std::log(sum);
  for (int64_t c = 0; c < C; ++c) lps[c] = (float)(Ls[c] - lse);
  return lse - Ls[y];
}

// The mean of the n samples' cross-entropies ce: the loss after a move.
static inline double mean_loss(const double* ce, int64_t n) {
  double total = 0.0;
  for (int64_t s = 0; s < n; ++s) total += ce[s];
  return total / (double)n;
}

// The float32 values of P moves (index, value) from a float32 base of dim coordinates, once the
// moves are checked: on the CPU, contiguous, of these dtypes, every index in [lo, dim) (the
// coordinates the kernel moves).
static inline const float* checked_move_values(const torch::Tensor& index, const torch::Tensor& value,
                                               const torch::Tensor& base, int64_t lo, int64_t dim) {
  TORCH_CHECK(index.device().is_cpu() && value.device().is_cpu() && base.device().is_cpu() &&
              index.dtype() == torch::kInt64 && value.dtype() == torch::kFloat32 && base.dtype() == torch::kFloat32 &&
              index.is_contiguous() && value.is_contiguous() && base.is_contiguous() &&
              value.size(0) == index.size(0) && base.size(0) == dim,
              "moves: int64 index and float32 value, one per move, from a contiguous float32 base of ", dim,
              ", all on the CPU");
  const int64_t* idx = index.data_ptr<int64_t>();
  for (int64_t p = 0; p < index.size(0); ++p)
    TORCH_CHECK(idx[p] >= lo && idx[p] < dim, "moves: coordinate ", idx[p], " outside [", lo, ", ", dim, ")");
  return value.data_ptr<float>();
}
"""
"""C++ both moves kernels include (``mlp_deep_moves_kernel`` too): a changed sample's log-softmax
and loss, the mean loss, and the check of the moves a kernel is given."""

SOURCE = (
    r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <cmath>
#include <functional>
"""
    + SAMPLE_LOSS
    + r"""

// Samples per share of parallel_for / parallel_reduce (serial in this build: see the module's docstring).
constexpr int64_t GRAIN = 1024;

// Per move p, the loss when coordinate index[p] moves from base[index[p]] to value[p]: the cached
// base's loss plus the mean over samples of the change of cross-entropy, rounded to float.
// Sample i's logits move by s_i * w (w: classes); with logp the base log-softmax, its loss
// changes by logsumexp_c(logp_ic + s_i w_c) - s_i w_{y_i}.
torch::Tensor move_losses(
    torch::Tensor index, torch::Tensor value, torch::Tensor base, double loss, torch::Tensor z, torch::Tensor R,
    torch::Tensor ptr, torch::Tensor rows, torch::Tensor vals, torch::Tensor logp,
    torch::Tensor y, torch::Tensor W_out, int64_t hidden_start, int64_t output_start) {
  const int64_t P = index.size(0), n = logp.size(0), C = logp.size(1), h = W_out.size(1);
  const int64_t a = ptr.size(0) - 2;  // fan-in of the last hidden layer (column a: the bias)
  const float* v = checked_move_values(index, value, base, hidden_start, output_start + C * h + C);
  const float* b = base.data_ptr<float>();
  const int64_t* idx = index.data_ptr<int64_t>();
  const double* zp = z.data_ptr<double>();
  const double* Rp = R.data_ptr<double>();
  const int64_t* pp = ptr.data_ptr<int64_t>();
  const int64_t* rp = rows.data_ptr<int64_t>();
  const double* vp = vals.data_ptr<double>();
  const float* lp = logp.data_ptr<float>();
  const int64_t* yp = y.data_ptr<int64_t>();
  const double* Wp = W_out.data_ptr<double>();
  auto out = torch::empty({P}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  float w[256];
  TORCH_CHECK(C <= 256, "at most 256 classes");
  auto change = [&](int64_t i, double s) -> double {
    const float* li = lp + i * C;
    const float fs = (float)s;
    float m = -INFINITY;
    for (int64_t c = 0; c < C; ++c) m = std::max(m, li[c] + fs * w[c]);
    float sum = 0.f;
    for (int64_t c = 0; c < C; ++c) sum += std::exp(li[c] + fs * w[c] - m);
    return (double)m + std::log((double)sum) - s * (double)w[yp[i]];
  };
  for (int64_t p = 0; p < P; ++p) {
    double total = 0.0;
    const double dp = (double)v[p] - (double)b[idx[p]];
    if (idx[p] >= output_start) {
      int64_t rel = idx[p] - output_start, c, j;
      if (rel < C * h) { c = rel / h; j = rel % h; } else { c = rel - C * h; j = h; }
      for (int64_t k = 0; k < C; ++k) w[k] = 0.f;
      w[c] = (float)dp;
      const double* Rj = Rp + j * n;
      total = at::parallel_reduce(0, n, GRAIN, 0.0, [&](int64_t lo, int64_t hi, double acc) {
        for (int64_t i = lo; i < hi; ++i)
          if (Rj[i] != 0.0) acc += change(i, Rj[i]);
        return acc;
      }, std::plus<double>());
    } else {
      int64_t rel = idx[p] - hidden_start, j, col;
      if (rel < h * a) { j = rel / a; col = rel % a; } else { j = rel - h * a; col = a; }
      for (int64_t k = 0; k < C; ++k) w[k] = (float)Wp[k * h + j];
      const double* zj = zp + j * n;
      total = at::parallel_reduce(pp[col], pp[col + 1], GRAIN, 0.0, [&](int64_t lo, int64_t hi, double acc) {
        for (int64_t q = lo; q < hi; ++q) {
          const int64_t i = rp[q];
          const double old = zj[i] > 0.0 ? zj[i] : 0.0;
          const double zn = zj[i] + dp * vp[q];
          const double s = (zn > 0.0 ? zn : 0.0) - old;
          if (s != 0.0) acc += change(i, s);
        }
        return acc;
      }, std::plus<double>());
    }
    o[p] = (float)(loss + total / (double)n);
  }
  return out;
}

// Apply the move of coordinate i by delta in place to z, R, W_out and to the logits L, the
// log-softmax logp and the cross-entropies ce of the samples it changes; returns the mean loss.
double apply_move(
    int64_t i, double delta, torch::Tensor z, torch::Tensor R, torch::Tensor ptr, torch::Tensor rows,
    torch::Tensor vals, torch::Tensor L, torch::Tensor logp, torch::Tensor ce, torch::Tensor y,
    torch::Tensor W_out, int64_t hidden_start, int64_t output_start) {
  const int64_t n = L.size(0), C = L.size(1), h = W_out.size(1), a = ptr.size(0) - 2;
  double* zp = z.data_ptr<double>();
  double* Rp = R.data_ptr<double>();
  const int64_t* pp = ptr.data_ptr<int64_t>();
  const int64_t* rp = rows.data_ptr<int64_t>();
  const double* vp = vals.data_ptr<double>();
  double* Lp = L.data_ptr<double>();
  float* lp = logp.data_ptr<float>();
  double* cp = ce.data_ptr<double>();
  const int64_t* yp = y.data_ptr<int64_t>();
  double* Wp = W_out.data_ptr<double>();
  auto refresh = [&](int64_t s) { cp[s] = sample_loss(Lp + s * C, lp + s * C, C, yp[s]); };
  if (i >= output_start) {
    int64_t rel = i - output_start, c, j;
    if (rel < C * h) { c = rel / h; j = rel % h; } else { c = rel - C * h; j = h; }
    const double* Rj = Rp + j * n;
    at::parallel_for(0, n, GRAIN, [&](int64_t lo, int64_t hi) {
      for (int64_t s = lo; s < hi; ++s)
        if (Rj[s] != 0.0) { Lp[s * C + c] += delta * Rj[s]; refresh(s); }
    });
    if (j < h) Wp[c * h + j] += delta;
  } else {
    int64_t rel = i - hidden_start, j, col;
    if (rel < h * a) { j = rel / a; col = rel % a; } else { j = rel - h * a; col = a; }
    double* zj = zp + j * n;
    double* Rj = Rp + j * n;
    at::parallel_for(pp[col], pp[col + 1], GRAIN, [&](int64_t lo, int64_t hi) {
      for (int64_t q = lo; q < hi; ++q) {
        const int64_t s = rp[q];
        zj[s] += delta * vp[q];
        const double r = zj[s] > 0.0 ? zj[s] : 0.0, dr = r - Rj[s];
        Rj[s] = r;
        if (dr != 0.0) {
          for (int64_t c = 0; c < C; ++c) Lp[s * C + c] += dr * Wp[c * h + j];
          refresh(s);
        }
      }
    });
  }
  return mean_loss(cp, n);
}
"""
)


@cache
def load() -> ModuleType | None:
    """The compiled kernel, or None (with a warning) where no compiler or ninja is available."""
    return build("dfo_bench_mlp_moves", SOURCE, ["move_losses", "apply_move"])
