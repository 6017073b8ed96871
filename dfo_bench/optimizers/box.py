"""What the multi-objective optimizers share: a box to search, a non-dominated archive, a compromise.

- **The box.** Every coordinate lies in [low, high]: the optimizer's own ``bounds`` if given, else
  the problem's (ZDT1's [0, 1], the ``SearchDomain``'s ``bounds``), else x0 ± ``radius`` (network
  weights, usually in a blocks space). Surrogate methods model the objectives in unit
  coordinates u = (x − low) / (high − low).
- **Typed spaces.** On a typed ``domain`` (a hyper-parameter problem), the optimizer
  searches the unit box [0, 1]^d itself and hands the problem ``domain.from_unit(u)``, the
  encoded configurations; what it is told is mapped back by ``domain.to_unit`` (the centre of
  each integer's and choice's share), so its archive holds unit points and its recommendation is
  an encoded configuration. Only ``_tensor`` (unit points out) and ``_tell`` (encoded rows in)
  know it.
- **The archive.** The non-dominated set of everything told so far, inputs and losses, kept
  whatever the optimizer's own state is, so that ``recommend`` has a front to choose from.
- **The recommendation.** One point must stand for a front (the runner measures it on the
  validation and test splits): the archive member minimising the augmented Chebyshev
  scalarisation with equal weights of the objectives normalised over the archive, a Pareto-optimal
  compromise. With one objective it is simply the best point.
- **Scalarisation.** The augmented Chebyshev function of ParEGO (Knowles 2006),
  max_i(λ_i f_i) + ρ Σ_i λ_i f_i with ρ = 0.05, on objectives normalised to [0, 1]; weights λ
  drawn uniformly from the simplex (a flat Dirichlet) each iteration. Written here (a line of
  NumPy) rather than taken from pymoo's ``AugmentedAssCalc``-style decompositions, whose ρ and
  normalisation conventions differ from Knowles's.
- **The initial design.** A Latin hypercube in the box (``scipy.stats.qmc.LatinHypercube``), with
  x0 as its first point so a search of network weights never ends worse than its start.

Losses arrive as (P,) for one objective or (P, m) for m; both are kept as (P, m).
"""

from __future__ import annotations

import numpy as np
import torch
from pydantic import Field
from scipy.stats import qmc

from dfo_bench.domain import TypedDomain
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.params import Bounds, ParamsModel
from dfo_bench.pareto import non_dominated

RHO = 0.05
"""ρ of the augmented Chebyshev scalarisation (Knowles 2006)."""


class BoxParams(ParamsModel):
    bounds: Bounds | None = None
    """Absolute box (low, high) on every coordinate; None: the problem's box, else x0 ± ``radius``."""
    radius: float = Field(0.5, gt=0)
    """Half-width of the box around x0 when neither ``bounds`` nor the problem gives one (weights)."""


def augmented_chebyshev(F: np.ndarray, weights: np.ndarray, rho: float = RHO) -> np.ndarray:
    """max_i(w_i f_i) + ρ Σ_i w_i f_i over the last axis of F (..., m): lower is better."""
    weighted = F * weights
    return weighted.max(axis=-1) + rho * weighted.sum(axis=-1)


def normalise(F: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """F scaled objective by objective to [0, 1] over the rows of ``reference`` (a constant objective to 0)."""
    low, high = reference.min(axis=0), reference.max(axis=0)
    return (F - low) / np.where(high > low, high - low, 1.0)


def simplex_weights(m: int, rng: np.random.Generator) -> np.ndarray:
    """A weight vector drawn uniformly from the simplex Σ w = 1, w ≥ 0."""
    return rng.dirichlet(np.ones(m))


def latin_hypercube(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """n points of a Latin hypercube in the unit box [0, 1]^d (scipy's, optimised for nothing)."""
    return qmc.LatinHypercube(d=d, rng=np.random.default_rng(int(rng.integers(2**63)))).random(n)


class BoxOptimizer(AskTellOptimizer[torch.Tensor]):
    """An ask/tell optimizer of any number of objectives over a box (see the module docstring)."""

    objectives = None
    Params = BoxParams
    params: BoxParams

    search_kinds = frozenset({"weights", "typed"})

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: BoxParams) -> None:
        super().__init__(search, rng, params)
        if self.max_dim is not None and self.dim > self.max_dim:
            raise ValueError(dimension_message(self.name, self.max_dim, f"{self.dim} coordinates"))
        domain = search.typed
        self.domain: TypedDomain | None = domain
        """The typed space searched through its unit box (None: weights or a problem's box)."""
        if domain is not None and params.bounds is not None:
            raise ValueError(f"{self.name}: bounds are not taken on a typed space, which is searched through its unit box")
        x = self.x0.cpu().double().numpy() if domain is None else domain.to_unit(self.x0[None])[0]
        given = (0.0, 1.0) if domain is not None else params.bounds if params.bounds is not None else search.bounds
        self.box_given = given is not None
        """Whether the box is the optimizer's or the problem's (else it is x0 ± radius)."""
        if given is not None:
            self.low, self.high = np.full(self.dim, float(given[0])), np.full(self.dim, float(given[1]))
        else:
            self.low, self.high = x - params.radius, x + params.radius
        self.start = np.clip(x, self.low, self.high)
        """x0, moved into the box."""
        self._front_x = np.empty((0, self.dim))
        self._front_f = np.empty((0, 0))

    def to_unit(self, X: np.ndarray) -> np.ndarray:
        return (X - self.low) / (self.high - self.low)

    def from_unit(self, U: np.ndarray) -> np.ndarray:
        return self.low + np.clip(U, 0.0, 1.0) * (self.high - self.low)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        """Host points (n, dim) as a float32 population on the optimizer's device (on a typed
        space, unit points as the encoded configurations they stand for)."""
        if self.domain is not None:
            return self.domain.from_unit(np.asarray(X).reshape(-1, self.dim)).to(self.device)
        return torch.from_numpy(np.ascontiguousarray(X)).to(torch.float32).to(self.device)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        x = X.detach().cpu().double().numpy() if self.domain is None else self.domain.to_unit(X)
        F = losses.detach().cpu().numpy().reshape(len(x), -1)
        if self._front_f.size == 0:
            self._front_f = np.empty((0, F.shape[1]))
        both_x, both_f = np.concatenate([self._front_x, x]), np.concatenate([self._front_f, F])
        keep = non_dominated(both_f)
        self._front_x, self._front_f = both_x[keep], both_f[keep]
        self._learn(x, F)

    def _learn(self, X: np.ndarray, F: np.ndarray) -> None:
        """What the optimizer itself does with the told points X (n, dim) and losses F (n, m)."""

    def front(self) -> tuple[np.ndarray, np.ndarray]:
        """The archive: non-dominated inputs (k, dim) and their losses (k, m)."""
        return self._front_x.copy(), self._front_f.copy()

    def recommend(self) -> torch.Tensor:
        if len(self._front_x) == 0:
            return self.x0.clone()
        F = normalise(self._front_f, self._front_f)
        m = F.shape[1]
        best = int(np.argmin(augmented_chebyshev(F, np.full(m, 1.0 / m))))
        return self._tensor(self._front_x[best : best + 1])[0]


def dimension_message(name: str, limit: int, what: str) -> str:
    """Why a Gaussian-process method refuses a space, and what to do instead."""
    return (
        f"{name} fits Gaussian processes, which need few coordinates: at most {limit}, got {what}; "
        f"search a blocks space instead, e.g. space: {{kind: blocks, n_bins: {min(limit, 32)}}}"
    )
