"""One environment whose every step is charged to the run's budget: what a policy-gradient method
(the PPO baseline) trains in, so that it pays in the same environment steps as a population.

Imported only when such a method asks for it (it needs gymnasium). Before each step one step is
charged (the budget refuses it, raising ``BudgetExceeded``, once none is left); an episode that
ends is counted, and its loss (minus its shifted return, as a population's losses) is handed to
``seen`` for the run's best-seen loss. Each reset ignores the seed it is given and plays the next seed of the run's
episode stream, the stream the objective hands out to populations. Observations are flattened to
float32 and, where the problem normalises them, normalised with its running statistics, which
learn from every state visited (one at a time, as ARS V2 does across its workers); rewards are
shifted by the problem's ``reward_shift`` as its own training episodes are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium
import numpy as np
import torch

from dfo_bench.problems.rl.environments import start
from dfo_bench.problems.rl.normalization import RunningNormalizer

Charge = Callable[[int, int], None]
"""(steps, episodes) -> None, raising ``BudgetExceeded`` when the steps do not fit."""
Seen = Callable[[float], None]
"""The loss of a finished training episode -> None."""


class ChargedEnvironment(gymnasium.Wrapper):
    def __init__(
        self,
        env: Any,
        charge: Charge,
        seeds: Callable[[int], list[int]],
        seen: Seen,
        normalizer: RunningNormalizer | None,
        shift: float,
    ) -> None:
        super().__init__(env)
        size = int(np.prod(env.observation_space.shape))
        self.observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self._charge, self._seeds, self._seen, self._normalizer, self._shift = charge, seeds, seen, normalizer, shift
        self._return = 0.0
        """Shifted return of the episode so far."""

    def _observe(self, obs: Any) -> np.ndarray:
        raw = torch.from_numpy(np.asarray(obs, dtype=np.float32).reshape(1, -1))
        if self._normalizer is None:
            return raw[0].numpy()
        self._normalizer.update(raw)
        return self._normalizer(raw)[0].numpy()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = start(self.env, self._seeds(1)[0], options)
        self._return = 0.0
        return self._observe(obs), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        self._charge(1, 0)
        obs, raw, terminated, truncated, info = self.env.step(action)
        reward = float(raw) - self._shift
        self._return += reward
        if terminated or truncated:
            self._seen(-self._return)
            self._charge(0, 1)
        return self._observe(obs), reward, bool(terminated), bool(truncated), info
