"""The genetic algorithm of Pintus (2024, "Hyperparameters optimization for neural networks with
evolution strategies", University of Trieste) for typed domains of hyper-parameters.

Generational, population 5 (20 generations in the study: a budget of 100 evaluations). Each
child comes from two parents chosen by tournaments of size 3 (drawn without replacement from the
last evaluated generation, the lowest loss wins), recombined by two-point crossover of the gene
vector (genes in the domain's order; the part between two cut points comes from the second
parent) with probability ``crossover``, then mutated gene by gene, each with probability
``mutation_rate``:

- integers by a uniform integer step in [−s, s] (``layers`` s = 2, ``neurons`` s = 16, as in the
  study; another integer s = max(1, (high − low) // 8)), clipped into range;
- floats by N(0, σ²) (``dropout`` σ = 0.15; another float σ = 0.3·(high − low)), clipped;
- choices among activation functions by the tree distance below; other choices uniformly among
  the other options.

Activation mutation. The activations are leaves of this tree of families::

    activation
    ├── unbounded
    │   ├── piecewise-linear: relu, leaky_relu
    │   └── smooth: elu, gelu
    └── bounded (sigmoidal): tanh, sigmoid

hops(a, b) is the number of edges on the path between leaves a and b (relu–leaky_relu 2,
relu–elu 4, relu–tanh 5). The study's distance d_b(a, b) = log_b hops(a, b) induces
p(a → b) ∝ 2^(−d_b(a, b)) = hops(a, b)^(−log_b 2): a larger ``base`` flattens the distribution
(more exploration). hops(a, a) = 0 would give an infinite weight, so the stay is excluded:
a mutated activation always changes, to b ≠ a with that probability; it stays unchanged only
when the gene is not mutated (probability 1 − ``mutation_rate``).

The first generation is drawn uniformly from the domain. The optimizer recommends the best
configuration evaluated so far.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from pydantic import Field

from dfo_bench.optimizers.base import SearchDomain
from dfo_bench.optimizers.typed import TypedOptimizer
from dfo_bench.params import ParamsModel
from dfo_bench.ranges import ChoiceRange, IntRange, log_float, ranges, uniform

ACTIVATION_TREE: dict[str, tuple[str, ...]] = {
    "relu": ("unbounded", "piecewise-linear"),
    "leaky_relu": ("unbounded", "piecewise-linear"),
    "elu": ("unbounded", "smooth"),
    "gelu": ("unbounded", "smooth"),
    "tanh": ("bounded",),
    "sigmoid": ("bounded",),
}
"""Each activation's ancestors below the root, outermost first (the tree of the module docstring)."""

STUDY_STEPS: dict[str, float] = {"layers": 2, "neurons": 16, "dropout": 0.15}
"""Mutation scales of the study's genes: integer half-widths and the dropout's standard deviation."""


def hops(a: str, b: str) -> int:
    """Edges on the tree path between leaves a and b (0 when a == b)."""
    if a == b:
        return 0
    pa, pb = ACTIVATION_TREE[a], ACTIVATION_TREE[b]
    common = 0
    while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
        common += 1
    return (len(pa) - common + 1) + (len(pb) - common + 1)


def activation_mutation(a: str, choices: Sequence[str], base: float) -> np.ndarray:
    """p(a → b) for every b of ``choices``: ∝ 2^(−log_base hops(a, b)), 0 for b = a."""
    weights = np.array([0.0 if b == a else 2.0 ** (-math.log(hops(a, b), base)) for b in choices])
    return weights / weights.sum()


class GAHPOParams(ParamsModel):
    popsize: int = Field(5, ge=3)
    """Individuals per generation (at least the tournament size)."""
    tournament: int = Field(3, ge=1)
    crossover: float = Field(1.0, ge=0, le=1)
    """Probability that a pair of parents is recombined by two-point crossover (else copied)."""
    mutation_rate: float = Field(0.5, ge=0, le=1)
    """Probability that each gene of a child is mutated (the study does not state one)."""
    base: float = Field(2.0, gt=1)
    """Base b of the activation distance log_b(hops): larger b, flatter mutation distribution."""


class GAHPO(TypedOptimizer):
    name = "ga-hpo"
    description = "GA of hyper-parameters (Pintus 2024): tournaments of 3, two-point crossover, tree-distance activation mutation"
    Params = GAHPOParams
    params: GAHPOParams
    tuning_ranges = ranges(mutation_rate=uniform(0.1, 0.9), crossover=uniform(0.5, 1.0), base=log_float(1.2, 16.0))

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: GAHPOParams) -> None:
        super().__init__(search, rng, params)
        if params.tournament > params.popsize:
            raise ValueError(f"ga-hpo: tournament ({params.tournament}) cannot exceed popsize ({params.popsize})")
        self._population: np.ndarray | None = None
        self._losses: np.ndarray | None = None

    @property
    def popsize(self) -> int:
        return self.params.popsize

    def _ask(self, n: int) -> torch.Tensor:
        if self._population is None or self._losses is None:
            return self.domain.sample(n, self.rng).to(self.device)
        children: list[np.ndarray] = []
        while len(children) < n:
            first, second = self._select(), self._select()
            if self.rng.random() < self.params.crossover:
                first, second = self._cross(first, second)
            children += [self._mutate(first), self._mutate(second)]
        return torch.from_numpy(np.stack(children[:n]).astype(np.float32)).to(self.device)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        self._population = self.domain.canonical(X.cpu()).double().numpy()
        self._losses = losses.cpu().numpy()

    def _select(self) -> np.ndarray:
        assert self._population is not None and self._losses is not None
        entrants = self.rng.choice(len(self._population), size=self.params.tournament, replace=False)
        return self._population[entrants[np.argmin(self._losses[entrants])]].copy()

    def _cross(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two-point crossover: the genes between two distinct cut points are swapped."""
        if len(a) < 2:
            return a, b
        i, j = sorted(self.rng.choice(np.arange(1, len(a) + 1), size=2, replace=False))
        a2, b2 = a.copy(), b.copy()
        a2[i:j], b2[i:j] = b[i:j], a[i:j]
        return a2, b2

    def _mutate(self, genes: np.ndarray) -> np.ndarray:
        out = genes.copy()
        for k, (name, r) in enumerate(self.domain.ranges.items()):
            if self.rng.random() >= self.params.mutation_rate:
                continue
            if isinstance(r, IntRange):
                s = int(STUDY_STEPS.get(name, max(1, (r.high - r.low) // 8)))
                out[k] = min(max(out[k] + self.rng.integers(-s, s + 1), r.low), r.high)
            elif isinstance(r, ChoiceRange):
                out[k] = self._mutate_choice(r, int(out[k]))
            else:
                sigma = STUDY_STEPS.get(name, 0.3 * (r.high - r.low))
                out[k] = min(max(out[k] + self.rng.normal(0.0, sigma), r.low), r.high)
        return out

    def _mutate_choice(self, r: ChoiceRange, index: int) -> int:
        if len(r.choices) == 1:
            return index
        activations = [c for c in r.choices if isinstance(c, str) and c in ACTIVATION_TREE]
        if len(activations) == len(r.choices):
            probabilities = activation_mutation(activations[index], activations, self.params.base)
        else:
            probabilities = np.full(len(r.choices), 1.0 / (len(r.choices) - 1))
            probabilities[index] = 0.0
        return int(self.rng.choice(len(r.choices), p=probabilities))
