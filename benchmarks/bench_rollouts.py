"""Population rollouts against the bare environment: environment steps per second at P = 64.

The bare rate is one gymnasium environment (made as the problem makes it) stepped in a loop with
actions drawn beforehand, reset with a fresh seed when an episode ends: what the simulator gives.
The population rate is ``ControlProblem.rollout`` on P candidates (the default 64-64 tanh MLP,
observation statistics on; ``--policy cnn --hidden 128`` MinAtar's network, statistics off), all
stepping together with one batched forward per step (on the CPU the compiled policy kernel), a
fresh batch of episode seeds each time. The two are timed in turns for ``--seconds``: a population
rollout, then the bare environment for as many steps as the rollout took, so that both see the
same load on a shared machine; the ratio (the issue's target: >= 0.7) is the median over the turns
of bare seconds / population seconds, the share of the simulator's speed the population path
keeps. Run under the shared lock:

    flock /work/heavy.lock python benchmarks/bench_rollouts.py [--seconds 6]
    flock /work/heavy.lock python benchmarks/bench_rollouts.py --envs MinAtar/Breakout-v1 --policy cnn --hidden 128
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from dfo_bench.problems.rl import environments
from dfo_bench.problems.rl.problem import ControlProblem

RATIO_TARGET = 0.7


ACTIONS = 256
"""Random actions drawn beforehand and played in a loop by the bare environment."""


def stepper(env: Any) -> Callable[[int], None]:
    """A function that steps ``env`` n more steps with random actions drawn beforehand, reset
    with a new seed at each episode's end: what the simulator gives, without a policy."""
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(ACTIONS)]
    env.reset(seed=0)
    episodes, t = 1, 0

    def step(n: int) -> None:
        nonlocal episodes, t
        for _ in range(n):
            _, _, terminated, truncated, _ = env.step(actions[t % ACTIONS])
            t += 1
            if terminated or truncated:
                env.reset(seed=episodes)
                episodes += 1

    return step


def step_rate(env: Any, seconds: float) -> float:
    """Steps per second of ``stepper(env)`` over ``seconds`` (also used by ``bench_atari.py``)."""
    step, steps, start = stepper(env), 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step(ACTIONS)
        steps += ACTIONS
    return steps / (time.perf_counter() - start)


def population_rollouts(env_id: str, params: dict[str, Any], population: int) -> Callable[[], tuple[int, int]]:
    """A function that plays one population rollout on a fresh batch of seeds: (steps, episodes)."""
    problem = ControlProblem.from_config({"env": env_id, **params}, 0, torch.device("cpu"))
    generator = torch.Generator().manual_seed(1)
    X = problem.initial_point() + 0.5 * torch.randn(population, problem.dim, generator=generator)
    batch = 0

    def play() -> tuple[int, int]:
        nonlocal batch
        result = problem.rollout(X, np.arange(population).reshape(-1, 1) + population * batch, None)
        batch += 1
        return result.steps, result.episodes

    return play


def compare(env_id: str, params: dict[str, Any], population: int, seconds: float) -> dict[str, float]:
    """Bare and population steps/s over ``seconds`` of turns, the median ratio of the turns, and
    the population's mean episode length."""
    bare = stepper(environments.make(env_id, environments.episode_limit(env_id, None)))
    rollout = population_rollouts(env_id, params, population)
    bare(rollout()[0])  # environments made, caches warm
    ratios, steps, episodes, bare_seconds, population_seconds = [], 0, 0, 0.0, 0.0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(ratios) < 3:
        t0 = time.perf_counter()
        taken, ended = rollout()
        t1 = time.perf_counter()
        bare(taken)
        t2 = time.perf_counter()
        ratios.append((t2 - t1) / (t1 - t0))
        steps, episodes = steps + taken, episodes + ended
        bare_seconds, population_seconds = bare_seconds + t2 - t1, population_seconds + t1 - t0
    return {
        "bare": steps / bare_seconds,
        "population": steps / population_seconds,
        "ratio": statistics.median(ratios),
        "length": steps / max(episodes, 1),
        "turns": len(ratios),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--population", type=int, default=64)
    parser.add_argument("--envs", nargs="+", default=["Hopper-v5", "CartPole-v1"])
    parser.add_argument("--policy", choices=["mlp", "cnn", "linear"], default="mlp")
    parser.add_argument("--hidden", type=int, nargs="*", default=[64, 64])
    args = parser.parse_args()
    params = {"policy": args.policy, "hidden": args.hidden, "normalize": args.policy != "cnn"}
    torch.set_num_threads(1)
    print(f"P = {args.population}, 1 torch thread, {params}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"{'environment':<20} {'bare steps/s':>13} {'population steps/s':>19} {'ratio':>6} {'episode length':>15} {'turns':>6}")
    ratios = {}
    for env_id in args.envs:
        r = compare(env_id, params, args.population, args.seconds)
        ratios[env_id] = r["ratio"]
        print(
            f"{env_id:<20} {r['bare']:>13,.0f} {r['population']:>19,.0f} {r['ratio']:>6.2f} {r['length']:>15,.0f} {r['turns']:>6}"
        )
    for env_id, ratio in ratios.items():
        print(
            f"target population / bare >= {RATIO_TARGET:g} on {env_id}: {'met' if ratio >= RATIO_TARGET else 'MISSED'} ({ratio:.2f})"
        )


if __name__ == "__main__":
    main()
