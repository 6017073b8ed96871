"""The objective a run minimises: problem + search space + evaluation batches + budget.

The runner builds one per run and owns it; optimizers only call ``evaluate`` (ask/tell) or
``loss_and_grad`` (gradient steps) through their ``step``. Everything that decides what an
evaluation means and costs lives here, in one place:

- the **space** maps search points to the problem's weights (a gather for blocks), on the
  problem's device;
- the **evaluation batches**: with a ``super_batch`` each evaluated population is scored on the
  next circular chunk of that many training samples (a seeded shuffle, every sample once per
  cycle), the run spec's resolved value (``RunSettings.super_batch``), never requested at run
  time; without one, on the whole training set;
- gradient **minibatches**, circular chunks of their own seeded stream per batch size;
- the **budget**: every evaluation and every gradient step is charged before the work is done,
  and a population that does not fit is evaluated only as far as it fits;
- for a ``RolloutProblem`` (reinforcement learning) the **episodes** instead of batches: each
  candidate's k environment seeds are the next ones of the run's episode stream (seed i hashed
  from the run's seed and i, so every optimizer meets the same seeds at the same evaluation
  index), and the environment steps actually taken are charged, never more than the budget
  has left (a population cut by it is not told).

Batch indices are drawn on the CPU (the same split and order on every device) and moved to the
device: a few kilobytes per generation. The only copies to the host are the scalar best loss
per population and the checkpoint metrics.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dfo_bench.budget import Budget
from dfo_bench.errors import BudgetExceeded
from dfo_bench.hashing import canonical_json
from dfo_bench.losses import lowest
from dfo_bench.moves import Population
from dfo_bench.pareto import ParetoFront
from dfo_bench.problems.base import SPLITS, DifferentiableProblem, Problem, TypedProblem
from dfo_bench.problems.data import CircularBatches
from dfo_bench.problems.rl.base import EPISODE_SEEDS, RolloutProblem
from dfo_bench.seeding import derive_seed, torch_generator
from dfo_bench.spaces import Space


class Objective:
    """What an optimizer minimises during one run; see the module docstring."""

    def __init__(self, problem: Problem, space: Space, budget: Budget, super_batch: int | None) -> None:
        """``super_batch``: training samples per evaluation, as the run uses it (None: the whole
        training set, or a problem without one)."""
        self.problem = problem
        self.space = space
        self.budget = budget
        n = problem.train_size
        if super_batch is not None and n is None:
            raise ValueError(f"{problem.name} has no training set to cut into super-batches")
        self._batches = (
            None
            if super_batch is None or n is None
            else CircularBatches(n, super_batch, torch_generator(problem.seed, problem.name, "eval-batches"))
        )
        self.samples_per_evaluation = problem.evaluation_samples or super_batch or n or 1
        """Forward-equivalent samples charged for evaluating one candidate: the problem's own
        cost where it declares one (a training per evaluation), else the evaluation batch's size."""
        self._minibatches: dict[int, CircularBatches] = {}
        self.best_seen = [math.inf] * problem.objectives
        """The lowest loss evaluated so far (minibatch losses of gradient steps included), per objective."""
        self.front = ParetoFront(problem.objectives) if problem.objectives > 1 else None
        """With several objectives, the non-dominated set of every loss vector evaluated so far
        (on its evaluation batch): what the run attained, stored at each checkpoint."""
        self.episodes_drawn = 0
        """Training episodes whose seeds were handed out so far (a ``RolloutProblem``)."""
        self._rollout_problem = problem if isinstance(problem, RolloutProblem) else None
        """The problem if it is a ``RolloutProblem`` (checked once: ``evaluate`` runs once per ask)."""

    @property
    def device(self) -> torch.device:
        return self.problem.device

    def evaluate(self, Z: Population) -> torch.Tensor:
        """Losses of the search points Z, (P,) or (P, m), on the problem's device.

        Raises ``BudgetExceeded`` when the population does not fit the budget: after evaluating
        (and charging) as many of its candidates as fit, so no affordable evaluation is lost.
        """
        if self._rollout_problem is not None:
            return self._roll_out(self._rollout_problem, Z)
        P = Z.shape[0]
        affordable = self.budget.affordable(self.samples_per_evaluation)
        k = P if affordable is None else min(affordable, P)
        if k == 0:
            raise BudgetExceeded("no evaluation fits in what is left of the budget")
        part = Z if k == P else Z[:k]
        self.budget.charge(evaluations=k, samples=k * self.samples_per_evaluation)
        batch = None if self._batches is None else self._batches.next().to(self.device)
        losses = self.problem.evaluate(self.space.to_weights(part), batch)
        self._record(losses)
        if k < P:
            raise BudgetExceeded(f"the budget ends inside this population: {k} of {P} evaluated, not told")
        return losses

    def episode_seeds(self, n: int) -> list[int]:
        """The next n training-episode seeds of the run's stream, in [0, 2³¹)."""
        first, self.episodes_drawn = self.episodes_drawn, self.episodes_drawn + n
        return [derive_seed(self.problem.seed, "episode", i) % EPISODE_SEEDS for i in range(first, first + n)]

    def training_environment(self) -> Any:
        """A gymnasium environment of the run's ``RolloutProblem`` for a policy-gradient method:
        each step charged to the budget (a sample too), each episode counted as one evaluation
        whose loss (minus its return) lowers ``best_seen``, episodes seeded from the run's stream."""
        problem = self.problem
        if not isinstance(problem, RolloutProblem):
            raise TypeError(f"{problem.name} has no environment")

        def charge(steps: int, episodes: int) -> None:
            self.budget.charge_steps(steps, episodes, evaluations=episodes)

        return problem.training_environment(charge, self.episode_seeds, self._seen)

    def policy_hidden_layers(self) -> list[int]:
        """Widths of the hidden layers of the run's policy network (``RolloutProblem.hidden_layers``)."""
        if not isinstance(self.problem, RolloutProblem):
            raise TypeError(f"{self.problem.name} has no policy network")
        return self.problem.hidden_layers()

    def _roll_out(self, problem: RolloutProblem, Z: Population) -> torch.Tensor:
        """``evaluate`` for episodes: charged the steps taken, each candidate one evaluation."""
        P = Z.shape[0]
        affordable = self.budget.affordable(1)
        n = P if affordable is None else min(affordable, P)
        left = self.budget.steps_left()
        if n == 0 or left == 0:
            raise BudgetExceeded("no environment step fits in what is left of the budget")
        k = problem.episodes_per_evaluation
        seeds = np.array(self.episode_seeds(n * k), dtype=np.int64).reshape(n, k)
        result = problem.rollout(self.space.to_weights(Z if n == P else Z[:n]), seeds, left)
        done = int(result.finished.sum())
        self.budget.charge_steps(result.steps, result.episodes, evaluations=done)
        if done:
            self.best_seen[0] = min(self.best_seen[0], float(result.losses[result.finished].min()))
        if done < P:
            raise BudgetExceeded(f"the budget ends inside this population: {done} of {P} evaluated, not told")
        return result.losses

    def loss_and_grad(self, z: torch.Tensor, batch_size: int) -> tuple[float, torch.Tensor]:
        """Minibatch loss and gradient (with respect to the search coordinates) at z; charged one
        evaluation and 3·batch_size forward-equivalent samples (3 for a problem without data)."""
        problem = self.problem
        if not isinstance(problem, DifferentiableProblem):
            raise TypeError(f"{problem.name} has no gradient")
        n = problem.train_size
        self.budget.charge(evaluations=1, samples=3 * (batch_size if n is not None else 1))
        batch = None if n is None else self._minibatch(n, batch_size).next().to(self.device)
        loss, grad = problem.loss_and_grad(self.space.point(z), batch)
        self._seen(loss)
        return loss, self.space.pullback(grad)

    def _seen(self, loss: float) -> None:
        """Lower ``best_seen`` by one loss seen in training (a minibatch's, an episode's)."""
        self.best_seen[0] = min(self.best_seen[0], loss)

    def metrics(self, z: torch.Tensor) -> dict[str, float | str]:
        """Every metric of the search point z on every split, as ``{split}_{metric}`` (not charged);
        for a typed problem also ``config``, the JSON of the configuration z stands for."""
        x = self.space.point(z)
        values: dict[str, float | str] = {
            f"{split}_{name}": value for split in SPLITS for name, value in self.problem.metrics(x, split).items()
        }
        if isinstance(self.problem, TypedProblem):
            values["config"] = canonical_json(self.problem.configuration(x))
        return values

    def _minibatch(self, n: int, batch_size: int) -> CircularBatches:
        if batch_size not in self._minibatches:
            stream = torch_generator(self.problem.seed, self.problem.name, "minibatches", batch_size)
            self._minibatches[batch_size] = CircularBatches(n, batch_size, stream)
        return self._minibatches[batch_size]

    def _record(self, losses: torch.Tensor) -> None:
        """Lower ``best_seen`` by the population's losses: one host copy of m values."""
        if losses.ndim == 1:  # the common case, kept cheap: it runs once per ask
            self.best_seen[0] = min(self.best_seen[0], lowest(losses))
            return
        host = losses.detach().cpu().double().numpy()
        for i, value in enumerate(host.min(axis=0).tolist()):
            self.best_seen[i] = min(self.best_seen[i], value)
        if self.front is not None:
            self.front.update(host)
