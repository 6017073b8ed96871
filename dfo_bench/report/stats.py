"""Uncertainty and significance of final metrics over seeds, within a problem and across problems.

- Confidence intervals: percentile bootstrap (``scipy.stats.bootstrap``) over seeds; across
  problems the seeds are resampled within each problem (stratified, as rliable does), so a
  problem with more seeds does not stand for more of the aggregate.
- Within a problem, optimizers run on the same seeds share the data split and the initial
  weights, so their final metrics are paired by seed: two-sided Wilcoxon signed-rank tests,
  Holm-corrected.
- Across problems: Friedman's test on per-problem mean ranks, and the Nemenyi critical
  difference for the diagram (Demšar 2006).

With n paired seeds the exact two-sided Wilcoxon test cannot give p below 2 / 2**n, so with few
seeds (n <= 5 at α = 0.05, more after a correction for many comparisons) no difference can be
significant; ``power_note`` says so instead of printing marks that mean nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

ALPHA = 0.05
CONFIDENCE = 0.95
RESAMPLES = 2000
IQM_MIN_SEEDS = 5
"""The interquartile mean drops a quarter at each end: below 5 seeds it is the median or the mean."""

Statistic = Callable[..., np.ndarray]


def _clean(values: Sequence[float] | np.ndarray) -> np.ndarray:
    x = np.asarray(values, dtype=float)
    return x[~np.isnan(x)]


def iqm(values: Sequence[float] | np.ndarray, axis: int = -1) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50 % (``scipy.stats.trim_mean`` cutting 25 % each end)."""
    return np.asarray(stats.trim_mean(values, 0.25, axis=axis))


def _mean(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis)


def bootstrap_ci(
    values: Sequence[float] | np.ndarray, statistic: Statistic = _mean, confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``statistic`` over the values (seeds); NaNs are dropped.

    (nan, nan) below two values, where resampling says nothing; a point interval when all are equal.
    Seeded, so the same results give the same report.
    """
    x = _clean(values)
    if x.size < 2:
        return math.nan, math.nan
    if np.ptp(x) == 0:
        return float(x[0]), float(x[0])
    result = stats.bootstrap(
        (x,), statistic, confidence_level=confidence, n_resamples=RESAMPLES, method="percentile", rng=np.random.default_rng(seed)
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def stratified_ci(
    strata: Sequence[Sequence[float] | np.ndarray], confidence: float = CONFIDENCE, seed: int = 0
) -> tuple[float, float]:
    """Interval of the mean over strata (problems) of each stratum's mean over seeds.

    Seeds are resampled within each stratum independently (scipy resamples each sample of an
    unpaired ``data`` tuple on its own); a stratum with one seed enters as a constant.
    """
    samples = [_clean(s) for s in strata]
    samples = [s for s in samples if s.size]
    if not samples:
        return math.nan, math.nan
    varying = [s for s in samples if s.size >= 2 and np.ptp(s) > 0]
    constant = sum(float(np.mean(s)) for s in samples if not (s.size >= 2 and np.ptp(s) > 0))
    if not varying:
        value = constant / len(samples)
        return value, value

    def mean_of_means(*xs: np.ndarray, axis: int = -1) -> np.ndarray:
        return (sum(np.mean(x, axis=axis) for x in xs) + constant) / len(samples)

    result = stats.bootstrap(
        tuple(varying),
        mean_of_means,
        confidence_level=confidence,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1); NaN stays NaN."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    order = valid[np.argsort(p[valid], kind="stable")]
    m = len(order)
    running = 0.0
    for i, index in enumerate(order):
        running = max(running, min(1.0, (m - i) * p[index]))
        adjusted[index] = running
    return adjusted


def paired_wilcoxon(a: np.ndarray, b: np.ndarray, alternative: str = "two-sided") -> float:
    """Wilcoxon signed-rank p of paired samples (two-sided, or ``greater``: a above b); 1 when every
    pair is equal, NaN for no pair.

    Differences within floating-point noise (1e-12) count as ties, so two optimizers that got the
    same accuracy by different arithmetic are not told apart by rounding.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = np.where(np.isclose(a, b, rtol=1e-12, atol=1e-12), 0.0, a - b)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, alternative=alternative).pvalue)


def smallest_p(pairs: int) -> float:
    """The smallest two-sided p the exact Wilcoxon test can give with this many nonzero pairs."""
    return min(1.0, 2.0 ** (1 - pairs)) if pairs > 0 else 1.0


def seeds_needed(comparisons: int, alpha: float = ALPHA) -> int:
    """Paired seeds needed before a difference can survive Holm over ``comparisons`` tests at ``alpha``."""
    n = 1
    while comparisons * smallest_p(n) >= alpha:
        n += 1
    return n


def paired_matrix(finals: pd.DataFrame, metric: str, labels: Sequence[str]) -> pd.DataFrame:
    """Seeds x optimizers table of the final metric of ok runs (NaN where a seed is missing or failed)."""
    ok = finals[finals["status"] == "ok"]
    return ok.pivot_table(index="seed", columns="optimizer_label", values=metric, aggfunc="first").reindex(columns=labels)


@dataclass(frozen=True)
class Significance:
    """Tests of one problem on its primary metric.

    ``p_matrix``: Holm-adjusted pairwise p-values (over all pairs). ``not_worse``: labels not
    significantly worse than ``best`` (Holm over the comparisons with the best); empty when
    ``powered`` is False, i.e. when no difference could reach significance with the seeds there.
    """

    best: str | None
    p_matrix: pd.DataFrame
    not_worse: frozenset[str]
    powered: bool
    note: str


def _pairs(matrix: pd.DataFrame, a: str, b: str) -> tuple[np.ndarray, np.ndarray]:
    both = matrix[[a, b]].dropna()
    return both[a].to_numpy(), both[b].to_numpy()


def significance(matrix: pd.DataFrame, higher_is_better: bool, alpha: float = ALPHA) -> Significance:
    """Pairwise tests on a seeds x optimizers matrix of final metric values (ok runs only)."""
    labels = [str(c) for c in matrix.columns if matrix[c].notna().any()]
    empty = pd.DataFrame(np.nan, index=labels, columns=labels)
    if len(labels) < 2:
        note = "One optimizer with ok runs: nothing to compare." if labels else "No ok run: nothing to compare."
        return Significance(labels[0] if labels else None, empty, frozenset(labels), False, note)
    means = matrix[labels].mean()
    best = str(means.idxmax() if higher_is_better else means.idxmin())
    raw = {(a, b): paired_wilcoxon(*_pairs(matrix, a, b)) for a, b in combinations(labels, 2)}
    adjusted = dict(zip(raw, holm(list(raw.values())), strict=True))
    p_matrix = empty.copy()
    for (a, b), p in adjusted.items():
        p_matrix.loc[a, b] = p_matrix.loc[b, a] = p
    others = [label for label in labels if label != best]
    vs_best = holm([raw[(best, o)] if (best, o) in raw else raw[(o, best)] for o in others])
    n_pairs = min(len(_pairs(matrix, best, o)[0]) for o in others)
    needed = seeds_needed(len(others), alpha)
    powered = n_pairs >= needed
    if not powered:
        note = (
            f"Too few seeds for a significance test: with {n_pairs} paired seed(s) the smallest two-sided Wilcoxon "
            f"p-value is {smallest_p(n_pairs):.3g}, and Holm over {len(others)} comparison(s) with the best multiplies it "
            f"by {len(others)}; nothing can be significant at α = {alpha}. At least {needed} seeds are needed; "
            "no optimizer is marked."
        )
        return Significance(best, p_matrix, frozenset(), False, note)
    worse = {o for o, p in zip(others, vs_best, strict=True) if p < alpha and _is_worse(matrix, best, o, higher_is_better)}
    note = (
        f"Marked (*): not significantly worse than the best ({best}) by a two-sided paired Wilcoxon signed-rank test "
        f"on {n_pairs}+ seeds, Holm-corrected over the {len(others)} comparison(s) with the best, α = {alpha}."
    )
    return Significance(best, p_matrix, frozenset(labels) - worse, True, note)


def _is_worse(matrix: pd.DataFrame, best: str, other: str, higher_is_better: bool) -> bool:
    a, b = _pairs(matrix, best, other)
    difference = float(np.median(a - b))
    return difference > 0 if higher_is_better else difference < 0


@dataclass(frozen=True)
class Friedman:
    """Friedman's test over problems (blocks) and the Nemenyi critical difference of mean ranks."""

    mean_ranks: pd.Series
    """Mean rank per optimizer over problems, 1 = best, ascending."""
    statistic: float
    p_value: float
    critical_difference: float
    problems: int


def friedman(scores: pd.DataFrame, higher_is_better: bool, alpha: float = ALPHA) -> Friedman | None:
    """Problems x optimizers table of per-problem mean scores -> Friedman test and critical difference.

    Only optimizers with a score on every problem are compared. None below 2 problems or 3 optimizers
    (scipy's Friedman test needs 3 groups; with 2 the paired test within a problem says more).
    """
    complete = scores.dropna(axis=1, how="any")
    n, k = complete.shape
    if n < 2 or k < 3:
        return None
    ranks = complete.rank(axis=1, ascending=not higher_is_better)
    result = stats.friedmanchisquare(*(complete[c].to_numpy() for c in complete.columns))
    q = stats.studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    cd = float(q * math.sqrt(k * (k + 1) / (6 * n)))
    p = float(result.pvalue) if np.isfinite(result.pvalue) else 1.0
    return Friedman(ranks.mean().sort_values(), float(np.nan_to_num(result.statistic)), p, cd, n)
