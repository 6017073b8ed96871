"""Population rollouts against the bare environment: environment steps per second at P = 64.

The bare rate is one gymnasium environment (made as the problem makes it) stepped in a loop with
actions drawn beforehand, reset with a fresh seed when an episode ends: what the simulator gives.
The population rate is ``ControlProblem.rollout`` on P candidates (the default 64-64 tanh MLP,
observation statistics on; ``--policy cnn --hidden 128`` MinAtar's network, statistics off), all
stepping together with one batched forward per step, timed over whole populations. The ratio is the share of the simulator's speed that the population path keeps
(the issue's target: ≥ 0.7). Run under the shared lock:

    flock /work/heavy.lock python benchmarks/bench_rollouts.py [--seconds 3]
    flock /work/heavy.lock python benchmarks/bench_rollouts.py --envs MinAtar/Breakout-v1 --policy cnn --hidden 128
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from dfo_bench.problems.rl import environments
from dfo_bench.problems.rl.problem import ControlProblem


def bare_rate(env_id: str, seconds: float) -> float:
    return step_rate(environments.make(env_id, environments.episode_limit(env_id, None)), seconds)


def step_rate(env: Any, seconds: float) -> float:
    """Steps per second of one environment with 256 random actions in a loop, reset with a new
    seed at each episode's end (also used by ``bench_atari.py``)."""
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(256)]
    env.reset(seed=0)
    steps, episodes, start = 0, 1, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            steps += 1
            if terminated or truncated:
                env.reset(seed=episodes)
                episodes += 1
    return steps / (time.perf_counter() - start)


def population_rate(env_id: str, params: dict[str, Any], population: int, seconds: float) -> tuple[float, float]:
    """(steps/s, mean episode length) of whole-population rollouts."""
    problem = ControlProblem.from_config({"env": env_id, **params}, 0, torch.device("cpu"))
    generator = torch.Generator().manual_seed(1)
    X = problem.initial_point() + 0.5 * torch.randn(population, problem.dim, generator=generator)
    problem.rollout(X, np.arange(population).reshape(-1, 1), None)  # environments made, caches warm
    steps, done, start, batch = 0, 0, time.perf_counter(), 1
    while time.perf_counter() - start < seconds:
        seeds = np.arange(population).reshape(-1, 1) + population * batch
        result = problem.rollout(X, seeds, None)
        steps, done, batch = steps + result.steps, done + result.episodes, batch + 1
    return steps / (time.perf_counter() - start), steps / max(done, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--envs", nargs="+", default=["Hopper-v5", "CartPole-v1"])
    parser.add_argument("--policy", choices=["mlp", "cnn", "linear"], default="mlp")
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 64])
    args = parser.parse_args()
    params = {"policy": args.policy, "hidden": args.hidden, "normalize": args.policy != "cnn"}
    torch.set_num_threads(1)
    print(f"P = {args.population}, 1 torch thread, {params}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'environment':<14} {'bare steps/s':>13} {'population steps/s':>19} {'ratio':>6} {'episode length':>15}")
    for env_id in args.envs:
        bare = bare_rate(env_id, args.seconds)
        rate, length = population_rate(env_id, params, args.population, args.seconds)
        print(f"{env_id:<14} {bare:>13,.0f} {rate:>19,.0f} {rate / bare:>6.2f} {length:>15,.0f}")


if __name__ == "__main__":
    main()
