"""The capability of a problem scored by rolling out episodes: what the objective charges in steps.

A ``RolloutProblem`` is not told which training samples to use but which episodes to play: the
objective draws each candidate's environment seeds from the run's episode stream (so every
optimizer meets the same seeds at the same evaluation index) and passes how many environment
steps the budget still allows; the problem plays them and says how many steps it took, which is
what the objective charges (an episode that ends early costs only its own length).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dfo_bench.moves import Population
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import Problem

EPISODE_SEEDS = 2**31
"""Training episodes are seeded in [0, 2³¹); validation and test episodes above it (held out by
construction)."""


@dataclass(frozen=True)
class Rollouts:
    """What playing a population's episodes gave."""

    losses: torch.Tensor
    """(P,) negative mean return of each candidate over its episodes, rewards less the problem's
    ``reward_shift`` (NaN where not finished)."""
    finished: torch.Tensor
    """(P,) bool: whether all of the candidate's episodes ended before the step allowance ran out."""
    steps: int
    """Environment steps taken, by all candidates together."""
    episodes: int
    """Episodes that ended (terminated or truncated by the time limit)."""


class RolloutProblem(Problem):
    """A problem whose loss is the negative return of episodes; the cost unit is the environment step."""

    has_data = False

    @property
    @abstractmethod
    def episodes_per_evaluation(self) -> int:
        """k: episodes whose mean return scores one candidate."""

    @classmethod
    @abstractmethod
    def steps_per_evaluation_of(cls, params: ParamsModel) -> int | None:
        """The most environment steps one evaluation can take (k full-length episodes), from the
        parameters; None: episodes without a time limit."""

    @property
    def train_size(self) -> int | None:
        return None

    def rollout(self, X: Population, seeds: np.ndarray, max_steps: int | None) -> Rollouts:
        """Play episodes of every candidate of X (P, dim) with environment seeds ``seeds`` (P, k),
        all candidates stepping together, taking at most ``max_steps`` steps in all (None: no
        bound); training episodes, so running statistics learn from the states visited."""
        with torch.no_grad():
            return self._rollout(X if isinstance(X, torch.Tensor) else X.dense(), seeds, max_steps)

    @abstractmethod
    def _rollout(self, X: torch.Tensor, seeds: np.ndarray, max_steps: int | None) -> Rollouts: ...

    @classmethod
    def policy_gradient_fault(cls, params: ParamsModel) -> str | None:
        """Why a policy-gradient method (PPO) cannot train this problem's policy with these
        parameters; None: it can. Checked when a suite is validated."""
        return "it has no policy network a policy-gradient method could train"

    def hidden_layers(self) -> list[int]:
        """Widths of the tanh hidden layers of the policy network (a policy-gradient method builds
        its actor with them, in the problem's weight layout)."""
        raise TypeError(f"{self.name}: {self.policy_gradient_fault(self.params)}")

    def training_environment(
        self, charge: Callable[[int, int], None], seeds: Callable[[int], list[int]], seen: Callable[[float], None]
    ) -> Any:
        """One gymnasium environment whose steps are charged through ``charge(steps, episodes)``,
        whose episodes play ``seeds(1)`` and hand their loss to ``seen(loss)`` when they end (see
        ``dfo_bench.problems.rl.charged``)."""
        raise TypeError(f"{self.name}: {self.policy_gradient_fault(self.params)}")
