"""ARS V2's observation normalisation: running mean and standard deviation of the states visited.

The statistics are the run's, kept by the problem beside the weights (``Problem.state``), not part
of a candidate: every candidate of a population is scored with the same frozen statistics, which
are then updated with every state the population visited during training rollouts (ARS updates
them once per iteration from all workers' states). Validation and test rollouts use them frozen
and do not update them. Updating costs no environment step (the states were already paid for)
and is charged nothing. Statistics are kept in float64 and merged with Chan's parallel formula.
"""

from __future__ import annotations

import torch

MIN_STD = 1e-8
"""A coordinate that has not varied is left unscaled (ARS: std 1 where it is ~0)."""


class RunningNormalizer:
    """(s − μ) / σ over the states seen so far; the identity before any state is seen."""

    def __init__(self, size: int) -> None:
        self.count = torch.zeros((), dtype=torch.float64)
        self.mean = torch.zeros(size, dtype=torch.float64)
        self.m2 = torch.zeros(size, dtype=torch.float64)
        self._frozen: tuple[torch.Tensor, torch.Tensor] | None = None

    def update(self, states: torch.Tensor) -> None:
        """Merge the statistics of ``states`` (n, size)."""
        n = states.shape[0]
        if n == 0:
            return
        states = states.double()
        mean = states.mean(dim=0)
        m2 = ((states - mean) ** 2).sum(dim=0)
        total = self.count + n
        delta = mean - self.mean
        self.m2 += m2 + delta**2 * self.count * n / total
        self.mean += delta * n / total
        self.count = total
        self._frozen = None

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        """Normalised float32 observations (N, size), on obs's device."""
        mean, std = self.frozen(obs.device)
        return (obs - mean) / std

    def frozen(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """The float32 (mean, std) that ``__call__`` applies, on ``device``: computed once per update."""
        if self._frozen is None or self._frozen[0].device != device:
            std = (self.m2 / self.count.clamp(min=1)).sqrt() if self.count > 1 else torch.ones_like(self.mean)
            std = torch.where(std < MIN_STD, torch.ones_like(std), std)
            self._frozen = (self.mean.float().to(device), std.float().to(device))
        return self._frozen

    def state(self) -> dict[str, torch.Tensor]:
        return {"obs_count": self.count.clone(), "obs_mean": self.mean.clone(), "obs_m2": self.m2.clone()}

    def load_state(self, state: dict[str, torch.Tensor]) -> None:
        self.count, self.mean, self.m2 = (state[k].double().clone() for k in ("obs_count", "obs_mean", "obs_m2"))
        self._frozen = None
