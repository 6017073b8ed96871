"""Populations sampled around a point, shared by the optimizers that start from x0 (or move a centre).

A first generation is x0 plus Gaussian perturbations of scale ``sigma``, usually with x0 itself as
the first row, so that a search never ends worse than where it started (de, ga, pymoo; cbo without
that row; random-search around its centre, with the row in its first generation only). Written
once here so every optimizer makes the same draws the same way: N(0, I) drawn into an (n, D)
buffer, scaled by sigma, then x0 added, in place, in x0's dtype and on x0's device.
"""

from __future__ import annotations

from typing import overload

import numpy as np
import torch


@overload
def around(x0: torch.Tensor, sigma: float, n: int, generator: torch.Generator, include_x0: bool = True) -> torch.Tensor: ...
@overload
def around(x0: np.ndarray, sigma: float, n: int, generator: np.random.Generator, include_x0: bool = True) -> np.ndarray: ...


def around(
    x0: torch.Tensor | np.ndarray,
    sigma: float,
    n: int,
    generator: torch.Generator | np.random.Generator,
    include_x0: bool = True,
) -> torch.Tensor | np.ndarray:
    """n points x0 + sigma·N(0, I), as an (n, D) matrix; the first row is x0 itself if ``include_x0``.

    ``x0`` is a torch vector with a torch generator on its device (the optimizers' case), or a
    NumPy vector with a NumPy generator (adapters whose library works in NumPy). The draws are one
    ``randn``/``standard_normal`` of shape (n, D) from ``generator``, in x0's dtype.
    """
    if isinstance(x0, torch.Tensor):
        assert isinstance(generator, torch.Generator)
        X = torch.randn((n, x0.numel()), generator=generator, dtype=x0.dtype, device=x0.device).mul_(sigma).add_(x0)
        if include_x0:
            X[0] = x0
        return X
    assert isinstance(generator, np.random.Generator)
    A = generator.standard_normal((n, x0.size), dtype=x0.dtype)
    A *= sigma
    A += x0
    if include_x0:
        A[0] = x0
    return A


def between_neighbours(x0: torch.Tensor, n: int, generator: torch.Generator, include_x0: bool = True) -> torch.Tensor:
    """n points whose every coordinate is drawn uniformly between the values of its neighbours in x0.

    The HBDE authors' first generation (arXiv 2408.07194): in the ``blocks`` space the coordinates
    are the means of the non-empty histogram bins in bin order, so x0 is ascending and block b is
    drawn between the means of blocks b-1 and b+1 (the first and the last block between their own
    mean and their one neighbour's). In any other space the neighbours are those of x0's values
    sorted (a stable sort, which leaves the blocks' order as it is). The draws are one ``rand`` of
    shape (n, D) from ``generator``, in x0's dtype and on x0's device; the first row is x0 itself
    if ``include_x0`` (the other rows do not depend on it).
    """
    D = x0.numel()
    values, order = torch.sort(x0, stable=True)
    low = torch.cat([values[:1], values[:-1]])
    high = torch.cat([values[1:], values[-1:]])
    U = torch.rand((n, D), generator=generator, dtype=x0.dtype, device=x0.device)
    X = torch.empty_like(U)
    X[:, order] = torch.lerp(low.expand(n, -1), high.expand(n, -1), U).clamp_(low, high)  # no rounding past a neighbour
    if include_x0:
        X[0] = x0
    return X
