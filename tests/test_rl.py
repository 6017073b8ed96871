"""Reinforcement-learning problems: charged in environment steps, seeded episodes, one pass per population.

Real gymnasium environments (CartPole and Pendulum mostly; every id docs/rl.md lists plays once), tiny
budgets: every check runs in seconds.
"""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

gymnasium = pytest.importorskip("gymnasium")

from dfo_bench.budget import Budget, BudgetLimits  # noqa: E402
from dfo_bench.errors import BudgetExceeded, ConfigError  # noqa: E402
from dfo_bench.executors import SequentialExecutor, make_executor, run_suite  # noqa: E402
from dfo_bench.executors.plan import QUICK, plan_suite  # noqa: E402
from dfo_bench.objective import Objective  # noqa: E402
from dfo_bench.problems.rl import environments, policy_kernel  # noqa: E402
from dfo_bench.problems.rl.normalization import RunningNormalizer  # noqa: E402
from dfo_bench.problems.rl.policies import NONE, PopulationPolicy  # noqa: E402
from dfo_bench.problems.rl.problem import ControlProblem  # noqa: E402
from dfo_bench.runner import execute  # noqa: E402
from dfo_bench.spaces import FullSpace  # noqa: E402
from dfo_bench.store import ResultStore  # noqa: E402
from dfo_bench.suite import ExecutorConfig, load_suite  # noqa: E402
from dfo_bench.testing import searching, stored_outcomes  # noqa: E402
from tests.conftest import CLI, ENGINES, cli_env  # noqa: E402

CPU = torch.device("cpu")
CARTPOLE = {"env": "CartPole-v1", "policy": "linear"}
SUITE: dict[str, Any] = {
    "name": "rl",
    "problems": [{"name": "rl", "params": {**CARTPOLE, "val_episodes": 2, "test_episodes": 2}}],
    "optimizers": ["ars", {"name": "ga", "params": {"popsize": 8}}],
    "seeds": [0],
    "budget": {"steps": 3000},
    "checkpoints": 20,
}


def problem(**params: Any) -> ControlProblem:
    built = ControlProblem.from_config({**CARTPOLE, **params}, 0, CPU)
    assert isinstance(built, ControlProblem)
    return built


def population(p: ControlProblem, n: int, scale: float = 0.5, seed: int = 1) -> torch.Tensor:
    return p.initial_point() + scale * torch.randn(n, p.dim, generator=torch.Generator().manual_seed(seed))


def suite_file(tmp_path: Path, content: dict[str, Any]) -> Path:
    import yaml

    path = tmp_path / f"{content['name']}.yaml"
    path.write_text(yaml.safe_dump(content, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The results folder of SUITE run by the sequential executor."""
    root = tmp_path_factory.mktemp("rl-sequential")
    run_suite(load_suite(suite_file(root, SUITE)), root / "results", SequentialExecutor(), progress=False)
    return root / "results"


@pytest.mark.parametrize("engine", ENGINES)
def test_every_executor_stores_the_same_returns_as_sequential(engine: str, sequential: Path, tmp_path: Path) -> None:
    """Same seeds, same environment seeds, same returns, whichever engine plays the episodes."""
    pytest.importorskip({"process": "multiprocessing", "dask": "distributed", "submitit-local": "submitit"}[engine])
    suite = load_suite(suite_file(tmp_path, SUITE))
    run_suite(suite, tmp_path / engine, make_executor(ExecutorConfig(**ENGINES[engine]), suite), progress=False)
    a, b = stored_outcomes(sequential), stored_outcomes(tmp_path / engine)
    assert set(a["status"]) == {"ok"}, list(a["error"].unique())
    assert a["final_steps"].eq(3000).all() and a["final_episodes"].gt(0).all()
    pd = pytest.importorskip("pandas")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_the_report_counts_a_control_problem_in_environment_steps_and_episodes(tmp_path: Path) -> None:
    from dfo_bench import api
    from dfo_bench.report.targets import values_at_budget

    suite = load_suite(suite_file(tmp_path, SUITE))
    run_suite(suite, tmp_path / "results", SequentialExecutor(), progress=False)
    runs = api.results(tmp_path / "results")
    finals = runs.groupby("run_id").tail(1).set_index("run_id")
    at_end = values_at_budget(runs, "val_return", 1.0)  # the steps: budget bounds the runs
    assert at_end.notna().all() and at_end.to_dict() == finals["val_return"].to_dict()
    halfway = values_at_budget(runs, "val_return", 0.5)
    for run_id, value in halfway.items():
        trace = runs[runs["run_id"] == run_id]
        assert value == trace.loc[trace["steps"] <= 1500, "val_return"].iloc[-1]

    text = api.report(tmp_path / "results", tmp_path / "report", ["markdown"]).read_text()
    main = next(line for line in text.splitlines() if line.startswith("|") and "seeds ok / failed" in line)
    assert "| environment steps |" in main and "| episodes |" in main and "| samples |" not in main
    assert "ERT in environment steps to each" in text and "ERT in samples" not in text
    fixed_budget = text.split("### Fixed budget", 1)[1].split("###", 1)[0]
    rows = [line for line in fixed_budget.splitlines() if line.startswith("| ars") or line.startswith("| ga")]
    assert len(rows) == 2 and all(line.count("—") == 0 for line in rows), fixed_budget


TINY_PPO = {"n_steps": 128, "batch_size": 64, "n_epochs": 1}


class Tracked(gymnasium.Wrapper):
    """Says whether the environment was closed."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def tracked_environments(monkeypatch: pytest.MonkeyPatch) -> list[Tracked]:
    """Every environment made from now on (``environments.make``), each able to say whether it was closed."""
    made: list[Tracked] = []
    original = environments.make
    monkeypatch.setattr(environments, "make", lambda env_id, limit: made.append(Tracked(original(env_id, limit))) or made[-1])
    return made


@pytest.mark.parametrize("name", searching("weights") + searching("environment"))
def test_every_optimizer_on_an_rl_problem(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every weight-space optimizer and PPO runs on CartPole at a tiny budget, or the suite is
    refused at validation for a reason that holds: a gradient, or a training set to cut into
    super-batches (hbde's default), which an environment does not have. Every environment the run
    made is closed when it ends."""
    entry = {"name": name, "params": TINY_PPO} if name == "ppo" else name
    problem = (
        {"name": "rl", "params": {**SUITE["problems"][0]["params"], "policy": "mlp", "hidden": [8]}} if name == "ppo" else None
    )
    content = {**SUITE, "optimizers": [entry], "budget": {"steps": 1000}} | ({"problems": [problem]} if problem else {})
    try:
        suite = load_suite(suite_file(tmp_path, content))
    except ConfigError as refused:
        assert "needs gradients" in str(refused) or "no training set to cut into super-batches" in str(refused), str(refused)
        return
    made = tracked_environments(monkeypatch)
    result = execute(suite.runs[0])
    assert result.error is None, result.error
    last = result.trace[-1]
    assert last["steps"] == last["samples"] <= 1000 and last["episodes"] >= 1
    assert last["val_return"] == -last["val_loss"]
    assert made and all(env.closed for env in made)


def test_a_plan_closes_the_environments_its_calibration_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``run --plan`` builds each problem and steps every entry (PPO's training environment too)
    before it prints the estimate: everything it made is closed by then, as after a run."""
    problem = {"name": "rl", "params": {**SUITE["problems"][0]["params"], "policy": "mlp", "hidden": [8]}}
    content = {**SUITE, "problems": [problem], "optimizers": ["ars", {"name": "ppo", "params": TINY_PPO}]}
    suite = load_suite(suite_file(tmp_path, content))
    made = tracked_environments(monkeypatch)
    plan = plan_suite(suite, ResultStore(tmp_path / "out"), suite.config.executor, effort=QUICK)
    assert [(g.optimizer, g.error) for g in plan.groups if g.cost is None] == []
    assert len(made) > 2 and all(env.closed for env in made)


class Counting(gymnasium.Wrapper):
    """Counts the steps the environment really takes, and keeps the return of each episode it finishes."""

    taken = 0
    returns: ClassVar[list[float]] = []

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.running = 0.0

    def reset(self, **kwargs: Any) -> Any:
        self.running = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> Any:
        Counting.taken += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.running += float(reward)
        if terminated or truncated:
            Counting.returns.append(self.running)
        return obs, reward, terminated, truncated, info


def test_steps_charged_are_the_steps_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    made = environments.make
    monkeypatch.setattr(environments, "make", lambda env_id, limit: Counting(made(env_id, limit)))
    Counting.taken = 0
    p = problem(env="Pendulum-v1", episodes=2)  # 200-step episodes: the budget ends inside a population
    budget = Budget(BudgetLimits(steps=5000))
    objective = Objective(p, FullSpace(p.initial_point()), budget, None)
    X = population(p, 6)
    objective.evaluate(X)
    assert budget.steps == Counting.taken == 6 * 2 * 200 and budget.episodes == 12 and budget.usage.evaluations == 6
    objective.evaluate(X[:2])
    with pytest.raises(BudgetExceeded, match="inside this population"):
        objective.evaluate(X)
    assert budget.steps == Counting.taken == 5000 and budget.usage.samples == 5000
    # the 1,800 steps left went 12 at a time to the 12 episodes stepping together: none ended, none told
    assert budget.usage.evaluations == 6 + 2 and budget.episodes == 12 + 4
    with pytest.raises(BudgetExceeded):
        objective.evaluate(X)
    assert Counting.taken == 5000


def test_early_ends_are_charged_their_own_length() -> None:
    p = problem(normalize=False)
    budget = Budget(BudgetLimits(steps=100_000))
    objective = Objective(p, FullSpace(p.initial_point()), budget, None)
    objective.evaluate(population(p, 16))
    assert 16 <= budget.steps < 16 * 500 and budget.episodes == 16


LISTED = [
    "CartPole-v1",
    "Acrobot-v1",
    "Pendulum-v1",
    "MountainCarContinuous-v0",
    *(f"{name}-v5" for name in ("Swimmer", "Hopper", "HalfCheetah", "Walker2d", "Ant")),
    *(f"MinAtar/{game}-v1" for game in environments.MINATAR_GAMES),
]
"""The environment ids docs/rl.md lists."""


@pytest.mark.parametrize("env", LISTED)
def test_every_listed_environment_plays_a_population_charged_in_steps(env: str) -> None:
    """Each id docs/rl.md lists makes a problem whose linear policies fit its spaces and whose
    population plays its episodes to their end (at most 20 steps here), every step charged."""
    pytest.importorskip("minatar" if env.startswith("MinAtar/") else "mujoco" if env.endswith("-v5") else "gymnasium")
    p = problem(env=env, max_episode_steps=20, val_episodes=1, test_episodes=1)
    budget = Budget(BudgetLimits(steps=10_000))
    objective = Objective(p, FullSpace(p.initial_point()), budget, None)
    losses = objective.evaluate(population(p, 4, scale=0.1))
    assert losses.shape == (4,) and bool(torch.isfinite(losses).all())
    assert 4 <= budget.steps <= 4 * 20 and budget.episodes == 4


def test_every_optimizer_meets_the_same_seeds_at_the_same_evaluation_index() -> None:
    p = problem()
    one, two = (Objective(p, FullSpace(p.initial_point()), Budget(BudgetLimits(steps=10**6)), None) for _ in range(2))
    drawn = one.episode_seeds(7) + one.episode_seeds(3)
    assert drawn == two.episode_seeds(10)
    assert all(0 <= s < 2**31 for s in drawn) and len(set(drawn)) == 10
    other_seed = ControlProblem.from_config(CARTPOLE, 1, CPU)
    assert Objective(other_seed, FullSpace(p.initial_point()), Budget(BudgetLimits(steps=1)), None).episode_seeds(10) != drawn


MINATAR_CNN = {"env": "MinAtar/SpaceInvaders-v1", "policy": "cnn", "hidden": [8], "normalize": False, "max_episode_steps": 200}


@pytest.mark.parametrize(
    "params",
    [
        {"policy": "mlp"},
        {"policy": "mlp", "hidden": [20, 37]},
        {"policy": "linear", "normalize": False},
        {"env": "Pendulum-v1", "policy": "linear"},
        {"env": "Pendulum-v1", "policy": "mlp", "hidden": [33]},
        MINATAR_CNN,
    ],
)
def test_population_rollouts_equal_one_by_one_rollouts(params: dict[str, Any]) -> None:
    """One pass over the population (on CartPole and MinAtar ragged episode ends, compacted rows;
    Pendulum's episodes all last 200 steps) gives each candidate the return it gets alone; the
    statistics are frozen while a population plays."""
    p = problem(**params)
    X = population(p, 12)
    seeds = np.arange(24).reshape(12, 2)
    state = p.state()
    together = p.rollout(X, seeds, None)
    alone = []
    for i in range(12):
        p.load_state(state)
        alone.append(p.rollout(X[i : i + 1], seeds[i : i + 1], None).losses)
    torch.testing.assert_close(together.losses, torch.cat(alone), rtol=0, atol=0)
    assert bool(together.finished.all())
    assert len({float(v) for v in together.losses}) > 1, "the candidates should score differently"
    if p.params.env == "CartPole-v1":  # a return is the episode's length: ragged ends, compacted rows
        assert together.steps < 24 * 500 and len({float(v) for v in together.losses}) > 6


@pytest.mark.parametrize("params", [{"policy": "mlp", "hidden": [5, 4]}, MINATAR_CNN | {"hidden": [6, 5]}])
def test_a_policy_is_the_torch_network_of_its_weight_vector(params: dict[str, Any]) -> None:
    """Member i's outputs are those of ``nn.Sequential`` (Conv2d, ReLU, Flatten, Linear, ReLU, ...,
    Linear for cnn; Linear, Tanh, ..., Linear for mlp) given row i by ``vector_to_parameters``,
    the layout stable-baselines3's actor and a user's own torch code expect."""
    policy = problem(**params).policy
    X = torch.randn(4, policy.dim, generator=torch.Generator().manual_seed(0))
    obs = torch.rand(4, policy.observations, generator=torch.Generator().manual_seed(1))
    hidden, nn = params["hidden"], torch.nn
    if policy.grid is None:
        sizes, activation, stem = [policy.observations, *hidden], nn.Tanh, []
    else:
        (height, width, channels), filters = policy.grid, 16
        sizes, activation = [filters * (height - 2) * (width - 2), *hidden], nn.ReLU
        stem = [nn.Conv2d(channels, filters, 3), nn.ReLU(), nn.Flatten()]
    head = [m for a, b in itertools.pairwise(sizes) for m in (nn.Linear(a, b), activation())]
    net = nn.Sequential(*stem, *head, nn.Linear(sizes[-1], policy.action.n))
    expected = []
    for i in range(4):
        nn.utils.vector_to_parameters(X[i], net.parameters())
        x = obs[i : i + 1] if policy.grid is None else obs[i].view(1, *policy.grid).permute(0, 3, 1, 2)
        expected.append(net(x).detach())
    torch.testing.assert_close(policy.outputs(policy.layers(X), obs), torch.cat(expected), rtol=1e-4, atol=1e-5)
    assert policy.initial_point(torch.Generator().manual_seed(0)).shape == (policy.dim,)
    assert policy.layout().dim == policy.dim


def built_kernel() -> Any:
    kernel = policy_kernel.load()
    assert kernel is not None, "the policy kernel did not build (a C++ compiler and ninja are test requirements)"
    return kernel


def raw_outputs(layers: Any, obs: np.ndarray, held: np.ndarray, stats: Any) -> torch.Tensor:
    """The kernel's outputs before argmax and clipping."""
    run = PopulationPolicy.compiled(built_kernel(), layers, obs, held, stats, False, None)
    run()
    return run.actions.clone()


@pytest.mark.parametrize(
    "params",
    [
        {"policy": "mlp"},
        {"policy": "mlp", "hidden": [20, 37]},
        {"policy": "linear", "normalize": False},
        {"env": "Pendulum-v1", "policy": "mlp", "hidden": [33]},
    ],
    ids=["64-64", "20-37", "linear", "pendulum-33"],
)
def test_the_compiled_forward_equals_the_torch_forward(params: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """On the CPU a rollout's policies run in the compiled kernel: its outputs equal torch's batched
    forward to float rounding (Eigen's rational tanh, sums in another order), its actions are
    torch's wherever the two largest outputs are not within rounding of each other (the box's
    clipping included), and a row's action is the same whichever rows share the forward."""
    p = problem(**params)
    policy, rng = p.policy, np.random.default_rng(0)
    layers = policy.layers(population(p, 24, scale=1.0))
    obs = (3 * rng.standard_normal((30, policy.observations))).astype(np.float32)
    held = np.sort(rng.choice(30, size=24, replace=False))
    stats = None
    if params.get("normalize", True):
        stats = (torch.from_numpy(rng.standard_normal(policy.observations).astype(np.float32)),
                 torch.from_numpy(rng.uniform(0.5, 2, policy.observations).astype(np.float32)))  # fmt: skip
    host = torch.from_numpy(obs[held])
    expected = policy.outputs(layers, host if stats is None else (host - stats[0]) / stats[1])
    torch.testing.assert_close(raw_outputs(layers, obs, held, stats), expected, rtol=1e-5, atol=1e-5)
    compiled = policy.bind(layers, obs, held, stats)()
    for i in range(len(held)):
        alone = policy.bind(policy.select(layers, torch.tensor([i])), obs, held[i : i + 1], stats)()
        assert np.array_equal(alone, compiled[i : i + 1]), f"row {i} acts otherwise among other rows"
    monkeypatch.setattr(policy_kernel, "load", lambda: None)
    through_torch = policy.bind(layers, obs, held, stats)()
    if policy.action.discrete:
        top = expected.topk(2, dim=1).values
        decided = (top[:, 0] - top[:, 1] > 1e-4).numpy()
        assert decided.sum() > len(held) // 2 and np.array_equal(compiled[decided], through_torch[decided])
    else:
        assert policy.action.high is not None and (expected.numpy() > policy.action.high).any(), "nothing clipped"
        np.testing.assert_allclose(compiled, through_torch, rtol=1e-5, atol=1e-5)


def test_the_compiled_tanh_is_torch_tanh_to_float_rounding() -> None:
    """A row whose input x is copied to 17 hidden units (weights 1), then read from the first and
    the last: the kernel's tanh of x, in a vectorised lane and in the scalar rest. Both are the
    same float and within a relative 3e-7 (4 ulps) of torch's tanh from −20 to 20 (tiny inputs, the clamp's
    neighbourhood and ±inf included); NaN stays NaN. Argmax takes the first NaN, as torch's."""
    x = torch.cat(
        [
            torch.linspace(-20, 20, 4001),
            torch.tensor([1e-30, -3e-4, 4e-4, 7.9, 7.999, 8, float("inf"), -float("inf"), float("nan")]),
        ]
    )
    m, width = len(x), 17
    pick = torch.zeros(width, 2)
    pick[0, 0] = pick[-1, 1] = 1
    W = [torch.ones(m, 1, width), pick.expand(m, width, 2).contiguous()]
    run = built_kernel().Forward(x.unsqueeze(1).contiguous(), torch.arange(m), NONE, NONE, W, [NONE, NONE], False, NONE, NONE)
    run()
    vectorised, rest = run.actions[:, 0], run.actions[:, 1]
    torch.testing.assert_close(vectorised, rest, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(vectorised, torch.tanh(x), rtol=3e-7, atol=1e-12, equal_nan=True)
    bias = torch.tensor([[[1.0, float("nan"), 2.0, float("nan")]], [[1.0, 3.0, 2.0, -1.0]]])
    argmax = built_kernel().Forward(
        torch.zeros(2, 1), torch.arange(2), NONE, NONE, [torch.zeros(2, 1, 4)], [bias], True, NONE, NONE
    )
    argmax()
    assert argmax.actions.tolist() == bias.squeeze(1).argmax(dim=1).tolist() == [1, 1]


def test_the_compiled_forward_refuses_tensors_it_cannot_read() -> None:
    """The kernel reads raw memory: a float64 observation, a row outside the observations, weights
    for another number of rows or inputs, a bias of another width, bounds on an argmax or bounds of
    another width are refused with a message when the forward is bound, never read."""
    Forward = built_kernel().Forward
    obs, held = torch.zeros(4, 3), torch.arange(2)
    W, b = [torch.zeros(2, 3, 5), torch.zeros(2, 5, 2)], [torch.zeros(2, 1, 5), NONE]
    Forward(obs, held, NONE, NONE, W, b, True, NONE, NONE)()
    refused = {
        "obs: expected": (obs.double(), held, W, b, True, NONE),
        "held row 4 outside": (obs, torch.tensor([0, 4]), W, b, True, NONE),
        "weights for 3 rows": (obs, held, [torch.zeros(3, 3, 5), W[1]], b, True, NONE),
        "weights for 4 inputs": (obs, held, [W[0], torch.zeros(2, 4, 2)], b, True, NONE),
        "bias": (obs, held, W, [torch.zeros(2, 1, 4), NONE], True, NONE),
        "argmax takes no bounds": (obs, held, W, b, True, torch.zeros(2)),
        "must bound 2 outputs": (obs, held, W, b, False, torch.zeros(3)),
    }
    for what, (o, h, weights, biases, argmax, bound) in refused.items():
        with pytest.raises(RuntimeError, match=what):
            Forward(o, h, NONE, NONE, weights, biases, argmax, bound, bound)


def test_metrics_are_held_out_and_learn_nothing() -> None:
    p = problem()
    p.rollout(population(p, 4), np.arange(4).reshape(4, 1), None)
    state = p.state()
    x = population(p, 1)[0]
    first = {split: p.metrics(x, split) for split in ("train", "val", "test")}
    assert first == {split: p.metrics(x, split) for split in ("train", "val", "test")}
    assert all(torch.equal(state[k], v) for k, v in p.state().items())
    assert (p._metric_seeds["val"] >= 2**31).all() and (p._metric_seeds["train"] < 2**31).all()


def test_running_statistics_match_numpy() -> None:
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3, 2, size=(n, 5)) for n in (1, 7, 100)]
    norm = RunningNormalizer(5)
    for chunk in chunks:
        norm.update(torch.from_numpy(chunk))
    states = np.concatenate(chunks)
    obs = torch.from_numpy(rng.normal(size=(3, 5))).float()
    expected = (obs.numpy() - states.mean(0)) / states.std(0)
    np.testing.assert_allclose(norm(obs).numpy(), expected, rtol=1e-5)
    assert torch.equal(RunningNormalizer(5)(obs), obs)  # the identity before any state


class MultiDiscreteEnv(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1, 1, (2,))
    action_space = gymnasium.spaces.MultiDiscrete([2, 3])


BAD: dict[str, tuple[dict[str, Any], str, list[str]]] = {
    # case: (changes to SUITE's problem params or the suite, the field the line names, words it must contain)
    "unknown env": ({"env": "CartPol-v1"}, "problems[0].params.env", ["unknown environment 'CartPol-v1'", "'CartPole-v1'"]),
    "unknown MinAtar game": ({"env": "MinAtar/Breakout-v9"}, "problems[0].params.env", ["'MinAtar/Breakout-v1'"]),
    "observations not a box": ({"env": "FrozenLake-v1"}, "problems[0].params", ["Discrete(16)", "Box of observations"]),
    "action space no policy fits": (
        {"env": "DfoBench/MultiDiscrete-v0"},
        "problems[0].params",
        ["MultiDiscrete", "allowed: Discrete"],
    ),
    "unknown policy": ({"policy": "rnn"}, "problems[0].params.policy", ["'linear', 'mlp' or 'cnn'"]),
    "cnn on a state vector": ({"policy": "cnn"}, "problems[0].params", ["policy: cnn reads a grid", "shape (4,)"]),
    "steps under one evaluation": (
        {"suite": {"budget": {"steps": 999}}, "episodes": 2},
        "budget.steps",
        ["1,000", "at least 1,000"],
    ),
    "samples under one evaluation": ({"suite": {"budget": {"samples": 499}}}, "budget.samples", ["at least 500"]),
    "ppo on a linear policy": ({"suite": {"optimizers": ["ppo"]}}, "optimizers[0]", ["'ppo' trains a policy", "use policy: mlp"]),
    "ppo without an environment": (
        {"suite": {"optimizers": ["ppo"], "problems": [{"name": "sphere", "params": {"dim": 2}}], "budget": {"evaluations": 10}}},
        "optimizers[0]",
        ["it has no environment"],
    ),
    "steps without an environment": (
        {"suite": {"problems": [{"name": "sphere", "params": {"dim": 2}}]}},
        "budget.steps",
        ["no environment", "allowed: evaluations, samples, seconds"],
    ),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_rl_input_is_one_line_at_validation(case: str, tmp_path: Path) -> None:
    if "DfoBench/MultiDiscrete-v0" not in gymnasium.registry:
        gymnasium.register("DfoBench/MultiDiscrete-v0", entry_point=MultiDiscreteEnv)
    changes, field, words = BAD[case]
    changes = dict(changes)
    suite = {**SUITE, **changes.pop("suite", {})}
    if suite["problems"] == SUITE["problems"]:
        suite["problems"] = [{"name": "rl", "params": {**CARTPOLE, **changes}}]
    path = suite_file(tmp_path, suite)
    with pytest.raises(ConfigError) as refused:
        load_suite(path)
    line = str(refused.value)
    assert "\n" not in line and line.startswith(f"{path}: {field}:"), line
    for word in words:
        assert word in line, line


def test_missing_simulator_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    found = environments.importlib.util.find_spec
    monkeypatch.setattr(environments.importlib.util, "find_spec", lambda name: None if name == "mujoco" else found(name))
    with pytest.raises(ValueError, match=r"'Hopper-v5' needs mujoco, which is not installed: pip install 'dfo-bench\[rl\]'"):
        environments.check_env("Hopper-v5")


def test_bad_env_through_the_cli_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    import subprocess

    path = suite_file(tmp_path, {**SUITE, "problems": [{"name": "rl", "params": {"env": "Hoper-v5"}}]})
    before = sorted(tmp_path.rglob("*"))
    cli = subprocess.run([*CLI, "run", str(path)], capture_output=True, text=True, env=cli_env(), cwd=tmp_path)
    assert cli.returncode == 2 and cli.stdout == ""
    lines = [line for line in cli.stderr.splitlines() if "Warning" not in line and line.strip()]
    assert len(lines) == 1 and "unknown environment 'Hoper-v5'" in lines[0] and "'Hopper-v5'" in lines[0], cli.stderr
    assert sorted(tmp_path.rglob("*")) == before


def ppo_steps(steps: int, between: Any = None) -> torch.Tensor:
    """The actor after ``steps`` PPO steps on CartPole (8 tanh units), ``between()`` called after each."""
    from dfo_bench.optimizers.base import SearchDomain
    from dfo_bench.optimizers.ppo import PPO

    p = problem(policy="mlp", hidden=[8])
    objective = Objective(p, FullSpace(p.initial_point()), Budget(BudgetLimits(steps=10_000)), None)
    ppo = PPO.from_config(SearchDomain(p.initial_point()), np.random.default_rng(0), TINY_PPO)
    for _ in range(steps):
        ppo.step(objective)
        if between is not None:
            between()
    return ppo.recommend()


def global_states() -> tuple[Any, ...]:
    import random

    return random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state()  # noqa: NPY002


def test_ppo_keeps_its_randomness_out_of_the_process_global_generators() -> None:
    """stable-baselines3 seeds and draws from the global generators (Python's, NumPy's, torch's):
    PPO leaves them as it found them, and what other code draws from them between its steps does
    not change its run."""
    pytest.importorskip("stable_baselines3")
    import random

    torch.manual_seed(5), np.random.seed(5), random.seed(5)  # noqa: NPY002
    before = global_states()
    alone = ppo_steps(2)
    after = global_states()
    assert before[:2] == after[:2] and torch.equal(before[2], after[2])

    def disturb() -> None:
        torch.manual_seed(123), np.random.seed(123), random.seed(123)  # noqa: NPY002
        torch.rand(10), np.random.rand(10), random.random()  # noqa: NPY002

    assert torch.equal(ppo_steps(2, disturb), alone)


def test_ppo_is_charged_every_step_it_takes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """PPO's own rollouts go through the objective: charged step by step, stopped exactly at the
    budget, its episodes counted and their losses seen (``best_seen_loss``), and its actor is the
    problem's policy (same start, same layout: the same outputs and actions). It leaves nothing in
    the temporary folder (stable-baselines3's default logger makes a folder there at every ``learn``)."""
    pytest.importorskip("stable_baselines3")
    # torch._dynamo's first import (at an optimizer's first step) makes torch's one compile-cache folder in tempdir
    import torch._dynamo

    from dfo_bench.optimizers.base import SearchDomain
    from dfo_bench.optimizers.ppo import PPO

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    made = environments.make
    monkeypatch.setattr(environments, "make", lambda env_id, limit: Counting(made(env_id, limit)))
    p = problem(policy="mlp", hidden=[8])
    budget = Budget(BudgetLimits(steps=300))
    objective = Objective(p, FullSpace(p.initial_point()), budget, None)
    ppo = PPO.from_config(SearchDomain(p.initial_point()), np.random.default_rng(0), TINY_PPO)
    model = ppo._build(objective)  # the actor PPO trains, before any update
    obs = torch.randn(32, p.policy.observations, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        theirs = model.policy.action_net(model.policy.mlp_extractor.policy_net(obs))
    ours = p.policy.outputs(p.policy.layers(p.initial_point().repeat(32, 1)), obs)
    assert torch.allclose(theirs, ours, atol=1e-6)
    assert model.predict(obs.numpy(), deterministic=True)[0].tolist() == p.policy.actions(ours).tolist()
    Counting.taken, Counting.returns = 0, []
    with pytest.raises(BudgetExceeded):
        for _ in range(10):
            ppo.step(objective)
    assert budget.steps == Counting.taken == 300 and budget.episodes == len(Counting.returns) >= 1
    assert objective.best_seen[0] == -max(Counting.returns)
    assert ppo.recommend().shape == (p.dim,) and not torch.equal(ppo.recommend(), p.initial_point())
    assert list(tmp_path.iterdir()) == []
