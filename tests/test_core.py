"""The core a user relies on: one objective and one loop, vector losses, device-resident
populations, run identity that survives moves and additions, and no global state touched."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.conformance import OptimizerCase, OptimizerOnDevice
from dfo_bench.executors import SequentialExecutor, pending_runs, run_suite
from dfo_bench.loop import optimize
from dfo_bench.losses import FEW, any_nan, lowest
from dfo_bench.moves import dense
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import AskTellOptimizer, SearchDomain
from dfo_bench.optimizers.de import DEParams, DifferentialEvolution
from dfo_bench.params import ParamsModel
from dfo_bench.problems.base import Problem
from dfo_bench.registry import optimizers, problems
from dfo_bench.spaces import BlockSpace, FullSpace
from dfo_bench.store import ResultStore, git_commit
from dfo_bench.suite import load_suite
from dfo_bench.testing import run_ok, run_spec, searching

from .conftest import fake_mnist

CPU = torch.device("cpu")
DATA = Path(__file__).parent / "data"


# --- vector losses -------------------------------------------------------------------------------


class TwoSpheres(Problem):
    """Two objectives, |x − 1|² and |x + 1|²: every point between the two centres is Pareto-optimal."""

    name = "two-spheres"
    description = "two shifted spheres"
    n_objectives = 2
    has_data = False

    @property
    def dim(self) -> int:
        return 4

    @property
    def train_size(self) -> None:
        return None

    def initial_point(self) -> torch.Tensor:
        return torch.full((4,), 3.0, device=self.device)

    def _evaluate(self, X: torch.Tensor, batch: torch.Tensor | None) -> torch.Tensor:
        return torch.stack([((X - 1) ** 2).sum(1), ((X + 1) ** 2).sum(1)], dim=1)

    def metrics(self, x: torch.Tensor, split: str) -> dict[str, float]:
        f = self._evaluate(x.unsqueeze(0), None)[0]
        return {"loss_1": float(f[0]), "loss_2": float(f[1])}


class RandomArchive(AskTellOptimizer):
    """Gaussian samples around a random member of the non-dominated archive (any number of objectives)."""

    name = "random-archive"
    description = "multi-objective random search"
    objectives: ClassVar[int | None] = None

    def __init__(self, search: SearchDomain, rng: np.random.Generator, params: ParamsModel) -> None:
        super().__init__(search, rng, params)
        self.archive: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.told: list[tuple[int, ...]] = []
        self._generator = self.torch_generator()

    @property
    def popsize(self) -> int:
        return 6

    def _ask(self, n: int) -> torch.Tensor:
        centre = self.archive[int(self.rng.integers(len(self.archive)))][0] if self.archive else self.x0
        return centre + torch.randn(n, self.dim, generator=self._generator, device=self.device)

    def _tell(self, X: torch.Tensor, losses: torch.Tensor) -> None:
        self.told.append(tuple(losses.shape))
        for x, f in zip(dense(X), losses, strict=True):
            if not any(bool((g <= f).all() and (g < f).any()) for _, g in self.archive):
                self.archive = [(y, g) for y, g in self.archive if not bool((f <= g).all() and (f < g).any())] + [(x, f)]

    def recommend(self) -> torch.Tensor:
        return self.archive[0][0] if self.archive else self.x0


def test_two_objective_problem_runs_through_the_one_loop() -> None:
    problem = TwoSpheres(ParamsModel(), 0, CPU)
    x0 = problem.initial_point()
    budget = Budget(BudgetLimits(evaluations=40))
    objective = Objective(problem, FullSpace(x0), budget, super_batch=None)
    optimizer = RandomArchive(SearchDomain(x0), np.random.default_rng(0), ParamsModel())
    rows: list[dict[str, float]] = []
    optimize(objective, optimizer, lambda o, opt: rows.append(o.metrics(opt.recommend())), checkpoints=3)
    assert optimizer.told and set(optimizer.told) == {(6, 2)}  # (P, m) losses reach the optimizer
    assert budget.usage.evaluations == 40  # 6 generations told, the 7th cut to 4 and not told
    assert len(optimizer.told) == 6
    assert len(objective.best_seen) == 2 and all(np.isfinite(objective.best_seen))
    assert objective.best_seen[0] < 16 and objective.best_seen[1] < 64  # the start is at (16, 64)
    assert len(optimizer.archive) > 1  # a front, not a single best point
    assert rows[0] == {f"{s}_loss_{i}": v for s in ("train", "val", "test") for i, v in ((1, 16.0), (2, 64.0))}


def test_single_objective_optimizer_refuses_vector_losses() -> None:
    de = DifferentialEvolution.from_config(SearchDomain(torch.zeros(4)), np.random.default_rng(0), {"popsize": 4})
    X = de.ask()
    with pytest.raises(ValueError, match=r"losses of shape \(4, 2\), expected \(4,\)"):
        de.tell(X, torch.zeros(4, 2))


# --- one loop for every optimizer kind ------------------------------------------------------------


@pytest.mark.parametrize("name", searching("weights"))
def test_every_optimizer_is_stepped_by_the_one_loop_on_a_test_function(name: str) -> None:
    problem = problems.get("sphere").from_config({"dim": 6}, 0, CPU)
    x0 = problem.initial_point()
    budget = Budget(BudgetLimits(evaluations=60))
    objective = Objective(problem, FullSpace(x0), budget, super_batch=None)
    cls = optimizers.get(name)
    optimizer = cls.from_config(SearchDomain(x0), np.random.default_rng(0), {"name": "OnePlusOne"} if name == "nevergrad" else {})
    optimize(objective, optimizer)
    assert budget.usage.evaluations == 60
    assert problem.metrics(optimizer.recommend(), "train")["loss"] <= problem.metrics(x0, "train")["loss"]


# --- HBDE is DE + declared blocks + declared super-batches ----------------------------------------


def test_hbde_reproduces_a_run_stored_before_the_redesign() -> None:
    """The stored trace was made by the previous core, where HBDE pushed its super-batch size into the
    problem at run time; now the size is declared data that the objective applies.

    It was recorded on another machine, so counts are compared exactly and measurements with a
    relative 1e-5: another CPU or BLAS build moves the float32 losses by about 1e-7 (measured here
    with MKL_CBWR=COMPATIBLE and ATEN_CPU_CAPABILITY=default), a 1 % larger initial spread by 3e-5.
    The trajectory itself does not diverge: no DE selection is a near-tie (a trial and its parent
    differ by >= 2e-4 relative, the best and second best by >= 9e-5) and no prediction is (top-two
    logit margins >= 1e-5), so the same candidates are kept and accuracy and F1 match to the count."""
    stored = json.loads((DATA / "hbde_digits_seed0.json").read_text())
    result = run_ok(run_spec("hbde", {"popsize": 8}, budget=BudgetLimits(evaluations=48), super_batch=359))
    assert result.search_dim == stored["search_dim"]
    counts = ("evaluations", "samples")
    assert [[row[k] for k in counts] for row in result.trace] == [[row[k] for k in counts] for row in stored["trace"]]
    for new, old in zip(result.trace, stored["trace"], strict=True):
        for key, value in old.items():
            assert new[key] == pytest.approx(value, rel=1e-5, abs=1e-6), key
    spec = run_spec("hbde")
    assert (spec.optimizer.space.kind, spec.optimizer.super_batch, spec.settings.super_batch) == ("blocks", 1000, 1000)


# --- populations stay on the problem's device ------------------------------------------------------


NUMPY_LIBRARIES = {"cma-es", "nevergrad", "pymoo", "nsga2", "parego", "mobo-ars", "random-box"}
"""Adapters of libraries that compute in NumPy: their populations necessarily cross to the host
(the multi-objective methods keep their archive and models in pymoo, scikit-learn and NumPy)."""


class TestPopulationsStayOnDevice(OptimizerOnDevice):
    """The kit's device check over every ask/tell optimizer of weights, on the digits MLP."""

    @pytest.fixture(params=sorted(n for n in searching("weights") if issubclass(optimizers.get(n), AskTellOptimizer)))
    def case(self, request: pytest.FixtureRequest) -> OptimizerCase:
        name = request.param
        return OptimizerCase(name, host_copies=name in NUMPY_LIBRARIES, numpy_views=name == "direct-search")


# --- run identity ----------------------------------------------------------------------------------


def mnist_suite(write_suite, root: Path, name: str) -> Path:
    return write_suite(
        {
            "name": "moved",
            "problems": [{"name": "mnist-mlp", "params": {"root": str(root), "n_train": 200, "n_val": 100, "n_test": 100}}],
            "optimizers": [{"name": "random-search", "params": {"popsize": 4}}],
            "seeds": [0],
            "budget": {"evaluations": 8},
            "checkpoints": 20,
            "executor": "sequential",
        },
        name,
    )


def test_same_data_in_two_folders_gives_the_same_runs(write_suite, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    fake_mnist(tmp_path / "a", 400, "t10k")
    shutil.copytree(tmp_path / "a", tmp_path / "elsewhere" / "b")
    first = load_suite(mnist_suite(write_suite, tmp_path / "a", "a.yaml"))
    moved = load_suite(mnist_suite(write_suite, tmp_path / "elsewhere" / "b", "b.yaml"))
    assert [r.run_id for r in first.runs] == [r.run_id for r in moved.runs]
    store = ResultStore(tmp_path / "results")
    run_suite(first, store.root, SequentialExecutor(), progress=False)
    assert pending_runs(moved, store) == []  # nothing runs again after the data moved
    fake_mnist(tmp_path / "elsewhere" / "b", 401, "t10k")  # other data: other runs
    changed = load_suite(mnist_suite(write_suite, tmp_path / "elsewhere" / "b", "c.yaml"))
    assert pending_runs(changed, store) == changed.runs


class DEWithNewKnob(DEParams):
    knob: float = 1.0
    """A parameter added in a later release whose default reproduces the old behaviour."""


def test_a_new_defaulted_parameter_keeps_stored_runs_and_a_version_bump_invalidates_them(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_suite(
        {
            "problems": ["digits-mlp"],
            "optimizers": [{"name": "de", "params": {"popsize": 4}}],
            "seeds": [0],
            "budget": {"evaluations": 8},
            "executor": "sequential",
        }
    )
    suite = load_suite(path)
    store = ResultStore(tmp_path / "results")
    run_suite(suite, store.root, SequentialExecutor(), progress=False)
    monkeypatch.setattr(DifferentialEvolution, "Params", DEWithNewKnob)
    assert pending_runs(load_suite(path), store) == []
    monkeypatch.setattr(DifferentialEvolution, "version", 2)
    assert len(pending_runs(load_suite(path), store)) == 1


def test_run_id_is_a_hash_of_canonical_json_of_the_frozen_spec() -> None:
    spec = run_spec("de", {"F": 0.7})
    assert spec.identity()["optimizer"] == {"name": "de", "version": 1, "params": {"F": 0.7}}
    with pytest.raises(Exception, match="frozen"):
        spec.seed = 3  # type: ignore[misc]
    assert run_spec("de", {"F": 0.7}).run_id == spec.run_id != run_spec("de", {"F": 0.6}).run_id


# --- process state ---------------------------------------------------------------------------------


def test_a_run_restores_threads_and_touches_no_global_generator() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    # NPY002: reading the legacy global state is the point here (runs must leave it untouched).
    numpy_state, torch_state = np.random.get_state()[1].copy(), torch.random.get_rng_state()  # noqa: NPY002
    try:
        for name in ("cma-es", "pymoo", "de", "adam"):
            run_ok(run_spec(name, budget=BudgetLimits(evaluations=40)))
        assert torch.get_num_threads() == 2
        assert np.array_equal(np.random.get_state()[1], numpy_state)  # noqa: NPY002
        assert torch.equal(torch.random.get_rng_state(), torch_state)
    finally:
        torch.set_num_threads(threads)


def test_recorded_commit_is_the_users_working_directory(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None  # not a checkout
    repo = Path(__file__).resolve().parents[1]
    if (repo / ".git").exists():
        assert (git_commit(repo) or "").split("+")[0] == __import__("subprocess").run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True
        ).stdout.strip()


def test_block_space_is_built_on_the_weights_device() -> None:
    w = torch.randn(300, generator=torch.Generator().manual_seed(0))
    space = BlockSpace(w, 20)
    assert space.assign.device == w.device and space.to_weights(space.initial().unsqueeze(0)).device == w.device


def test_a_suite_of_test_functions_runs_and_reports(write_suite, tmp_path: Path) -> None:
    from dfo_bench.report import build_report

    path = write_suite(
        {
            "problems": ["sphere", {"name": "rastrigin", "params": {"dim": 5}}],
            "optimizers": ["de", "adam"],
            "seeds": [0, 1],
            "budget": {"evaluations": 200},
            "executor": "sequential",
        }
    )
    summaries = run_suite(load_suite(path), tmp_path / "results", SequentialExecutor(), progress=False)
    assert {s.status for s in summaries} == {"ok"}
    runs = ResultStore(tmp_path / "results").load()
    final = runs.groupby("run_id")["final_train_loss"].first()
    assert (final < runs[runs.checkpoint == 0].groupby("run_id")["train_loss"].first()).all()
    assert build_report(tmp_path / "results", tmp_path / "report").exists()  # no accuracy to show: still a report


@pytest.mark.parametrize("size", [1, 2, FEW, FEW + 1, 300])
@pytest.mark.parametrize("nan_at", [None, "first", "last"])
def test_losses_read_on_the_host_agree_with_torch(size: int, nan_at: str | None) -> None:
    """The objective's best so far and tell's NaN check read few losses as Python floats: the
    same answers as torch's reductions, a NaN anywhere making the lowest NaN (as torch's min)."""
    losses = torch.linspace(1.0, 2.0, size)
    if nan_at is not None:
        losses[0 if nan_at == "first" else -1] = math.nan
    assert any_nan(losses) == bool(torch.isnan(losses).any())
    low, expected = lowest(losses), float(losses.min())
    assert low == expected or (math.isnan(low) and math.isnan(expected))
    assert any_nan(losses.reshape(-1, 1).expand(-1, 2)) == (nan_at is not None)  # several objectives: torch's path
