"""A compiled CPU kernel for one-coordinate moves anywhere in an MLP of two or more hidden layers.

``mlp_moves_kernel`` moves only the last hidden layer's and the output layer's weights; on a
784-128-128-10 MLP that leaves 85 % of the coordinates (the first layer's) to a dense forward of
the whole network per trial, about 120 trials/s on 2 cores. A move of weight w[j, k] of hidden
layer l changes unit j's pre-activation on the samples whose input k is nonzero (MNIST pixels
are mostly zero, ReLU outputs half the time); on each of those where relu(z_j) changes, the
change is pushed through the later layers for that sample alone (a column of the next layer's
weights, then only the units whose ReLU output moved) down to its logits. Pre-activations are
cached sample-major (n, width) in float64, so a sample's units are contiguous; the later layers'
weights transposed (in, out), so the units fed by one changed input are contiguous. On the
calling thread, as ``mlp_moves_kernel`` (a move touches about a thousand samples). Built once by
``compiled.build``; where that fails, ``load()`` returns None and ``mlp_moves.MovesCache`` is used.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType

from dfo_bench.problems.compiled import build
from dfo_bench.problems.mlp_moves_kernel import SAMPLE_LOSS

SOURCE = (
    r"""
#include <torch/extension.h>
#include <cmath>
#include <vector>
"""
    + SAMPLE_LOSS
    + r"""

// The cached network: Z[m] (n, out[m]) pre-activations of hidden layer m; W[m] (out[m], fan[m])
// the weights of layer m >= 2, read in dense products, and WT[m] (fan[m], out[m]) those of
// hidden layer m >= 1 transposed, read a row at a time (W[0], W[1], WT[0] and WT[hidden] are
// never read: empty placeholders); start[m] the flat index of layer m's first weight
// (start[layers] = dim); the inputs' nonzeros by feature (ptr, rows, vals), with a last feature
// of ones for the biases.
struct Net {
  std::vector<double*> Z, W, WT;
  std::vector<int64_t> start, fan, out;
  int64_t hidden, n, C;
  const int64_t *ptr, *rows;
  const double* vals;
};

static Net net_of(const std::vector<torch::Tensor>& Z, const std::vector<torch::Tensor>& W,
                  const std::vector<torch::Tensor>& WT, const std::vector<int64_t>& start,
                  const torch::Tensor& ptr, const torch::Tensor& rows, const torch::Tensor& vals, int64_t n, int64_t C) {
  Net net;
  net.hidden = (int64_t)Z.size();
  TORCH_CHECK(net.hidden >= 1 && (int64_t)W.size() == net.hidden + 1 && (int64_t)WT.size() == net.hidden + 1 &&
              (int64_t)start.size() == net.hidden + 2, "a layer list of the wrong length");
  net.n = n; net.C = C;
  net.start = start;
  net.fan.push_back(ptr.size(0) - 2);
  for (int64_t m = 0; m < net.hidden; ++m) {
    net.Z.push_back(Z[m].data_ptr<double>());
    net.out.push_back(Z[m].size(1));
    net.fan.push_back(Z[m].size(1));  // the next layer's fan-in
  }
  net.out.push_back(C);
  net.W.push_back(nullptr); net.WT.push_back(nullptr);
  for (int64_t m = 1; m <= net.hidden; ++m) {
    net.W.push_back(m >= 2 ? W[m].data_ptr<double>() : nullptr);
    net.WT.push_back(m < net.hidden ? WT[m].data_ptr<double>() : nullptr);
  }
  net.ptr = ptr.data_ptr<int64_t>(); net.rows = rows.data_ptr<int64_t>(); net.vals = vals.data_ptr<double>();
  return net;
}

// Scratch of one sample's propagation: a layer's changes of ReLU outputs (dense: the dot products
// of the next layer vectorise), and the logit change.
struct Scratch {
  std::vector<double> changes, next, dl;
  explicit Scratch(const Net& net) {
    int64_t widest = 1;
    for (int64_t w : net.out) widest = std::max(widest, w);
    changes.assign(widest, 0.0); next.assign(widest, 0.0); dl.assign(net.C, 0.0);
  }
};

// The ReLU changes of hidden layer m on sample s when its pre-activations move by dz (in place:
// dz becomes the changes); with write, the new pre-activations are stored. Returns whether any moved.
static bool relu_changes(const Net& net, int64_t m, int64_t s, double* dz, bool write) {
  double* z = net.Z[m] + s * net.out[m];
  bool any = false;
  for (int64_t u = 0; u < net.out[m]; ++u) {
    const double old = z[u], now = old + dz[u];
    dz[u] = (now > 0.0 ? now : 0.0) - (old > 0.0 ? old : 0.0);
    any |= dz[u] != 0.0;
    if (write) z[u] = now;
  }
  return any;
}

// Unit j of hidden layer l changed its ReLU output by dr on sample s: push the change through
// the later hidden layers (storing their new pre-activations when write) into the logit change
// dl. Returns false where no logit moves.
static bool propagate(const Net& net, Scratch& k, int64_t l, int64_t j, double dr, int64_t s, bool write) {
  double* dl = k.dl.data();
  if (l + 1 == net.hidden) {  // straight to the output layer: column j of its weights
    for (int64_t c = 0; c < net.C; ++c) dl[c] = net.W[net.hidden][c * net.fan[net.hidden] + j] * dr;
    return true;
  }
  double* changes = k.changes.data();
  const double* row = net.WT[l + 1] + j * net.out[l + 1];  // what unit j feeds, contiguous
  for (int64_t u = 0; u < net.out[l + 1]; ++u) changes[u] = row[u] * dr;
  if (!relu_changes(net, l + 1, s, changes, write)) return false;
  for (int64_t m = l + 2; m < net.hidden; ++m) {
    double* next = k.next.data();
    const int64_t fan = net.fan[m];
    for (int64_t u = 0; u < net.out[m]; ++u) {
      const double* w = net.W[m] + u * fan;
      double dot = 0.0;
      for (int64_t t = 0; t < fan; ++t) dot += w[t] * changes[t];
      next[u] = dot;
    }
    if (!relu_changes(net, m, s, next, write)) return false;
    std::swap(k.changes, k.next);
    changes = k.changes.data();
  }
  const int64_t fan = net.fan[net.hidden];
  for (int64_t c = 0; c < net.C; ++c) {
    const double* w = net.W[net.hidden] + c * fan;
    double dot = 0.0;
    for (int64_t t = 0; t < fan; ++t) dot += w[t] * changes[t];
    dl[c] = dot;
  }
  return true;
}

// The cross-entropy change of sample s when its logits move by dl: with logp the base
// log-softmax, logsumexp_c(logp_sc + dl_c) - dl_y (exp in float, as mlp_moves_kernel).
static double change(const float* logp, int64_t C, int64_t y, const double* dl) {
  float m = -INFINITY;
  for (int64_t c = 0; c < C; ++c) m = std::max(m, logp[c] + (float)dl[c]);
  float sum = 0.f;
  for (int64_t c = 0; c < C; ++c) sum += std::exp(logp[c] + (float)dl[c] - m);
  return (double)m + std::log((double)sum) - dl[y];
}

// Where coordinate i lies: its layer, its unit j (an output layer's class) and its input k
// (k = fan: the bias).
static void locate(const Net& net, int64_t i, int64_t& l, int64_t& j, int64_t& k) {
  TORCH_CHECK(i >= 0 && i < net.start.back(), "coordinate ", i, " outside the network's ", net.start.back());
  l = 0;
  while (i >= net.start[l + 1]) ++l;
  const int64_t rel = i - net.start[l], fan = net.fan[l], out = net.out[l];
  if (rel < out * fan) { j = rel / fan; k = rel % fan; } else { j = rel - out * fan; k = fan; }
}

// Every sample whose input k to layer l is nonzero, with that input, handed to f(s, v).
template <typename F>
static void inputs(const Net& net, int64_t l, int64_t k, F f) {
  if (l == 0) {
    for (int64_t q = net.ptr[k]; q < net.ptr[k + 1]; ++q) f(net.rows[q], net.vals[q]);
    return;
  }
  const int64_t fan = net.fan[l];
  if (k == fan) { for (int64_t s = 0; s < net.n; ++s) f(s, 1.0); return; }
  const double* z = net.Z[l - 1] + k;
  for (int64_t s = 0; s < net.n; ++s) {
    const double v = z[s * fan];
    if (v > 0.0) f(s, v);
  }
}

// One move: coordinate i changed by delta. For each sample whose logits change, calls
// f(s, dl) with the logit change; with write, the cache's pre-activations and weights follow.
template <typename F>
static void move(const Net& net, Scratch& k, int64_t i, double delta, bool write, F f) {
  int64_t l, j, in;
  locate(net, i, l, j, in);
  if (l == net.hidden) {  // an output weight: class j's logit moves by delta times input in
    inputs(net, l, in, [&](int64_t s, double v) {
      for (int64_t c = 0; c < net.C; ++c) k.dl[c] = 0.0;
      k.dl[j] = delta * v;
      f(s, k.dl.data());
    });
  } else {
    const int64_t w = net.out[l];
    inputs(net, l, in, [&](int64_t s, double v) {
      double* z = net.Z[l] + s * w + j;
      const double old = *z, now = old + delta * v;
      const double dr = (now > 0.0 ? now : 0.0) - (old > 0.0 ? old : 0.0);
      if (write) *z = now;
      if (dr != 0.0 && propagate(net, k, l, j, dr, s, write)) f(s, k.dl.data());
    });
  }
  if (write && l >= 1 && in < net.fan[l]) {
    if (l >= 2) net.W[l][j * net.fan[l] + in] += delta;
    if (l < net.hidden) net.WT[l][in * net.out[l] + j] += delta;
  }
}

// Per move p, the loss when coordinate index[p] moves from base[index[p]] to value[p]: the
// cached base's loss plus the mean over samples of the change of cross-entropy, rounded to float.
torch::Tensor move_losses(
    torch::Tensor index, torch::Tensor value, torch::Tensor base, double loss,
    std::vector<torch::Tensor> Z, std::vector<torch::Tensor> W, std::vector<torch::Tensor> WT,
    std::vector<int64_t> start, torch::Tensor ptr, torch::Tensor rows, torch::Tensor vals,
    torch::Tensor logp, torch::Tensor y) {
  const int64_t n = logp.size(0), C = logp.size(1), P = index.size(0);
  const Net net = net_of(Z, W, WT, start, ptr, rows, vals, n, C);
  const float* v = checked_move_values(index, value, base, 0, net.start.back());
  const float* b = base.data_ptr<float>();
  Scratch k(net);
  const int64_t* idx = index.data_ptr<int64_t>();
  const float* lp = logp.data_ptr<float>();
  const int64_t* yp = y.data_ptr<int64_t>();
  auto out = torch::empty({P}, torch::kFloat32);
  float* o = out.data_ptr<float>();
  for (int64_t p = 0; p < P; ++p) {
    double total = 0.0;
    const double d = (double)v[p] - (double)b[idx[p]];
    move(net, k, idx[p], d, false, [&](int64_t s, const double* dl) { total += change(lp + s * C, C, yp[s], dl); });
    o[p] = (float)(loss + total / (double)n);
  }
  return out;
}

// Apply the move of coordinate i by delta in place: the pre-activations, the later layers'
// weights, and the logits L, log-softmax logp and cross-entropies ce of the samples it changes.
// Returns the mean loss.
double apply_move(
    int64_t i, double delta,
    std::vector<torch::Tensor> Z, std::vector<torch::Tensor> W, std::vector<torch::Tensor> WT,
    std::vector<int64_t> start, torch::Tensor ptr, torch::Tensor rows, torch::Tensor vals,
    torch::Tensor L, torch::Tensor logp, torch::Tensor ce, torch::Tensor y) {
  const int64_t n = L.size(0), C = L.size(1);
  const Net net = net_of(Z, W, WT, start, ptr, rows, vals, n, C);
  Scratch k(net);
  double* Lp = L.data_ptr<double>();
  float* lp = logp.data_ptr<float>();
  double* cp = ce.data_ptr<double>();
  const int64_t* yp = y.data_ptr<int64_t>();
  move(net, k, i, delta, true, [&](int64_t s, const double* dl) {
    double* Ls = Lp + s * C;
    for (int64_t c = 0; c < C; ++c) Ls[c] += dl[c];
    cp[s] = sample_loss(Ls, lp + s * C, C, yp[s]);
  });
  return mean_loss(cp, n);
}
"""
)


@cache
def load() -> ModuleType | None:
    """The compiled kernel, or None (with a warning) where no compiler or ninja is available."""
    return build("dfo_bench_mlp_deep_moves", SOURCE, ["move_losses", "apply_move"])
