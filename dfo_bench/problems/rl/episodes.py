"""Episodes of many policies played together: one batched forward per step, then each live
environment stepped in a Python loop.

gymnasium's vector API resets an environment by itself when its episode ends, which a fixed set of
seeded episodes does not want; a list of environments stepped in a loop gives the same rate (the
loop costs less than a CartPole step) and lets each episode end on its own. The forward runs on a
set of rows that holds every live one: when the live rows fall under ``COMPACT`` of that set the
policies of the live rows alone are gathered, so a long last episode does not pay a whole
population's forward per step, and the gathers stay few (each shrinks the set geometrically).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dfo_bench.problems.rl.environments import start
from dfo_bench.problems.rl.policies import PopulationPolicy

COMPACT = 0.5
"""Live share of the forward's rows under which they are gathered anew."""


@dataclass
class Played:
    returns: np.ndarray
    """(N,) undiscounted return of each episode (so far, where unfinished)."""
    finished: np.ndarray
    """(N,) bool: whether each episode ended (terminated, or truncated by its time limit)."""
    lengths: np.ndarray
    """(N,) steps each episode took."""
    steps: int
    states: torch.Tensor
    """(steps, observations) every state a policy acted on, for the running statistics."""


def play(
    envs: Sequence[Any],
    policy: PopulationPolicy,
    W: torch.Tensor,
    seeds: Sequence[int],
    normalize: Callable[[torch.Tensor], torch.Tensor],
    max_steps: int | None,
) -> Played:
    """Play one episode in each of ``envs`` (reset with ``seeds``), row i of W (N, D) acting in
    envs[i], taking at most ``max_steps`` steps in all (the first live rows step when fewer remain)."""
    N = W.shape[0]
    obs = np.stack([np.asarray(start(env, int(s))[0], dtype=np.float32).ravel() for env, s in zip(envs, seeds, strict=True)])
    returns, lengths = np.zeros(N), np.zeros(N, dtype=np.int64)
    live = np.ones(N, dtype=bool)
    layers, held = policy.layers(W), np.arange(N)
    """The forward's rows: ``held`` (indices into the N episodes) and their policies."""
    steps, states = 0, []
    while live.any():
        rows = np.flatnonzero(live)
        if max_steps is not None:
            rows = rows[: max_steps - steps]
            if len(rows) == 0:
                break
        if len(rows) < COMPACT * len(held):
            keep = torch.from_numpy(np.searchsorted(held, rows)).to(W.device)
            layers, held = policy.select(layers, keep), rows
        host = torch.from_numpy(obs[held])
        actions = policy.actions(policy.outputs(layers, normalize(host.to(W.device))))
        if len(rows) == len(held):
            at: Sequence[int] = range(len(rows))
            states.append(host)
        else:  # the live rows' states read from the NumPy copy: no index tensor made, no device copy
            at = np.searchsorted(held, rows).tolist()
            states.append(torch.from_numpy(obs[rows]))
        for i, a in zip(rows.tolist(), at, strict=True):
            o, reward, terminated, truncated, _ = envs[i].step(actions[a])
            obs[i] = np.asarray(o, dtype=np.float32).ravel()
            returns[i] += float(reward)
            if terminated or truncated:
                live[i] = False
        lengths[rows] += 1
        steps += len(rows)
    return Played(returns, ~live, lengths, steps, torch.cat(states) if states else torch.zeros(0, obs.shape[1]))
