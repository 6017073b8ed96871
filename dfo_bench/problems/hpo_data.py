"""The data sets of ``mlp-hpo``: the generated sine-wave regression, and scikit-learn's digits and
MNIST through the loaders of ``digits-mlp`` and ``mnist-mlp``.

Each returns train / val / test splits fixed by the run's seed alone, so every optimizer trains
its configurations on the same data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from dfo_bench.problems.data import ClassificationData, Split
from dfo_bench.problems.digits import digits_splits
from dfo_bench.problems.mnist import mnist_splits
from dfo_bench.seeding import derive_seed

SINE_WAVES = 5


def sinewave(seed: int, sizes: tuple[int, int, int]) -> ClassificationData:
    """Five sine waves as covariates and a seeded random linear combination of them as target
    (the toy task of Pintus 2024, "Hyperparameters optimization for neural networks with
    evolution strategies"; generated, no download).

    Sample i is a time t_i ~ U(0, 10); covariate k is sin(ω_k t_i + φ_k) with ω_k ~ U(0.5, 3) and
    φ_k ~ U(0, 2π); the target is Σ_k w_k sin(ω_k t_i + φ_k) with w ~ U(−1, 1) scaled to Σ|w_k| = 1,
    so targets lie in [−1, 1]. Frequencies, phases, weights, times and the random split all come
    from the seed. ``y`` holds the targets as float32 (N, 1): a regression, ``n_classes`` 0.
    """
    rng = np.random.default_rng(derive_seed(seed, "mlp-hpo", "sinewave"))
    omega = rng.uniform(0.5, 3.0, SINE_WAVES)
    phi = rng.uniform(0.0, 2 * math.pi, SINE_WAVES)
    w = rng.uniform(-1.0, 1.0, SINE_WAVES)
    w /= np.abs(w).sum()
    t = rng.uniform(0.0, 10.0, sum(sizes))
    x = np.sin(np.outer(t, omega) + phi).astype(np.float32)
    y = (x.astype(np.float64) @ w).astype(np.float32)[:, None]
    cuts = np.cumsum(sizes)[:-1]
    parts = np.split(rng.permutation(sum(sizes)), cuts)
    train, val, test = (Split(torch.from_numpy(x[i]), torch.from_numpy(y[i])) for i in parts)
    return ClassificationData(train, val, test, n_classes=0)


def load(dataset: str, root: Path, seed: int, sizes: tuple[int, int, int]) -> ClassificationData:
    """``mlp-hpo``'s data set: the sine waves; the digits split as ``digits-mlp`` splits them (the
    training set is the rest); or MNIST from the IDX files in ``root``, test a stratified subset of
    the official test set."""
    if dataset == "sinewave":
        return sinewave(seed, sizes)
    if dataset == "digits":
        return digits_splits(seed, *sizes[1:])
    return mnist_splits(root, seed, sizes, whole_test=False)
