"""Seeded in-memory Optuna studies over ranges: what a tuning study and the ``optuna`` optimizer share.

Ranges (``dfo_bench.ranges``) become Optuna distributions here and only here. Optuna is imported
when a study is made, not when this module is (it takes a noticeable part of a second).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

from dfo_bench.ranges import ChoiceRange, FloatRange, Range, Ranges

if TYPE_CHECKING:
    from optuna import Study
    from optuna.distributions import BaseDistribution
    from optuna.samplers import BaseSampler

Sampler = Literal["tpe", "gp", "random"]
"""Optuna's tree-structured Parzen estimator, Gaussian-process sampler, or uniform random sampling."""


def to_optuna(r: Range) -> BaseDistribution:
    """The Optuna distribution of a range (Float, Int or Categorical)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(r, ChoiceRange):
        return CategoricalDistribution(r.choices)
    if isinstance(r, FloatRange):
        return FloatDistribution(r.low, r.high, log=r.log)
    return IntDistribution(r.low, r.high, log=r.log)


def distributions(ranges: Ranges) -> dict[str, BaseDistribution]:
    """What ``study.ask`` takes: each range as an Optuna distribution, by name."""
    return {name: to_optuna(r) for name, r in ranges.items()}


def sampler(name: Sampler, seed: int, startup_trials: int = 10) -> BaseSampler:
    """A seeded sampler; ``startup_trials``: random trials before TPE or the GP model the rest
    (10: Optuna's default)."""
    import optuna

    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials)
    return optuna.samplers.RandomSampler(seed=seed)


def study(sampler: BaseSampler, directions: Sequence[Literal["minimize", "maximize"]]) -> Study:
    """An in-memory study asking from ``sampler``, one direction per objective; Optuna's per-trial
    log lines are silenced (they would drown a progress bar)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(directions=list(directions), sampler=sampler)
