"""The conformance kit: pytest classes that a plugin's own test suite subclasses (as Optuna's
``SamplerTestCase``), and that the built-ins pass through too (``tests/test_optimizers.py``,
``tests/test_problems.py``, ``tests/test_core.py``).

A plugin names what it tests in class attributes::

    from dfo_bench.conformance import OptimizerTestCase, ProblemTestCase

    class TestMyES(OptimizerTestCase):
        optimizer = "my-es"            # the entry-point name
        params = {"sigma": 0.05}       # its parameters for the checks (default: its defaults)

    class TestMyProblem(ProblemTestCase):
        problem = "my-problem"
        params = {"n_train": 200}

The checks run real runs through the real runner (budgets, seeds, checkpoints), by default on
the embedded digits MLP, and fail with a message saying what a user would see go wrong. The
test suite of dfo-bench overrides the ``case`` fixture to parametrise the same classes over
every registered name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from dfo_bench.budget import Budget, BudgetLimits
from dfo_bench.errors import BudgetExceeded, ConfigError
from dfo_bench.moves import Population, dense
from dfo_bench.objective import Objective
from dfo_bench.optimizers.base import AskTellOptimizer, GradientOptimizer, Optimizer, SearchDomain
from dfo_bench.problems.base import SPLITS, DifferentiableProblem, Problem
from dfo_bench.problems.rl.base import RolloutProblem
from dfo_bench.registry import optimizers, problems
from dfo_bench.space_config import BlockSpaceConfig, FullSpaceConfig
from dfo_bench.spaces import FullSpace, make_space
from dfo_bench.spec import RunSpec
from dfo_bench.suite import suite_from_data
from dfo_bench.testing import check_deterministic, check_improves_within_budget, check_population_consistent, run_spec

CPU = torch.device("cpu")
UNKNOWN = "no_such_parameter"


@dataclass(frozen=True)
class OptimizerCase:
    """An optimizer under test: its registered name and parameters, and the problem it runs on."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    problem: str = "digits-mlp"
    problem_params: dict[str, Any] = field(default_factory=dict)
    host_copies: bool = False
    """Whether it wraps a NumPy library, so that populations necessarily cross to the host."""
    numpy_views: bool = False
    """Whether it reads the searched point and the weights through ``.numpy()`` (free views on the
    CPU, its only device): those calls are allowed, whole populations still are not."""
    largest_charge: int = 1077
    """The most samples one charge costs on the problem (the digits MLP: its 1,077 training samples),
    by which a run may stop short of a samples limit."""

    @property
    def cls(self) -> type[Optimizer]:
        return optimizers.get(self.name)

    def spec(self, **kwargs: Any) -> RunSpec:
        """A run of this optimizer on its problem, validated as a suite would validate it."""
        return run_spec(self.name, self.params, self.problem, self.problem_params, **kwargs)


@dataclass(frozen=True)
class ProblemCase:
    """A problem under test: its registered name and parameters this machine can satisfy."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def cls(self) -> type[Problem]:
        return problems.get(self.name)

    def build(self, seed: int = 0) -> Problem:
        return self.cls.from_config(self.params, seed, CPU)


class _OptimizerCaseFixture:
    optimizer: ClassVar[str]
    """The registered name of the optimizer under test."""
    params: ClassVar[dict[str, Any]] = {}
    problem: ClassVar[str] = "digits-mlp"
    problem_params: ClassVar[dict[str, Any]] = {}
    host_copies: ClassVar[bool] = False
    numpy_views: ClassVar[bool] = False
    largest_charge: ClassVar[int] = 1077

    @pytest.fixture
    def case(self) -> OptimizerCase:
        """The optimizer under test, from the class attributes (dfo-bench's own tests parametrise it)."""
        return OptimizerCase(
            self.optimizer,
            dict(self.params),
            self.problem,
            dict(self.problem_params),
            self.host_copies,
            self.numpy_views,
            self.largest_charge,
        )


class OptimizerContract(_OptimizerCaseFixture):
    """The interface: shapes, NaN losses refused, unknown parameters refused at validation."""

    def test_interface_shapes(self, case: OptimizerCase) -> None:
        x0 = torch.linspace(-1, 1, 50)
        optimizer = case.cls.from_config(SearchDomain(x0), np.random.default_rng(0), case.params)
        assert optimizer.recommend().shape == (50,), "recommend() returns one point of the search space"
        if isinstance(optimizer, AskTellOptimizer):
            X = optimizer.ask()
            assert X.shape == (optimizer.popsize, 50) and dense(X).dtype == torch.float32, "ask() gives (popsize, D) float32"
            with pytest.raises(FloatingPointError):
                optimizer.tell(X, torch.full((X.shape[0],), float("nan")))
            optimizer.tell(X, (dense(X) ** 2).sum(dim=1))
            assert optimizer.recommend().shape == (50,)
        else:
            assert isinstance(optimizer, GradientOptimizer), "an optimizer asks and tells, or takes gradient steps"
            optimizer._step(lambda x, batch: (float((x**2).sum()), 2 * x))
            assert float((optimizer.recommend() ** 2).sum()) < float((x0**2).sum())

    def test_unknown_parameter_is_refused_at_validation(self, case: OptimizerCase) -> None:
        with pytest.raises(ValueError, match=UNKNOWN):
            case.cls.Params(**{UNKNOWN: 1})
        suite = {
            "name": "conformance",
            "problems": [{"name": case.problem, "params": case.problem_params}],
            "optimizers": [{"name": case.name, "params": {**case.params, UNKNOWN: 1}}],
            "seeds": [0],
            "budget": {"evaluations": 10},
        }
        with pytest.raises(ConfigError, match=rf"optimizers\[0\]\.params.*{UNKNOWN}"):
            suite_from_data(suite)


class OptimizerRuns(_OptimizerCaseFixture):
    """Runs through the runner: improves, never overspends, stops at each kind of limit, same seed
    same run."""

    def test_improves_and_never_overspends(self, case: OptimizerCase) -> None:
        result = check_improves_within_budget(case.spec())
        assert len(result.trace) >= 20, "a run of enough generations records at least 20 checkpoints"

    @pytest.mark.parametrize("unit", ["evaluations", "samples"])
    def test_stops_exactly_within_each_kind_of_limit(self, case: OptimizerCase, unit: str) -> None:
        limit = {"evaluations": 977, "samples": 1_234_567}[unit]
        result = check_improves_within_budget(case.spec(budget=BudgetLimits(**{unit: limit})))
        spent = result.trace[-1][unit]
        # Stops only when the next charge would not fit: at most one evaluation (or step) short.
        largest = {"evaluations": 1, "samples": case.largest_charge}[unit]
        assert limit - largest < spent <= limit, f"{case.name} spent {spent} {unit} of {limit}"

    def test_time_limit_stops_the_run(self, case: OptimizerCase) -> None:
        result = check_improves_within_budget(case.spec(budget=BudgetLimits(seconds=1.0)))
        assert 1.0 <= result.trace[-1]["seconds"] < 6.0, f"{case.name} ran {result.trace[-1]['seconds']:.1f} s of 1 s"

    def test_same_seed_same_run_other_seed_other_run(self, case: OptimizerCase) -> None:
        check_deterministic(case.spec(budget=BudgetLimits(evaluations=400)))


class HostCopies(TorchFunctionMode):
    """Records every call that moves a tensor of at least ``size`` elements across devices (or would,
    on a GPU): ``.cpu()``, ``.to(...)``, ``.numpy()``, ``.tolist()``."""

    MOVES: ClassVar[set[str]] = {"cpu", "to", "numpy", "tolist", "cuda"}

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size
        self.seen: list[tuple[str, int]] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in self.MOVES and args and isinstance(args[0], torch.Tensor) and args[0].numel() >= self.size:
            self.seen.append((name, args[0].numel()))
        return func(*args, **(kwargs or {}))


class OptimizerOnDevice(_OptimizerCaseFixture):
    """Generations keep their populations on the problem's device: no whole population or point
    crosses to the host (a GPU run would copy it every generation)."""

    @pytest.mark.parametrize("space", ["full", "blocks"])
    def test_generations_move_no_population_to_the_host(self, case: OptimizerCase, space: str) -> None:
        if not issubclass(case.cls, AskTellOptimizer):
            pytest.skip(f"{case.name} takes gradient steps: it has no population")
        if case.host_copies:
            pytest.skip(f"{case.name} wraps a NumPy library (documented host copies)")
        problem = problems.get(case.problem).from_config(case.problem_params, 0, CPU)
        x0 = problem.initial_point()
        search = make_space(FullSpaceConfig() if space == "full" else BlockSpaceConfig(kind="blocks", n_bins=2000), x0)
        objective = Objective(problem, search, Budget(BudgetLimits()), super_batch=100)  # batch indices are not a population
        optimizer = case.cls.from_config(SearchDomain(search.initial()), np.random.default_rng(0), case.params)
        optimizer.step(objective)  # the first generation builds caches (NumPy histogram, kernels)
        with HostCopies(size=search.dim) as copies:
            for _ in range(3):
                optimizer.step(objective)
        allowed = {("numpy", search.dim), ("numpy", problem.dim)} if case.numpy_views else set()
        assert set(copies.seen) <= allowed, f"{case.name} moved whole populations or points across devices: {copies.seen[:5]}"


class OptimizerTestCase(OptimizerContract, OptimizerRuns, OptimizerOnDevice):
    """Every check a built-in optimizer of weights passes: subclass it and set ``optimizer``."""


class ProblemTestCase:
    """Every check a built-in problem of weights passes: subclass it and set ``problem`` (and the
    ``params`` this machine can satisfy)."""

    problem: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}

    @pytest.fixture
    def case(self) -> ProblemCase:
        return ProblemCase(self.problem, dict(self.params))

    def test_population_equals_individuals_and_is_charged_exactly(self, case: ProblemCase) -> None:
        check_population_consistent(case.name, case.params)

    def test_seed_fixes_split_and_initial_weights(self, case: ProblemCase) -> None:
        a, b, c = case.build(0), case.build(0), case.build(1)
        assert torch.equal(a.initial_point(), b.initial_point()), "the same seed gives the same initial weights"
        assert not torch.equal(a.initial_point(), c.initial_point()), "another seed gives other initial weights"
        assert a.initial_point().shape == (a.dim,) and a.initial_point().device == a.device
        assert a.metrics(a.initial_point(), "val") == b.metrics(b.initial_point(), "val")
        if a.has_data:  # the split moves with the seed
            assert a.metrics(a.initial_point(), "test") != c.metrics(a.initial_point(), "test"), "the split moves with the seed"

    def test_overspending_is_refused_before_any_work(self, case: ProblemCase) -> None:
        problem = case.build()
        budget = Budget(BudgetLimits(evaluations=3))
        objective = Objective(problem, FullSpace(problem.initial_point()), budget, type(problem).super_batch_of(problem.params))
        calls: list[int] = []
        method = "rollout" if isinstance(problem, RolloutProblem) else "evaluate"  # what the objective calls
        work = getattr(problem, method)

        def counted(X: Population, *args: Any) -> Any:
            calls.append(X.shape[0])
            return work(X, *args)

        setattr(problem, method, counted)
        X = problem.initial_point().expand(4, -1).clone()
        with pytest.raises(BudgetExceeded):  # 3 of 4 fit: those are evaluated and charged, the 4th is not
            objective.evaluate(X)
        assert budget.usage.evaluations == 3 and calls == [3]
        with pytest.raises(BudgetExceeded):  # nothing fits: nothing is evaluated
            objective.evaluate(X[:1])
        if isinstance(problem, DifferentiableProblem):
            with pytest.raises(BudgetExceeded):
                objective.loss_and_grad(X[0], 8)
        assert budget.usage.evaluations == 3 and calls == [3]

    def test_training_set_size_known_from_the_parameters_is_the_built_ones(self, case: ProblemCase) -> None:
        """What a suite checks super-batches and minibatches against before anything loads."""
        problem = case.build()
        known = type(problem).train_size_of(problem.params)
        said = f"train_size_of says {known}, the built problem has {problem.train_size}"
        assert known is None or known == problem.train_size, said

    def test_metrics_are_the_declared_ones_and_in_range(self, case: ProblemCase) -> None:
        problem = case.build()
        declared = {m.name: m for m in problem.reported_metrics}
        for split in SPLITS:
            values = problem.metrics(problem.initial_point(), split)
            if problem.objectives > 1:  # several objectives: their values objective_1, ...
                assert set(values) == {f"objective_{i + 1}" for i in range(problem.objectives)}
                continue
            assert set(values) == {"loss", *declared}, f"metrics() returns {sorted(values)}; declared: loss, {sorted(declared)}"
            assert np.isfinite(values["loss"]) and (values["loss"] > 0 or not problem.has_data)
            for name, metric in declared.items():
                low, high = metric.bounds
                assert low <= values[name] <= high, f"{split} {name} = {values[name]} outside [{low}, {high}]"
        with pytest.raises(ValueError, match="allowed"):
            problem.metrics(problem.initial_point(), "holdout")

    def test_unknown_parameter_is_refused_at_validation(self, case: ProblemCase) -> None:
        with pytest.raises(ValueError, match=UNKNOWN):
            case.cls.Params(**{UNKNOWN: 1})
