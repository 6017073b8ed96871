"""A gymnasium environment and a policy: the loss of a weight vector is minus its mean return.

The framework minimises, so the loss is the negative undiscounted return, averaged over an
evaluation's k episodes; ``train_return``/``val_return``/``test_return`` report the return itself.
The cost unit is the environment step (``RolloutProblem``). The splits are sets of episodes: the
objective seeds training episodes from the run's episode stream in [0, 2³¹); validation and
test returns are measured at checkpoints (the clock paused, nothing charged) on fixed held-out
seeds above it, the same for every run; ``train`` re-plays ``val_episodes`` seeds of the training
range. Observation normalisation (ARS V2) is described in ``normalization``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from dfo_bench.lowrank import WeightLayout
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import check_split
from dfo_bench.problems.metrics import RETURN
from dfo_bench.problems.mlp import positive_widths
from dfo_bench.problems.rl import environments
from dfo_bench.problems.rl.base import EPISODE_SEEDS, RolloutProblem, Rollouts
from dfo_bench.problems.rl.episodes import Played, play
from dfo_bench.problems.rl.normalization import RunningNormalizer
from dfo_bench.problems.rl.policies import ActionSpace, PopulationPolicy
from dfo_bench.seeding import derive_seed, torch_generator

HELD_OUT = {"val": EPISODE_SEEDS, "test": EPISODE_SEEDS + 2**30}
"""First seed of each held-out split's episodes."""


class ControlParams(ParamsModel):
    env: str = "CartPole-v1"
    """A gymnasium id: classic control, MuJoCo (``Hopper-v5``...), MinAtar (``MinAtar/Breakout-v1``)."""
    policy: Literal["linear", "mlp", "cnn"] = "mlp"
    """``linear``: ARS's a = M·s; ``mlp``: tanh hidden layers of widths ``hidden``; ``cnn`` (a grid
    of observations, MinAtar's): a 3×3 convolution of 16 filters, then ReLU layers of widths ``hidden``."""
    hidden: list[int] = Field([64, 64])
    """Widths of the hidden layers after the input (``mlp``) or the convolution (``cnn``: MinAtar's network has [128])."""
    episodes: int = Field(1, ge=1)
    """k: episodes per evaluation, each on its own seed; the candidate's loss is minus their mean return."""
    normalize: bool = True
    """ARS V2's running observation statistics (``normalization``); False: raw observations (V1)."""
    max_episode_steps: int | None = Field(None, ge=1)
    """Time limit of an episode; None: the environment's own (10,000 for MinAtar, which has none)."""
    reward_shift: float = 0.0
    """Subtracted from every training step's reward: ARS removes the survival bonus of Hopper,
    Walker2d and Ant (1 per step) while training; validation and test returns are the environment's own."""
    val_episodes: int = Field(5, ge=1)
    test_episodes: int = Field(10, ge=1)

    @field_validator("env")
    @classmethod
    def _known(cls, env: str) -> str:
        return environments.check_env(env)

    _positive = field_validator("hidden")(positive_widths)

    @model_validator(mode="after")
    def _fits(self) -> ControlParams:
        ControlProblem.policy_of(self)
        return self


def action_space(env_id: str) -> ActionSpace:
    """The action space of ``env_id`` as a policy sees it; a ValueError for spaces no policy here
    fits (a policy reads a Box of observations, flattened, and acts in a Discrete or 1-D Box space)."""
    observation, action = environments.spaces_of(env_id)
    if type(observation).__name__ != "Box":
        raise ValueError(f"'{env_id}' observes {observation}; a policy here reads a Box of observations")
    kind = type(action).__name__
    if kind == "Discrete":
        return ActionSpace(int(action.n), discrete=True)
    if kind == "Box" and len(action.shape) == 1:
        low, high = action.low.astype(np.float32), action.high.astype(np.float32)
        finite = bool(np.isfinite(low).all() and np.isfinite(high).all())
        return ActionSpace(action.shape[0], False, low if finite else None, high if finite else None)
    raise ValueError(f"a policy cannot act in the {action} action space of '{env_id}'; allowed: Discrete, or a 1-D Box")


class ControlProblem(RolloutProblem):
    """A gymnasium environment's return under a linear, MLP or CNN policy (loss: −return, cost: steps)."""

    name = "rl"
    description = "gymnasium environment + linear (ARS), MLP or CNN policy; loss −return, charged in environment steps"
    version = 2
    """2: on the CPU, linear and MLP policies act through the compiled kernel (``policy_kernel``),
    equal to version 1's torch forward to float rounding only, so runs stored before are not reused
    (those on CUDA or with ``cnn`` policies too, although their floats did not change)."""
    Params = ControlParams
    params: ControlParams
    has_layout = True
    reported_metrics = (RETURN,)

    def __init__(self, params: ControlParams, seed: int, device: torch.device) -> None:
        super().__init__(params, seed, device)
        self.policy = self.policy_of(params)
        self.episode_steps = environments.episode_limit(params.env, params.max_episode_steps)
        self.normalizer = RunningNormalizer(self.policy.observations) if params.normalize else None
        self._x0 = self.policy.initial_point(torch_generator(seed, self.name, params.env, "init")).to(device)
        self._envs: list[Any] = []
        self._training_envs: list[Any] = []
        """Those ``training_environment`` made (PPO's), closed with the others by ``close``."""
        train = np.random.default_rng(derive_seed(seed, self.name, params.env, "train-metrics"))
        self._metric_seeds = {
            "train": train.integers(0, EPISODE_SEEDS, params.val_episodes),
            "val": HELD_OUT["val"] + np.arange(params.val_episodes),
            "test": HELD_OUT["test"] + np.arange(params.test_episodes),
        }

    @classmethod
    def steps_per_evaluation_of(cls, params: ParamsModel) -> int | None:
        assert isinstance(params, ControlParams)
        return params.episodes * environments.episode_limit(params.env, params.max_episode_steps)

    @classmethod
    def policy_of(cls, params: ParamsModel) -> PopulationPolicy:
        """The policy these parameters describe, from the environment's spaces (one made and closed)."""
        assert isinstance(params, ControlParams)
        shape = tuple(int(n) for n in environments.spaces_of(params.env)[0].shape)
        action = action_space(params.env)
        return PopulationPolicy(params.policy, int(np.prod(shape)), action, params.hidden, shape)

    @classmethod
    def declared_dim(cls, params: ParamsModel) -> int | None:
        """Known without playing, so Gaussian-process methods are checked against it when a suite
        is validated."""
        return cls.policy_of(params).dim

    @classmethod
    def layout_of(cls, params: ParamsModel) -> WeightLayout | None:
        """The policy's weight matrices; a low-rank population is played member by member, dense
        (an environment step sees each member's own state, so nothing is shared to exploit)."""
        return cls.policy_of(params).layout()

    @classmethod
    def policy_gradient_fault(cls, params: ParamsModel) -> str | None:
        assert isinstance(params, ControlParams)
        return None if params.policy == "mlp" else f"a {params.policy} policy has no Gaussian actor here; use policy: mlp"

    def hidden_layers(self) -> list[int]:
        return list(self.params.hidden)

    def training_environment(
        self, charge: Callable[[int, int], None], seeds: Callable[[int], list[int]], seen: Callable[[float], None]
    ) -> Any:
        from dfo_bench.problems.rl.charged import ChargedEnvironment

        env = ChargedEnvironment(
            environments.make(self.params.env, self.episode_steps), charge, seeds, seen, self.normalizer, self.params.reward_shift
        )
        self._training_envs.append(env)
        return env

    @property
    def dim(self) -> int:
        return self.policy.dim

    @property
    def episodes_per_evaluation(self) -> int:
        return self.params.episodes

    def initial_point(self) -> torch.Tensor:
        return self._x0.clone()

    def state(self) -> dict[str, torch.Tensor]:
        return {} if self.normalizer is None else self.normalizer.state()

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        if self.normalizer is None:
            super().load_state(state)
        elif state:
            self.normalizer.load_state(state)

    def _environments(self, n: int) -> list[Any]:
        """n environments, made on first need and reused (each episode resets with its own seed)."""
        while len(self._envs) < n:
            self._envs.append(environments.make(self.params.env, self.episode_steps))
        return self._envs[:n]

    def prepare(self, moves: bool, low_rank: bool) -> None:
        """Build (first run on a machine: 20–60 s) or load the compiled policy kernel, outside the
        run's clock."""
        self.policy.kernel(self.device)

    def close(self) -> None:
        """Close every environment made (gymnasium's ``close``: a simulator's resources, a window)."""
        for env in [*self._envs, *self._training_envs]:
            env.close()
        self._envs, self._training_envs = [], []

    def _rollout(self, X: torch.Tensor, seeds: np.ndarray, max_steps: int | None) -> Rollouts:
        P, k = seeds.shape
        W = X.repeat_interleave(k, dim=0) if k > 1 else X
        played = play(self._environments(P * k), self.policy, W, seeds.ravel().tolist(), self.normalizer, max_steps)
        if self.normalizer is not None:
            self.normalizer.update(played.states)
        finished = torch.from_numpy(played.finished.reshape(P, k).all(axis=1))
        losses = self._losses(played, P, k)
        losses[~finished] = float("nan")
        return Rollouts(losses.to(X.device), finished.to(X.device), played.steps, int(played.finished.sum()))

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        """Losses on the episodes ``batch`` seeds ((P, k) integers; None: the ``train`` metric's
        episodes, the same for every candidate), rewards shifted as in ``_rollout``; nothing is
        charged or learnt by the statistics."""
        seeds = self._metric_seeds["train"][: self.params.episodes] if batch is None else batch.cpu().numpy()
        seeds = np.broadcast_to(seeds, (X.shape[0], len(seeds))) if seeds.ndim == 1 else seeds
        W = X.repeat_interleave(seeds.shape[1], 0)
        played = play(self._environments(seeds.size), self.policy, W, seeds.ravel().tolist(), self.normalizer, None)
        return self._losses(played, *seeds.shape).to(X.device)

    def _losses(self, played: Played, P: int, k: int) -> torch.Tensor:
        """(P,) float32 minus the mean shifted return of each candidate's k episodes (rewards less
        ``reward_shift``, as training sees them)."""
        shifted = played.returns - self.params.reward_shift * played.lengths
        return torch.from_numpy(-shifted.reshape(P, k).mean(axis=1)).float()

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        """Mean return (and its negative, the loss) of x over the split's episodes, statistics frozen."""
        check_split(split)
        seeds = self._metric_seeds[split]
        with torch.no_grad():
            W = x.unsqueeze(0).repeat(len(seeds), 1)
            played = play(self._environments(len(seeds)), self.policy, W, seeds.tolist(), self.normalizer, None)
        mean = float(played.returns.mean())
        return {"loss": -mean, "return": mean}
