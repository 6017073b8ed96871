"""MOBO-ARS (Deutel, Kontes, Mutschler & Teich 2023, "Optimizing neural networks with
multi-objective Bayesian optimization and augmented random search", poster at the Workshop on
Optimization and Machine Learning): multi-objective Bayesian optimisation whose acquisition is
maximised by an ensemble of local policies trained with Augmented Random Search on the surrogate.

1. The first ``initial`` evaluations are a Latin hypercube of the box (x0 first).
2. Each iteration fits one Gaussian process per objective (objectives normalised to [0, 1] over what
   was evaluated; scikit-learn, ``optimizers.surrogate``) and draws Chebyshev weights λ from the simplex.
3. The current Pareto set (inputs of the non-dominated points) is clustered by k-means
   (scikit-learn's ``KMeans``); each of the ``policies`` cluster centres starts one local policy.
4. A policy is affine in the state: from its start c it moves x ← clip(x + step·tanh(Θ [x − c; 1]))
   for ``horizon`` steps on the surrogate; its reward is the largest Monte-Carlo expected
   improvement along the rollout of the augmented Chebyshev scalarisation (ρ = 0.05) over the
   best evaluated value, estimated with the reparameterisation trick: f = μ + σ·ε with ε fixed
   within an iteration (common random numbers for every rollout, Wilson et al. 2017).
5. Each policy is trained by ARS V1-t (Mania et al. 2018, as ``optimizers.ars``): ``directions``
   antithetic perturbations Θ ± νφ, the top ``top`` by max(r+, r−) enter the update, scaled by the
   standard deviation of their rewards.
6. The trained policies are validated with a fresh, larger ε; the rollout point of largest EI over
   all policies is evaluated next (one evaluation per iteration). If no policy finds any
   improvement, the MC EI is maximised by sampling as ParEGO does.

The poster trains small MLP policies; an affine policy (the linear policies of Mania et al.) keeps
the number of policy weights at d·(d + 1) and the method cheap. Our own code: the rollout, the MC
EI and the ARS update (NumPy, vectorised over policies and directions); the GPs and k-means are
scikit-learn's. For low-dimensional boxes only (``max_dim``): on network weights, search a blocks space.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
from pydantic import Field, model_validator
from sklearn.cluster import KMeans

from dfo_bench.optimizers.box import (
    RHO,
    augmented_chebyshev,
    normalise,
    simplex_weights,
)
from dfo_bench.optimizers.surrogate import SurrogateOptimizer, SurrogateParams, fit_gp, maximise, predict
from dfo_bench.ranges import log_float, log_int, ranges


class MOBOARSParams(SurrogateParams):
    policies: int = Field(3, ge=1)
    """k of the k-means clustering of the Pareto set: competing local policies per iteration."""
    iterations: int = Field(10, ge=1)
    """ARS updates of each policy per iteration."""
    directions: int = Field(8, ge=1)
    """N: antithetic perturbations of a policy per ARS update."""
    top: int = Field(4, ge=1)
    """b: the directions by max(r+, r−) that enter the update."""
    step_size: float = Field(0.5, gt=0)
    """α of the ARS update."""
    noise: float = Field(0.5, gt=0)
    """ν: standard deviation of the policy perturbations."""
    horizon: int = Field(5, ge=1)
    """H: steps of a rollout on the surrogate."""
    move: float = Field(0.05, gt=0, le=1)
    """Largest move per rollout step, as a fraction of the box's width."""
    mc_samples: int = Field(32, ge=1)
    """Monte-Carlo samples of the objectives per EI estimate while training (4x that to validate)."""

    @model_validator(mode="after")
    def _top_among_directions(self) -> MOBOARSParams:
        if self.top > self.directions:
            raise ValueError(f"top ({self.top}) cannot exceed directions ({self.directions})")
        return self


class MOBOARS(SurrogateOptimizer):
    name = "mobo-ars"
    description = "MOBO-ARS: GP per objective, k-means of the Pareto set, ARS-trained local policies maximising MC EI"
    Params = MOBOARSParams
    tuning_ranges = ranges(
        initial=log_int(5, 50), step_size=log_float(0.05, 2.0), noise=log_float(0.05, 2.0), move=log_float(0.01, 0.5)
    )
    params: MOBOARSParams

    def _propose(self) -> np.ndarray:
        p, rng, m = self.params, self.rng, self._F.shape[1]
        F = normalise(self._F, self._F)
        gps = [fit_gp(self._U, F[:, i], rng, p.restarts, p.ard) for i in range(m)]
        weights = simplex_weights(m, rng)
        best = float(augmented_chebyshev(F, weights).min())

        def mc_ei(U: np.ndarray, eps: np.ndarray) -> np.ndarray:
            """Monte-Carlo EI of the scalarisation at the rows of U, with samples f = μ + σ·ε."""
            moments = [predict(gp, U) for gp in gps]
            mean = np.stack([mu for mu, _ in moments], axis=1)[:, None, :]
            std = np.stack([sd for _, sd in moments], axis=1)[:, None, :]
            return np.maximum(best - augmented_chebyshev(mean + std * eps[None], weights, RHO), 0.0).mean(axis=1)

        starts = self._starts()
        theta = np.zeros((len(starts), self.dim, self.dim + 1))
        for _ in range(p.iterations):
            eps = rng.standard_normal((p.mc_samples, m))
            phi = rng.standard_normal((len(starts), p.directions, self.dim, self.dim + 1))
            both = np.concatenate([theta[:, None] + p.noise * phi, theta[:, None] - p.noise * phi], axis=1)
            rewards, _ = self._rollouts(both, starts, partial(mc_ei, eps=eps))
            plus, minus = rewards[:, : p.directions], rewards[:, p.directions :]
            for k in range(len(starts)):
                top = np.argsort(-np.maximum(plus[k], minus[k]), kind="stable")[: p.top]
                spread = float(np.concatenate([plus[k, top], minus[k, top]]).std())
                if spread > 0:
                    theta[k] += p.step_size / (p.top * spread) * np.tensordot(plus[k, top] - minus[k, top], phi[k, top], axes=1)
        eps = rng.standard_normal((4 * p.mc_samples, m))
        _, (points, values) = self._rollouts(theta[:, None], starts, partial(mc_ei, eps=eps))
        if values.max() > 0:
            return points[np.unravel_index(int(np.argmax(values)), values.shape)]
        return maximise(partial(mc_ei, eps=eps), starts, self.dim, 1000, rng)

    def _starts(self) -> np.ndarray:
        """Centres of the k-means clusters of the Pareto set, in unit coordinates."""
        pareto = self.to_unit(self.front()[0])
        k = min(self.params.policies, len(np.unique(pareto, axis=0)))
        kmeans = KMeans(n_clusters=k, n_init=3, random_state=int(self.rng.integers(2**31 - 1))).fit(pareto)
        return np.clip(kmeans.cluster_centers_, 0.0, 1.0)

    def _rollouts(
        self, theta: np.ndarray, starts: np.ndarray, ei: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """Roll out policies theta (k, R, d, d + 1) from their starts (k, d) on the surrogate.

        Returns each rollout's reward, the largest EI along it (k, R), and every visited point
        (k, R, H, d) with its EI (k, R, H)."""
        k, R, d = theta.shape[0], theta.shape[1], self.dim
        x = np.broadcast_to(starts[:, None, :], (k, R, d)).copy()
        points, values = np.empty((k, R, self.params.horizon, d)), np.empty((k, R, self.params.horizon))
        for t in range(self.params.horizon):
            state = np.concatenate([x - starts[:, None, :], np.ones((k, R, 1))], axis=2)
            x = np.clip(x + self.params.move * np.tanh(np.einsum("krij,krj->kri", theta, state)), 0.0, 1.0)
            points[:, :, t] = x
            values[:, :, t] = ei(x.reshape(-1, d)).reshape(k, R)
        return values.max(axis=2), (points, values)
