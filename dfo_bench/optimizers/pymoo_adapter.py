"""pymoo's single-objective GA, PSO and DE (Blank & Deb 2020) through pymoo's ask-and-tell interface.

pymoo's GA (SBX crossover and polynomial mutation, Deb & Agrawal 1995) is the textbook real-coded
GA to set beside our Deep-GA ``ga``; its PSO and DE are references for ours. pymoo's operators are
defined on a box, so the search is confined to ``bounds`` (or x0 ± ``radius``), and the first
population is x0 and x0 + init_sigma·N(0, I) (``sampling.around``, clipped into the box) rather than
uniform in that box. pymoo draws from the ``numpy.random.Generator`` it builds from
``setup(seed=…)``, seeded from the run's own generator; it does not touch NumPy's global generator.
pymoo works in NumPy: x0 and the losses go to the host, and each population and recommendation
comes back as a float32 tensor on the optimizer's device (``_tensor``).

On a typed domain (hyper-parameters, see ``dfo_bench.domain``) pymoo searches the unit box
[0, 1]^d, its first population uniform there, and every point it asks is mapped to a configuration
by ``TypedDomain.from_unit`` (``bounds``, ``radius`` and ``init_sigma`` are for weights): the route by
which any box optimizer searches a typed domain.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from pymoo.algorithms.soo.nonconvex.de import DE
from pymoo.algorithms.soo.nonconvex.ga import GA
from pymoo.algorithms.soo.nonconvex.pso import PSO

from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.pymoo_ask_tell import PymooAskTell, check_options
from dfo_bench.optimizers.sampling import around
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.ranges import choice, log_float, log_int, ranges

ALGORITHMS = {"GA": GA, "PSO": PSO, "DE": DE}

DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {"GA": {"eliminate_duplicates": False}}
"""GA's duplicate elimination costs O(P²·D) distances per generation and can return short
populations; real-valued offspring are practically never duplicates. ``options`` override this."""


class PymooParams(ParamsModel):
    algorithm: Literal["GA", "PSO", "DE"] = "GA"
    popsize: int = Field(32, ge=4)
    """pymoo's ``pop_size``; every ``ask`` returns this many candidates."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Keyword arguments of the pymoo algorithm's constructor (e.g. ``{variant: DE/rand/1/bin, CR: 0.9}``).
    pymoo ignores names it does not know. At large D, give PSO ``{adaptive: false}``: its default
    adaptation computes P² distances over D per generation (5 s and ~1 GB at D = 25,450, P = 64)."""
    init_sigma: float = Field(0.02, gt=0)
    """Spread of the first population around x0, in weight units."""
    bounds: Bounds | None = None
    """Absolute box on every weight (as ``de``'s); None: x0 ± ``radius``, weight by weight."""
    radius: float = Field(0.5, gt=0)
    """Half-width of the box around x0 when ``bounds`` is None."""

    @model_validator(mode="after")
    def _consistent(self) -> PymooParams:
        check_options(self.options)
        return self


class PymooAlgorithm(AskTellOptimizer[torch.Tensor]):
    name = "pymoo"
    description = "pymoo's single-objective GA (SBX + polynomial mutation), PSO or DE, in a box around x0"
    Params = PymooParams
    tuning_ranges = ranges(algorithm=choice("GA", "PSO", "DE"), popsize=log_int(8, 128), init_sigma=log_float(1e-3, 0.5))
    params: PymooParams
    search_kinds = frozenset({"weights", "typed"})

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: PymooParams) -> None:
        super().__init__(search, rng, params)
        domain = search.typed
        self.domain = domain
        x = self.x0.cpu().double().numpy()
        if domain is not None:
            low, high = np.zeros(self.dim), np.ones(self.dim)
        elif params.bounds is None:
            low, high = x - params.radius, x + params.radius
        else:
            low, high = np.full(self.dim, params.bounds[0]), np.full(self.dim, params.bounds[1])
        stream = np.random.default_rng(int(rng.integers(2**32)))
        first = stream.random((params.popsize, self.dim)) if domain else around(x, params.init_sigma, params.popsize, stream)
        sampling = np.clip(first, low, high)
        options = {**DEFAULT_OPTIONS.get(params.algorithm, {}), **params.options}
        algorithm = ALGORITHMS[params.algorithm](pop_size=params.popsize, sampling=sampling, **options)
        self._pymoo = PymooAskTell(algorithm, low, high, objectives=1, seed=int(rng.integers(2**32)))

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A pymoo array as a float32 tensor on the optimizer's device (unit-box points as configurations)."""
        if self.domain is not None:
            return self.domain.from_unit(np.atleast_2d(array)).reshape(array.shape).to(self.device)
        return torch.from_numpy(array).to(torch.float32).to(self.device)

    def _ask(self, n: int) -> torch.Tensor:
        return self._tensor(self._pymoo.ask())

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        self._pymoo.tell(losses.cpu().numpy()[:, None])

    def recommend(self) -> torch.Tensor:
        best = self._pymoo.best
        return self.x0.clone() if best is None else self._tensor(best)
