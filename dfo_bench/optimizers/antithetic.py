"""Antithetic sampling, shared by the ES family: pairs θ + s·ε and θ − s·ε from one noise draw."""

from __future__ import annotations

import torch


def antithetic_population(centre: torch.Tensor, noise: torch.Tensor, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Refill ``noise`` (K, D) in place with N(0, I) draws (a fresh buffer per generation costs page
    faults at large D) and return the (2K, D) population, on centre's device: centre + scale·noise,
    then centre − scale·noise. ``noise`` and ``generator`` are on that device too."""
    torch.randn(noise.shape, generator=generator, out=noise)
    half = noise.shape[0]
    X = torch.empty(2 * half, centre.numel(), device=centre.device)
    torch.add(centre, noise, alpha=scale, out=X[:half])
    torch.add(centre, noise, alpha=-scale, out=X[half:])
    return X
