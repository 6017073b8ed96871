"""The data sets of ``mlp-hpo``: the generated sine-wave regression, scikit-learn's digits, MNIST.

Each loader returns train / val / test splits fixed by the run's seed alone, so every optimizer
trains its configurations on the same data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits

from dfo_bench.problems.data import ClassificationData, Split, stratified_indices
from dfo_bench.problems.mnist import FILES, available_sets, find_idx, read_idx
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


def digits(seed: int, n_val: int, n_test: int) -> ClassificationData:
    """scikit-learn's 1,797 8×8 digits (embedded), split as ``digits-mlp`` splits them: stratified,
    by the seed; the training set is the rest."""
    data = load_digits()
    x = torch.from_numpy((data.data / 16.0).astype(np.float32))
    y = torch.from_numpy(data.target.astype(np.int64))
    n_train = len(y) - n_val - n_test
    parts = stratified_indices(data.target, (n_train, n_val, n_test), seed)
    train, val, test = (Split(x[torch.from_numpy(i)], y[torch.from_numpy(i)]) for i in parts)
    return ClassificationData(train, val, test, n_classes=10)


def mnist(root: Path, seed: int, sizes: tuple[int, int, int]) -> ClassificationData:
    """Stratified subsets of MNIST's IDX files in ``root`` (as ``mnist-mlp`` reads them): train and
    val from the official training set and test from the official test set where both are there,
    else all three from the test set."""
    sets = {}
    for name in available_sets(root):
        images, labels = (read_idx(find_idx(root, stem)) for stem in FILES[name])  # type: ignore[arg-type]
        sets[name] = (images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0), labels.astype(np.int64))
    if "train" in sets:
        x, y = sets["train"]
        train, val = stratified_indices(y, sizes[:2], seed)
        tx, ty = sets["test"]
        (test,) = stratified_indices(ty, sizes[2:], seed)
        splits = [(x[train], y[train]), (x[val], y[val]), (tx[test], ty[test])]
    else:
        x, y = sets["test"]
        splits = [(x[i], y[i]) for i in stratified_indices(y, sizes, seed)]
    train_split, val_split, test_split = (Split(torch.from_numpy(sx), torch.from_numpy(sy)) for sx, sy in splits)
    return ClassificationData(train_split, val_split, test_split, n_classes=10)
