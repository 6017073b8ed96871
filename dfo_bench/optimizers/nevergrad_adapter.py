"""Any optimizer of Nevergrad's registry (Rapin & Teytaud 2018) through its ask/tell interface.

Nevergrad holds hundreds of tuned variants (TwoPointsDE, NGOpt, PSO, CMA, …) under stable names;
one adapter gives the suite all of them. The weights are one ``ng.p.Array`` started at x0, whose
mutation scale ``sigma`` (in weight units) is where Nevergrad's DE, ES and PSO sample around x0.
Nevergrad is imported only here, lazily (it takes seconds to import). Its randomness comes from the
parametrization's ``random_state``, seeded from the run's own generator; the adapter seeds no global
generator. Two things in Nevergrad itself still use NumPy's global generator: importing it draws
from it (its registry builds sample optimizers), and a few variants draw from it while running, so
those are not reproducible from the run's seed: the lognormal-mutation (1+1) ones such as
SmoothDiscreteLognormalOnePlusOne, smoothing with super-radii, and, in some budget and dimension
branches, the NgIoh portfolios that pick randomly rescaled members (NgIoh14 and later).
Nevergrad works in NumPy: x0 goes to the host once, and each population and recommendation comes
back as a float32 tensor on the optimizer's device (``_tensor``).

On a typed domain (hyper-parameters, see ``dfo_bench.domain``) the parametrization is an
``ng.p.Dict`` of one parameter per typed one: ``ng.p.Scalar`` with integer casting for integers,
``ng.p.Scalar`` or ``ng.p.Log`` for floats, ``ng.p.Choice`` for choices, started at the domain's
default configuration; Nevergrad's own mutation scales apply (``sigma`` and ``bounds`` are for
weights). Candidates come back as encoded configurations.
"""

from __future__ import annotations

import difflib
from typing import Any

import numpy as np
import torch
from pydantic import Field, field_validator

from dfo_bench.domain import TypedDomain, Value
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.ranges import ChoiceRange, IntRange, log_float, log_int, ranges


class NevergradParams(ParamsModel):
    name: str = "TwoPointsDE"
    """A name in ``nevergrad.optimizers.registry``."""
    popsize: int = Field(32, ge=1)
    """Candidates asked per generation (Nevergrad's ``num_workers``); Nevergrad's own population may be
    larger (its DE keeps at least 30)."""
    sigma: float = Field(0.02, gt=0)
    """Mutation scale of the parametrization, in weight units."""
    bounds: Bounds | None = None
    """Box on every weight (absolute, like ``de``'s), containing x0; None: unbounded."""
    budget: int | None = Field(None, ge=1)
    """Evaluations Nevergrad may plan for; NGOpt and other selectors need it. The runner still
    enforces the run's own budget."""

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        import nevergrad as ng

        if name not in ng.optimizers.registry:
            close = difflib.get_close_matches(name, list(ng.optimizers.registry), n=3, cutoff=0.6)
            hint = f"did you mean {', '.join(repr(c) for c in close)}?" if close else "see nevergrad.optimizers.registry"
            raise ValueError(f"unknown Nevergrad optimizer '{name}'; {hint}")
        return name


class NevergradOptimizer(AskTellOptimizer[torch.Tensor]):
    name = "nevergrad"
    description = "Any optimizer of Nevergrad's registry (params.name, default TwoPointsDE)"
    Params = NevergradParams
    tuning_ranges = ranges(popsize=log_int(4, 128), sigma=log_float(1e-3, 0.5))
    params: NevergradParams
    search_kinds = frozenset({"weights", "typed"})

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: NevergradParams) -> None:
        super().__init__(search, rng, params)
        import nevergrad as ng

        domain = search.typed
        self.domain = domain
        parametrization: ng.p.Parameter
        if domain is not None:
            parametrization = typed_parametrization(domain, domain.decode(self.x0))
        else:
            parametrization = ng.p.Array(init=self.x0.cpu().double().numpy()).set_mutation(sigma=params.sigma)
            if params.bounds is not None:
                parametrization.set_bounds(*params.bounds)
        parametrization.random_state = np.random.RandomState(int(rng.integers(2**32)))
        self._optimizer = ng.optimizers.registry[params.name](
            parametrization=parametrization, budget=params.budget, num_workers=params.popsize
        )
        self._asked: list[Any] = []

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        try:
            self._asked = [self._optimizer.ask() for _ in range(n)]
        except AssertionError as exc:  # Nevergrad's selectors assert on a missing budget, with no message
            if self.params.budget is None:
                raise ValueError(f"nevergrad: {self.params.name} cannot ask without params.budget (evaluations)") from exc
            raise
        return self._tensor(np.stack([self._values(c.value) for c in self._asked], dtype=np.float32))

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        for candidate, loss in zip(self._asked, losses.tolist(), strict=True):
            self._optimizer.tell(candidate, loss)

    def recommend(self) -> torch.Tensor:
        if self._optimizer.num_tell == 0:
            return self.x0.clone()
        return self._tensor(self._values(self._optimizer.provide_recommendation().value))

    def _values(self, value: Any) -> np.ndarray:
        """A candidate's coordinates: its array, or a typed configuration encoded."""
        if self.domain is None:
            return np.asarray(value)
        return self.domain.encode(value).numpy()

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        """A Nevergrad array as a float32 tensor on the optimizer's device."""
        return torch.from_numpy(np.asarray(array, dtype=np.float32)).to(self.device)


def typed_parametrization(domain: TypedDomain, init: dict[str, Value]) -> Any:
    """The typed domain as an ``ng.p.Dict`` started at ``init``; integers cast, log floats ``ng.p.Log``."""
    import nevergrad as ng

    parts: dict[str, Any] = {}
    for name, r in domain.ranges.items():
        if isinstance(r, ChoiceRange):
            parts[name] = ng.p.Choice(list(r.choices))
            parts[name].value = init[name]
        elif isinstance(r, IntRange):
            parts[name] = ng.p.Scalar(init=float(init[name]), lower=r.low, upper=r.high).set_integer_casting()
        elif r.log:
            parts[name] = ng.p.Log(init=float(init[name]), lower=r.low, upper=r.high)
        else:
            parts[name] = ng.p.Scalar(init=float(init[name]), lower=r.low, upper=r.high)
    return ng.p.Dict(**parts)
