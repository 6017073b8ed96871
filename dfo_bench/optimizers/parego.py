"""ParEGO (Knowles 2006, "ParEGO: a hybrid algorithm with on-line landscape approximation for
expensive multiobjective optimization problems"): one Gaussian process per iteration on a
randomly weighted augmented Chebyshev scalarisation of the objectives.

The first ``initial`` evaluations are a Latin hypercube of the box (x0 first). Then, one point per
iteration: the objectives are normalised to [0, 1] over what was evaluated, a weight vector λ is
drawn uniformly from the simplex, every point's max_i(λ_i f_i) + 0.05 Σ λ_i f_i is modelled by a GP
(scikit-learn, ``optimizers.surrogate``), and the point of largest expected improvement is
evaluated. EI is maximised by sampling (uniform points of the box and Gaussian steps around the
best points so far) and refining the best sample by Gaussian steps of shrinking scale
(``surrogate.maximise``). Knowles draws λ from a fixed lattice of s + 1 choose m − 1 vectors and
evolves EI with a GA; uniform draws (as BoTorch's qParEGO) and sampling with local refinement
need no further parameters. Our own code: the scalarisation and the maximisation loop, a few
lines each; the GP is scikit-learn's.

For low-dimensional boxes only (``max_dim``): on network weights, search a blocks space.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from dfo_bench.optimizers.box import (
    augmented_chebyshev,
    normalise,
    simplex_weights,
)
from dfo_bench.optimizers.surrogate import (
    SurrogateOptimizer,
    SurrogateParams,
    expected_improvement,
    fit_gp,
    maximise,
    predict,
)
from dfo_bench.ranges import log_float, log_int, ranges


class ParEGOParams(SurrogateParams):
    """``initial`` defaults to 20 points, fewer than Knowles's 11·d − 1, which a budget of 150 would not hold."""

    rho: float = Field(0.05, ge=0)
    """ρ of the augmented Chebyshev scalarisation."""
    samples: int = Field(2000, ge=10)
    """Candidates sampled per iteration before refinement (half uniform, half around the best points)."""
    max_points: int = Field(200, ge=10)
    """The GP is fitted on at most this many points (those of lowest scalarised value): its cost grows as n³."""


class ParEGO(SurrogateOptimizer):
    name = "parego"
    description = "ParEGO: GP on a random augmented Chebyshev scalarisation per iteration, EI by sampling + local refinement"
    Params = ParEGOParams
    tuning_ranges = ranges(initial=log_int(5, 50), rho=log_float(0.01, 0.2))
    params: ParEGOParams

    def _propose(self) -> np.ndarray:
        p = self.params
        scalar = augmented_chebyshev(normalise(self._F, self._F), simplex_weights(self._F.shape[1], self.rng), p.rho)
        keep = np.argsort(scalar, kind="stable")[: p.max_points]
        U, y = self._U[keep], scalar[keep]
        gp = fit_gp(U, y, self.rng, p.restarts, p.ard)
        best = float(y.min())
        return maximise(
            lambda U: expected_improvement(*predict(gp, U), best),
            U[np.argsort(y, kind="stable")[:5]],
            self.dim,
            p.samples,
            self.rng,
        )
