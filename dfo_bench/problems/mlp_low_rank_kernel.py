"""A compiled CPU kernel for the per-member part of a low-rank population of one-hidden-layer MLPs.

Why hand-written: on the CPU the eager path spends most of a low-rank evaluation in passes over
(P, hidden, samples) and (P, classes, samples) tensors (correction, ReLU, the per-member output
layer, cross-entropy: each one a trip through memory), and ``torch.compile`` of the same part
measured no faster (``benchmarks/bench_lowrank.py``'s fused column). This kernel takes the GEMM
results (the centre's first-layer sums S = W·x and each member's projections C = Bᵀ·x) and, for
16 samples at a time (one AVX-512 register, two AVX2 ones: GCC vector extensions), computes
a member's hidden layer, its output layer as several independent sums (so that the FMAs of
different rows overlap), and its softmax cross-entropy (vectorised ``expf`` / ``logf`` from
glibc's libmvec), without writing any activation to memory.

Threads: compiled with ``-fopenmp`` but linked to no OpenMP library of its own, so that
``at::parallel_for`` resolves to the OpenMP runtime torch already loaded and runs on torch's
intra-op threads (``torch.set_num_threads``), the ones that just ran the GEMM. Built without
OpenMP, ``parallel_for`` runs serially (measured: 4.7 ms with 1 thread and with 2 at P = 64);
with ``std::thread``s of its own, torch's threads, still spinning after the GEMM, took their
cores (11.4 ms for GEMM + kernel against 8.7 ms; with ``OMP_WAIT_POLICY=PASSIVE`` 8.5 ms).
Each block of 256 samples is summed in a fixed order and the blocks are added by ``sum``, so a
member's loss does not depend on the number of threads.

Letters in the C++ source: H hidden units, K classes, D draws (one per antithetic pair), P
members, r the rank, n samples; ``dfo_bench.lowrank`` writes K for draws and D for the weights.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from dfo_bench.problems.compiled import build

SOURCE = r"""
#include <torch/extension.h>
#include <ATen/Parallel.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

// glibc's vector variants of expf and logf (libmvec), which GCC calls when it vectorises a loop.
extern "C" {
#pragma omp declare simd notinbranch
float expf(float);
#pragma omp declare simd notinbranch
float logf(float);
}

constexpr int64_t LANES = 16;   // samples computed together
constexpr int64_t BLOCK = 256;  // samples per task: their first-layer sums stay in the L1 cache
typedef float lanes_t __attribute__((vector_size(LANES * sizeof(float))));

struct Member {
  const float* b;   // (H) first-layer bias
  const float* A;   // (H, r) first-layer factor, scaled by sign·σ/√r
  const float* C;   // (r, n) projections Bᵀ·x of the samples
  const float* W;   // (K, H) output weights
  const float* b2;  // (K) output bias
};

// Lanes of m consecutive floats from p (the rest zero when m < LANES).
static inline lanes_t load(const float* p, int64_t m) {
  lanes_t v = {};
  std::memcpy(&v, p, m * sizeof(float));
  return v;
}

// Logits z[q..q+U) of one group of samples: U independent sums over the hidden units.
template <int U>
static inline void rows(const Member& w, const lanes_t* __restrict h, int64_t H, int64_t q, lanes_t* __restrict z) {
  lanes_t t[U];
  for (int u = 0; u < U; ++u) t[u] = lanes_t{} + w.b2[q + u];
  for (int64_t j = 0; j < H; ++j)
    for (int u = 0; u < U; ++u) t[u] += w.W[(q + u) * H + j] * h[j];
  for (int u = 0; u < U; ++u) z[q + u] = t[u];
}

// The member's cross-entropy summed over the m samples from s0: all LANES when Full (sizes the
// compiler knows), fewer in a block's last group.
template <bool Full>
static inline double group(const float* __restrict S, int64_t n, int64_t H, int64_t r, int64_t K, const Member& w,
                           const int64_t* __restrict y, int64_t s0, int64_t m, lanes_t* __restrict h,
                           lanes_t* __restrict z) {
  if (Full) m = LANES;
  const lanes_t zero = {};
  for (int64_t j = 0; j < H; ++j) {
    lanes_t v = load(S + j * n + s0, m) + w.b[j];
    for (int64_t k = 0; k < r; ++k) v += w.A[j * r + k] * load(w.C + k * n + s0, m);
    h[j] = v < zero ? zero : v;  // NaN stays NaN, as in torch.relu
  }
  int64_t q = 0;
  for (; q + 8 <= K; q += 8) rows<8>(w, h, H, q, z);
  for (; q + 4 <= K; q += 4) rows<4>(w, h, H, q, z);
  for (; q + 2 <= K; q += 2) rows<2>(w, h, H, q, z);
  for (; q < K; ++q) rows<1>(w, h, H, q, z);
  lanes_t top = z[0];
  for (q = 1; q < K; ++q) top = top > z[q] ? top : z[q];
  alignas(64) float sum[LANES] = {}, mx[LANES], e[LANES], loss[LANES];
  std::memcpy(mx, &top, sizeof mx);
  for (q = 0; q < K; ++q) {
    std::memcpy(e, &z[q], sizeof e);
#pragma omp simd
    for (int64_t l = 0; l < LANES; ++l) sum[l] += expf(e[l] - mx[l]);
  }
#pragma omp simd
  for (int64_t l = 0; l < LANES; ++l) loss[l] = mx[l] + logf(sum[l]);
  float total = 0.f;
  for (int64_t l = 0; l < m; ++l) total += loss[l] - z[y[s0 + l]][l];
  return total;
}

// Per member p, the summed softmax cross-entropy over the n samples of the one-hidden-layer net
// whose hidden pre-activations are S[:, i] + b[p] + A[p]·C[draw[p], :, i] and output layer W[p],
// b2[p] (the members of an antithetic pair share their draw's projections C).
// S (H, n), C (D, r, n), b (P, H), A (P, H, r), W (P, K, H), b2 (P, K): float32, contiguous;
// draw (P) and y (n): int64. Returns (P) float64.
torch::Tensor low_rank_cross_entropy(torch::Tensor S, torch::Tensor C, torch::Tensor draw, torch::Tensor b,
                                     torch::Tensor A, torch::Tensor W, torch::Tensor b2, torch::Tensor y) {
  const int64_t H = S.size(0), n = S.size(1), P = b.size(0), D = C.size(0), r = C.size(1), K = W.size(1);
  TORCH_CHECK(S.is_contiguous() && C.is_contiguous() && draw.is_contiguous() && b.is_contiguous() &&
              A.is_contiguous() && W.is_contiguous() && b2.is_contiguous() && y.is_contiguous(),
              "contiguous tensors expected");
  TORCH_CHECK(C.size(2) == n && y.size(0) == n && draw.size(0) == P && b.size(1) == H && A.size(0) == P &&
              A.size(1) == H && A.size(2) == r && W.size(0) == P && W.size(2) == H && b2.size(0) == P &&
              b2.size(1) == K, "shapes do not match");
  const int64_t* dp = draw.data_ptr<int64_t>();
  for (int64_t p = 0; p < P; ++p) TORCH_CHECK(dp[p] >= 0 && dp[p] < D, "draw out of range");
  const float* Sp = S.data_ptr<float>();
  const float* Cp = C.data_ptr<float>();
  const float* bp = b.data_ptr<float>();
  const float* Ap = A.data_ptr<float>();
  const float* Wp = W.data_ptr<float>();
  const float* b2p = b2.data_ptr<float>();
  const int64_t* yp = y.data_ptr<int64_t>();
  const int64_t blocks = (n + BLOCK - 1) / BLOCK;
  auto partial = torch::zeros({blocks, P}, torch::kFloat64);
  double* out = partial.data_ptr<double>();
  auto work = [&](int64_t lo, int64_t hi) {
    std::vector<lanes_t> h(H), z(K);
    for (int64_t blk = lo; blk < hi; ++blk) {
      const int64_t first = blk * BLOCK, last = std::min(n, first + BLOCK);
      const int64_t full = first + (last - first) / LANES * LANES;
      for (int64_t p = 0; p < P; ++p) {
        const Member w{bp + p * H, Ap + p * H * r, Cp + dp[p] * r * n, Wp + p * K * H, b2p + p * K};
        double acc = 0.0;
        for (int64_t s0 = first; s0 < full; s0 += LANES)
          acc += group<true>(Sp, n, H, r, K, w, yp, s0, LANES, h.data(), z.data());
        if (full < last) acc += group<false>(Sp, n, H, r, K, w, yp, full, last - full, h.data(), z.data());
        out[blk * P + p] = acc;
      }
    }
  };
  at::parallel_for(0, blocks, 1, work);
  return partial.sum(0);
}
"""


@cache
def load() -> ModuleType | None:
    """The compiled kernel, or None (with a warning) where it cannot be built."""
    return build("dfo_bench_mlp_low_rank", SOURCE, ["low_rank_cross_entropy"], ("-fopenmp",), ("mvec",))
