"""Episodes of many policies played together: one batched forward per step, then each live
environment stepped in a Python loop.

gymnasium's vector API resets an environment by itself when its episode ends, which a fixed set of
seeded episodes does not want; a list of environments stepped in a loop gives the same rate (the
loop costs less than a CartPole step) and lets each episode end on its own. The forward runs on a
set of rows that holds every live one: when the live rows fall under ``COMPACT`` of that set the
policies of the live rows alone are gathered, so a long last episode does not pay a whole
population's forward per step, and the gathers stay few (each shrinks the set geometrically).
The forward is bound to its rows once per gather (``PopulationPolicy.bind``; on the CPU the
compiled kernel) and reads the observations in place; the loop's own bookkeeping is Python lists,
since most steps of a ragged population step one or two environments, where a NumPy call costs
more than the work it does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dfo_bench.problems.rl.environments import start
from dfo_bench.problems.rl.normalization import RunningNormalizer
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
    normalizer: RunningNormalizer | None,
    max_steps: int | None,
) -> Played:
    """Play one episode in each of ``envs`` (reset with ``seeds``), row i of W (N, D) acting in
    envs[i] on observations normalised by ``normalizer``'s statistics (frozen while playing),
    taking at most ``max_steps`` steps in all (the first live rows step when fewer remain)."""
    N = W.shape[0]
    observed = np.stack([np.asarray(start(env, int(s))[0], dtype=np.float32) for env, s in zip(envs, seeds, strict=True)])
    obs = observed.reshape(N, -1)
    """``observed``'s memory as one row per environment: a step's observation is written into
    ``observed`` in its own shape, the policies read ``obs``."""
    stats = None if normalizer is None else normalizer.frozen(W.device)
    returns, lengths, finished = [0.0] * N, [0] * N, [False] * N
    rows, at, live = list(range(N)), list(range(N)), np.arange(N)
    """The live episodes, ascending (``live`` as an array), and where each is among the forward's rows."""
    layers, held = policy.layers(W), live
    """The forward's rows: ``held`` (indices into the N episodes) and their policies."""
    forward = policy.bind(layers, obs, held, stats)
    steps, states = 0, []
    while rows:
        stepping = rows if max_steps is None or len(rows) <= max_steps - steps else rows[: max_steps - steps]
        if not stepping:
            break
        if len(rows) < COMPACT * len(held):
            layers = policy.select(layers, torch.tensor(at, device=W.device))
            held, at = live, list(range(len(rows)))
            forward = policy.bind(layers, obs, held, stats)
        actions = forward()
        states.append(obs[live[: len(stepping)]])
        ended = False
        for i, a in zip(stepping, at, strict=False):  # ``at`` runs on past a budget-cut ``stepping``
            o, reward, terminated, truncated, _ = envs[i].step(actions[a])
            observed[i] = o
            returns[i] += float(reward)
            lengths[i] += 1
            if terminated or truncated:
                finished[i] = ended = True
        steps += len(stepping)
        if ended:
            kept = [k for k, i in enumerate(rows) if not finished[i]]
            rows, at, live = [rows[k] for k in kept], [at[k] for k in kept], live[kept]
    return Played(
        np.array(returns),
        np.array(finished),
        np.array(lengths, dtype=np.int64),
        steps,
        torch.from_numpy(np.concatenate(states)) if states else torch.zeros(0, obs.shape[1]),
    )
