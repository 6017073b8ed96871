"""Environment ids, checked before anything runs, and environments made from them.

gymnasium's registry is the catalogue (classic control and MuJoCo ship with it; MinAtar's games
are registered here when MinAtar is installed). An id is refused in one line: an unknown one with
its close matches, one whose simulator is not installed with the ``pip install`` that fixes it.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from functools import cache
from typing import Any

INSTALL = "pip install 'dfo-bench[rl]'"
MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
MINATAR_IDS = tuple(f"MinAtar/{game}-v{v}" for game in MINATAR_GAMES for v in (0, 1))
MINATAR_EPISODE_STEPS = 10_000
"""MinAtar's games have no time limit of their own (a good Breakout policy plays for ever): this
one bounds an episode, and so an evaluation's cost."""
SIMULATORS = {"gymnasium.envs.mujoco": ("mujoco", INSTALL), "gymnasium.envs.box2d": ("Box2D", "pip install 'gymnasium[box2d]'")}
"""Entry-point prefix -> (module the environments need, the install that brings it)."""


def gymnasium() -> Any:
    """The gymnasium module, with MinAtar's games registered when MinAtar is installed."""
    try:
        gym = importlib.import_module("gymnasium")
    except ImportError:
        raise ValueError(f"environment problems need gymnasium, which is not installed: {INSTALL}") from None
    _register_minatar(gym)
    return gym


@cache
def _register_minatar(gym: Any) -> None:
    if importlib.util.find_spec("minatar") is not None and "MinAtar/Breakout-v1" not in gym.registry:
        importlib.import_module("minatar.gym").register_envs()


def check_env(env_id: str) -> str:
    """``env_id`` if it can be made here; else a one-line ValueError naming the fix."""
    gym = gymnasium()
    if env_id in MINATAR_IDS and env_id not in gym.registry:
        raise ValueError(f"'{env_id}' needs MinAtar, which is not installed: {INSTALL}")
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, sorted({*gym.registry, *MINATAR_IDS}), n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else "; see gymnasium.pprint_registry()"
        raise ValueError(f"unknown environment '{env_id}'{hint}")
    entry = str(gym.spec(env_id).entry_point)
    for prefix, (module, install) in SIMULATORS.items():
        if entry.startswith(prefix) and importlib.util.find_spec(module) is None:
            raise ValueError(f"'{env_id}' needs {module}, which is not installed: {install}")
    return env_id


def episode_limit(env_id: str, max_episode_steps: int | None) -> int:
    """Steps after which an episode is truncated: the given limit, else the environment's own,
    else MinAtar's bound."""
    if max_episode_steps is not None:
        return max_episode_steps
    own = gymnasium().spec(env_id).max_episode_steps
    return MINATAR_EPISODE_STEPS if own is None else int(own)


def make(env_id: str, max_episode_steps: int) -> Any:
    """A fresh environment (gymnasium's time limit set to ``max_episode_steps``; no checker)."""
    return gymnasium().make(env_id, max_episode_steps=max_episode_steps, disable_env_checker=True)


def start(env: Any, seed: int, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
    """``env.reset(seed=seed)``, the episode starting as in a fresh environment. MinAtar repeats
    the previous action with probability 0.1 (sticky actions) and keeps that action across resets,
    so an episode's first steps would depend on what the same environment played before (found as
    population rollouts unequal to one-by-one ones): cleared to 0, a new game's, before each reset."""
    game = getattr(env.unwrapped, "game", None)
    if env.spec is not None and env.spec.id in MINATAR_IDS and game is not None:
        game.last_action = 0
    return env.reset(seed=seed, options=options)


@cache
def spaces_of(env_id: str) -> tuple[Any, Any]:
    """(observation space, action space) of ``env_id``, from one environment made and closed."""
    env = make(env_id, 1)
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()
