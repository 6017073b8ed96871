"""The embedded default: scikit-learn's 8×8 digits, which ship with scikit-learn (no download)."""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field, model_validator
from sklearn.datasets import load_digits

from dfo_bench.params import ParamsModel
from dfo_bench.problems.data import ClassificationData, Split, stratified_indices
from dfo_bench.problems.mlp import MLPClassification, MLPParams

DIGITS = 1797
"""Images in scikit-learn's digits."""


def digits_splits(seed: int, n_val: int, n_test: int) -> ClassificationData:
    """scikit-learn's 1,797 digits, pixels scaled to [0, 1], split stratified by ``seed`` into
    ``n_val`` validation and ``n_test`` test digits; the rest are the training set."""
    digits = load_digits()
    x = torch.from_numpy((digits.data / 16.0).astype(np.float32))
    y = torch.from_numpy(digits.target.astype(np.int64))
    n_train = len(y) - n_val - n_test
    parts = stratified_indices(digits.target, (n_train, n_val, n_test), seed)
    train, val, test = (Split(x[torch.from_numpy(i)], y[torch.from_numpy(i)]) for i in parts)
    return ClassificationData(train, val, test, n_classes=10)


class DigitsParams(MLPParams):
    n_val: int = Field(360, ge=10)
    """Validation digits, stratified, drawn by the seed (at least one per class)."""
    n_test: int = Field(360, ge=10)
    """Test digits, stratified, drawn by the seed; the remaining 1,077 are the training set."""

    @model_validator(mode="after")
    def _training_left(self) -> DigitsParams:
        if DIGITS - self.n_val - self.n_test < 10:
            raise ValueError(
                f"n_val + n_test is {self.n_val + self.n_test}, leaving {DIGITS - self.n_val - self.n_test} of the "
                f"{DIGITS:,} digits to train on; allowed: n_val + n_test at most {DIGITS - 10}"
            )
        return self


class DigitsMLP(MLPClassification):
    """64-32-10 MLP on scikit-learn's 1,797 8×8 digits; runs anywhere in seconds."""

    name = "digits-mlp"
    features = 64
    description = "64-32-10 MLP on scikit-learn's 8x8 digits (1,797 images, embedded, no download)"
    Params = DigitsParams
    params: DigitsParams

    @classmethod
    def train_size_of(cls, params: ParamsModel) -> int | None:
        return DIGITS - params.n_val - params.n_test if isinstance(params, DigitsParams) else None

    def load_data(self) -> ClassificationData:
        return digits_splits(self.seed, self.params.n_val, self.params.n_test)
