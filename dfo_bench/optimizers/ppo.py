"""PPO (Schulman et al. 2017) through stable-baselines3: the policy-gradient baseline, the "Adam" of
the reinforcement-learning problems.

It trains the problem's own policy network: SB3's actor is built with the problem's tanh hidden
widths and the problem's initial weights, and ``recommend`` returns the actor's weights in the
problem's layout (``Linear`` weights then biases, layer by layer), so checkpoints score it as
every other method, deterministically (the argmax, or the Gaussian's mean clipped to the box). Its
critic (same widths) and the Gaussian's log-std are PPO's own and not part of the candidate.

It pays in the same currency: it steps the objective's ``training_environment``, which charges
each environment step to the run's budget before it is taken and raises ``BudgetExceeded`` once
none is left (a rollout cut by the budget is not trained on), counts each finished episode as one
evaluation, and seeds episodes from the run's episode stream. Its gradient updates cost no
environment step (the RL convention; the seconds show them). One ``step`` is one SB3 rollout of
``n_steps`` steps and its update epochs.

stable-baselines3 draws from the process's global generators: it seeds Python's ``random``, NumPy's
legacy global and torch's default generators when the model is built, samples actions and shuffles
minibatches from them. ``GlobalGenerators`` keeps PPO's own copy of their states and installs it only
while SB3 runs, so a PPO run neither depends on nor disturbs whatever else the process runs (the
next run of a worker, a checkpoint's scoring).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import Optimizer, SearchDomain
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import log_float, log_int, ranges


class EnvironmentObjective(Protocol):
    """What PPO needs of the objective (``dfo_bench.objective.Objective`` of a ``RolloutProblem``)."""

    def training_environment(self) -> Any:
        """A gymnasium environment whose steps are charged to the run's budget."""
        ...

    def policy_hidden_layers(self) -> list[int]:
        """Widths of the policy network's tanh hidden layers."""
        ...


class GlobalGenerators:
    """A private set of states of the process's global generators (Python's, NumPy's legacy, torch's
    CPU one), installed only inside ``installed()``. torch's CUDA generators are put back as they
    were where the process already uses CUDA (one that has not is not made to start it)."""

    def __init__(self) -> None:
        self._states: tuple[Any, dict[str, Any], torch.Tensor] | None = None
        """Where the code inside ``installed()`` left them; None: not yet run (it seeds them itself)."""

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Run the body on these states, then put back the caller's."""
        # NumPy's legacy global state is what SB3 uses, hence the legacy calls (NPY002).
        outer = random.getstate(), np.random.get_state()  # noqa: NPY002
        cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
        with torch.random.fork_rng(devices=cuda):
            if self._states is not None:
                random.setstate(self._states[0])
                np.random.set_state(self._states[1])  # noqa: NPY002
                torch.set_rng_state(self._states[2])
            try:
                yield
            finally:
                self._states = random.getstate(), np.random.get_state(legacy=False), torch.get_rng_state()  # noqa: NPY002
        random.setstate(outer[0])
        np.random.set_state(outer[1])  # noqa: NPY002


class PPOParams(ParamsModel):
    lr: float = Field(3e-4, gt=0)
    n_steps: int = Field(2048, ge=2)
    """Environment steps per rollout (one ``step``)."""
    batch_size: int = Field(64, ge=2)
    n_epochs: int = Field(10, ge=1)
    gamma: float = Field(0.99, gt=0, le=1)
    gae_lambda: float = Field(0.95, gt=0, le=1)
    clip_range: float = Field(0.2, gt=0)
    ent_coef: float = Field(0.0, ge=0)


class PPO(Optimizer):
    name = "ppo"
    description = "stable-baselines3 PPO on the problem's policy network, charged in environment steps (RL baseline)"
    Params = PPOParams
    tuning_ranges = ranges(lr=log_float(1e-5, 1e-2), n_steps=log_int(256, 4096))
    params: PPOParams
    needs_environment: ClassVar[bool] = True
    """Pairs only with a problem that has an environment (checked when a suite is validated)."""

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: PPOParams) -> None:
        super().__init__(search, rng, params)
        if self.device.type != "cpu":
            raise ValueError("ppo runs on the cpu (stable-baselines3's MLP policies are faster there)")
        self._seed = int(rng.integers(2**31))
        self._model: Any = None
        self._generators = GlobalGenerators()

    def step(self, objective: Any) -> None:
        with self._generators.installed():
            if self._model is None:
                self._model = self._build(objective)
            self._model.learn(total_timesteps=self.params.n_steps, reset_num_timesteps=False)

    def _build(self, objective: EnvironmentObjective) -> Any:
        try:
            from stable_baselines3 import PPO as SB3PPO
            from stable_baselines3.common.logger import Logger
        except ImportError:
            raise ImportError("ppo needs stable-baselines3: pip install 'dfo-bench[rl]'") from None
        hidden, p = objective.policy_hidden_layers(), self.params
        model = SB3PPO(
            "MlpPolicy",
            objective.training_environment(),
            learning_rate=p.lr,
            n_steps=p.n_steps,
            batch_size=p.batch_size,
            n_epochs=p.n_epochs,
            gamma=p.gamma,
            gae_lambda=p.gae_lambda,
            clip_range=p.clip_range,
            ent_coef=p.ent_coef,
            policy_kwargs={"net_arch": {"pi": hidden, "vf": hidden}, "activation_fn": torch.nn.Tanh, "ortho_init": False},
            seed=self._seed,
            device="cpu",
            verbose=0,
        )
        # A logger of no outputs: without one, every learn() call makes an empty folder
        # tempdir/SB3-<date-time> (one per step of a run, thousands per suite).
        model.set_logger(Logger(folder=None, output_formats=[]))
        actor = self._actor(model)
        size = sum(t.numel() for t in actor)
        if size != self.dim:
            raise ValueError(f"ppo's actor has {size} weights, the problem's policy {self.dim}")
        torch.nn.utils.vector_to_parameters(self.x0.clone(), actor)
        return model

    @staticmethod
    def _actor(model: Any) -> list[torch.nn.Parameter]:
        policy = model.policy
        return [*policy.mlp_extractor.policy_net.parameters(), *policy.action_net.parameters()]

    def recommend(self) -> torch.Tensor:
        if self._model is None:
            return self.x0.clone()
        return torch.nn.utils.parameters_to_vector(self._actor(self._model)).detach().clone()
