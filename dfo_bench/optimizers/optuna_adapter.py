"""Bayesian-optimisation baselines on typed domains through Optuna's ask/tell interface (Akiba et al.
2019, "Optuna: a next-generation hyperparameter optimization framework").

``sampler``: ``tpe`` (the tree-structured Parzen estimator, Bergstra et al. 2011), ``gp`` (Optuna's
Gaussian-process sampler with log expected improvement) or ``random``. Each generation asks
``popsize`` trials with ``study.ask(distributions)`` (the typed domain's ranges as Optuna's Int,
Float and Categorical distributions, ``dfo_bench.optuna_study``) and tells their losses; a sampler therefore learns once per
generation, as it would with ``popsize`` parallel workers. The sampler is seeded from the run's
generator; Optuna keeps its study in memory.

With several objectives (a problem returning (P, m) losses, e.g. ``mlp-hpo`` with
``objective: loss-size``) the same samplers run as Optuna's multi-objective ones (TPE as MOTPE,
the GP sampler with expected hypervolume improvement, random): the first generation is asked
from a single-objective study, since the number of objectives is known only at the first tell,
and is then replayed into a study with one ``minimize`` direction per objective, which asks
every later generation.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from pydantic import Field

from dfo_bench import optuna_study
from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.typed import TypedOptimizer
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_int, ranges


class OptunaParams(ParamsModel):
    sampler: optuna_study.Sampler = "tpe"
    popsize: int = Field(1, ge=1)
    """Trials asked per generation before any is told (parallel workers)."""
    n_startup_trials: int = Field(10, ge=0)
    """Random trials before TPE or the GP model the rest."""


class OptunaOptimizer(TypedOptimizer):
    name = "optuna"
    description = "Optuna's TPE, Gaussian-process or random sampler on typed domains (params.sampler, default tpe)"
    Params = OptunaParams
    tuning_ranges = ranges(n_startup_trials=log_int(2, 20))
    params: OptunaParams
    objectives = None

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: OptunaParams) -> None:
        super().__init__(search, rng, params)
        self._sampler = optuna_study.sampler(params.sampler, int(rng.integers(2**31)), params.n_startup_trials)
        self._study = optuna_study.study(self._sampler, ["minimize"])
        self._distributions = optuna_study.distributions(self.domain.ranges)
        self._asked: list[Any] = []

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        self._asked = [self._study.ask(self._distributions) for _ in range(n)]
        return self._encoded([dict(trial.params) for trial in self._asked])

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        if losses.ndim == 2 and len(self._study.directions) != losses.shape[1]:
            return self._become_multi_objective(losses)
        for trial, loss in zip(self._asked, losses.tolist(), strict=True):
            self._study.tell(trial, loss)

    def _become_multi_objective(self, losses: torch.Tensor) -> None:
        """Replace the single-objective study (nothing told yet) by one with a direction per
        objective, holding the first generation, asked from the old one, as completed trials."""
        import optuna

        self._study = optuna_study.study(self._sampler, ["minimize"] * losses.shape[1])
        for trial, values in zip(self._asked, losses.tolist(), strict=True):
            frozen = optuna.trial.create_trial(params=dict(trial.params), distributions=self._distributions, values=values)
            self._study.add_trial(frozen)
