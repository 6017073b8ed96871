"""One pymoo algorithm driven through pymoo's ask-and-tell interface, shared by ``pymoo`` and ``nsga2``.

pymoo's algorithms expect to run their own loop; here the runner owns it: ``ask`` returns pymoo's
next population, ``tell`` hands back the losses the runner evaluated (one column per objective),
and termination never fires (``NoTermination``: the runner's budget decides when to stop). pymoo
draws from the ``numpy.random.Generator`` it builds from ``setup(seed=…)``; NumPy's global
generator is untouched.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from pymoo.core.algorithm import Algorithm
from pymoo.core.evaluator import Evaluator
from pymoo.core.problem import Problem
from pymoo.core.termination import NoTermination
from pymoo.problems.static import StaticProblem

RESERVED_OPTIONS = frozenset({"pop_size", "sampling", "seed"})
"""pymoo keywords the optimizer sets itself: from ``popsize``, its first population and the run's seed."""


def check_options(options: Mapping[str, Any]) -> None:
    """Refuse pymoo keywords in ``options`` that would override what the optimizer sets itself."""
    reserved = RESERVED_OPTIONS & set(options)
    if reserved:
        raise ValueError(
            f"options may not set {sorted(reserved)}: the optimizer sets pymoo's pop_size (popsize), "
            "sampling (its first population) and seed (the run's)"
        )


class PymooAskTell:
    """``algorithm`` on the box [low, high] (one bound per variable), seeded with ``seed``."""

    def __init__(self, algorithm: Algorithm, low: np.ndarray, high: np.ndarray, objectives: int, seed: int) -> None:
        self.problem = Problem(n_var=len(low), n_obj=objectives, xl=low, xu=high)
        self.algorithm = algorithm
        self.algorithm.setup(self.problem, termination=NoTermination(), seed=seed, verbose=False)
        self._evaluator = Evaluator(skip_already_evaluated=False)
        self._asked: Any = None

    def ask(self) -> np.ndarray:
        """pymoo's next population, (popsize, n_var) in the box."""
        self._asked = self.algorithm.ask()
        return self._asked.get("X")

    def tell(self, F: np.ndarray) -> None:
        """The losses of the last population asked, (popsize, objectives); pymoo learns the count from them."""
        self.problem.n_obj = F.shape[1]
        self._evaluator.eval(StaticProblem(self.problem, F=F), self._asked)
        self.algorithm.tell(infills=self._asked)

    @property
    def best(self) -> np.ndarray | None:
        """The best point so far (single objective), None before the first tell."""
        return None if self.algorithm.opt is None else self.algorithm.opt[0].X
