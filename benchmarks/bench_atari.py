"""ALE or MinAtar for the Atari-like problems: what an environment step and a population's policy cost.

The issue leaves the Atari-like set to measurement: MinAtar, or the real Atari 2600 games through
ale-py if that is practical on 2 cores. This prints, in one run on the CPU:

* the bare step rate (``bench_rollouts.step_rate``) of ``ALE/Breakout-v5`` as Deep GA and OpenAI-ES play it (frame skip 4 inside
  the emulator, sticky actions 0.25, then the DQN preprocessing: 84 × 84 grayscale, 4 frames
  stacked; ``gymnasium.wrappers.AtariPreprocessing`` and ``FrameStackObservation``), and of
  ``MinAtar/Breakout-v1`` (a 10 × 10 × 4 grid), both stepped with random actions;
* the seconds of one population forward per step at P members, each with its own weights (one
  grouped convolution per layer, as ``policy: cnn`` does): the DQN / Deep GA network (Mnih et al.
  2015: 8 × 8 / 4 with 32 filters, 4 × 4 / 2 with 64, 3 × 3 / 1 with 64, a 512 ReLU layer) on the
  Atari frames, and MinAtar's network (3 × 3 with 16 filters, a 128 ReLU layer) on its grids;
* from these, the hours of one 1,000,000-step run on this machine (environment steps one after
  another on one core, policy forwards on ``--threads`` threads, each step sharing the forward
  with P − 1 other members) and the memory of the population's weights (P × D floats).

Needs ale-py, which no extra of dfo-bench installs (its games ship in the wheel):

    pip install ale-py
    flock /work/heavy.lock .venv/bin/python benchmarks/bench_atari.py [--seconds 3] [--population 64]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from bench_rollouts import step_rate
from tabulate import tabulate

from dfo_bench.problems.rl import environments

STEPS_PER_RUN = 1_000_000

Layers = list[tuple[torch.Tensor, torch.Tensor, int]]
"""Per convolution: weights (P·out, in, k, k), biases (P·out,), stride."""


def atari(env_id: str) -> gym.Env:
    """The Atari game as Deep GA / OpenAI-ES play it: frame skip 4, sticky actions, 84 × 84 × 4."""
    env = gym.make(env_id, frameskip=1, repeat_action_probability=0.25)
    env = gym.wrappers.AtariPreprocessing(env, frame_skip=4, screen_size=84, grayscale_obs=True, noop_max=30)
    return gym.wrappers.FrameStackObservation(env, 4)


def minatar(env_id: str) -> gym.Env:
    """The MinAtar game as the ``rl`` problem makes it (MinAtar's registration, the episode limit)."""
    return environments.make(env_id, environments.episode_limit(env_id, None))


def population_cnn(P: int, channels: int, convolutions: list[tuple[int, int, int]], side: int, hidden: int, actions: int):  # type: ignore[no-untyped-def]
    """A forward of P distinct CNNs on P observations (1, P·channels, side, side), and D per member."""
    generator = torch.Generator().manual_seed(0)
    layers: Layers = []
    c, s = channels, side
    for out, k, stride in convolutions:
        layers.append((torch.randn(P * out, c, k, k, generator=generator) * 0.05, torch.zeros(P * out), stride))
        c, s = out, (s - k) // stride + 1
    flat = c * s * s
    W1, W2 = torch.randn(P, hidden, flat, generator=generator) * 0.01, torch.randn(P, actions, hidden, generator=generator) * 0.05
    dim = sum(w[0].numel() + w[1].numel() for w in layers) // P + flat * hidden + hidden + hidden * actions + actions

    def forward(x: torch.Tensor) -> torch.Tensor:
        h = x
        for weight, bias, stride in layers:
            h = F.relu(F.conv2d(h, weight, bias, stride=stride, groups=P))
        h = F.relu(torch.bmm(W1, h.view(P, flat, 1)))
        return torch.bmm(W2, h).argmax(dim=1)

    return forward, dim


def forward_seconds(forward: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, seconds: float) -> float:
    """Median seconds of one population forward, over ``seconds`` of repeats."""
    forward(x)
    times, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        with torch.no_grad():
            forward(x)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each measurement (default 3)")
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    try:
        import ale_py
    except ImportError:
        print("bench_atari.py needs ale-py: pip install ale-py", file=sys.stderr)
        sys.exit(2)
    gym.register_envs(ale_py)

    torch.set_num_threads(args.threads)
    P = args.population
    print(f"ale-py {ale_py.__version__}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; P = {P}; {args.threads} threads")
    nature, atari_dim = population_cnn(P, 4, [(32, 8, 4), (64, 4, 2), (64, 3, 1)], 84, 512, 4)
    small, minatar_dim = population_cnn(P, 4, [(16, 3, 1)], 10, 128, 3)
    cases = {
        "ALE/Breakout-v5 (84 x 84 x 4), Nature CNN": (atari("ALE/Breakout-v5"), nature, torch.rand(1, P * 4, 84, 84), atari_dim),
        "MinAtar/Breakout-v1 (10 x 10 x 4), MinAtar CNN": (minatar("MinAtar/Breakout-v1"), small, torch.rand(1, P * 4, 10, 10), minatar_dim),
    }
    rows = []
    for name, (env, forward, x, dim) in cases.items():
        rate = step_rate(env, args.seconds)
        per_forward = forward_seconds(forward, x, args.seconds)
        per_step = 1 / rate + per_forward / P
        rows.append(
            {
                "environment, policy": name,
                "bare steps/s": round(rate),
                "population forward (ms)": round(per_forward * 1e3, 2),
                "D per member": dim,
                "P x D weights (MiB)": round(P * dim * 4 / 2**20),
                "hours per 1M steps": round(STEPS_PER_RUN * per_step / 3600, 2),
            }
        )
        print(rows[-1], flush=True)
    print(tabulate(rows, headers="keys"))


if __name__ == "__main__":
    main()
