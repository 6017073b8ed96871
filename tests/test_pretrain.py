"""Hybrid starts: pre-training computed once per (problem, seed), cached, shared by every optimizer."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfo_bench.errors import ConfigError
from dfo_bench.executors import SequentialExecutor, run_suite
from dfo_bench.store import ResultStore
from dfo_bench.suite import load_suite

PRETRAIN = {"pretrain": {"optimizer": "adam", "params": {"batch_size": 64, "lr": 0.01}, "epochs": 3}}


def suite_dict(**changes: object) -> dict:
    suite = {
        "problems": [{"name": "digits-mlp", "init": PRETRAIN}],
        "optimizers": [{"name": "random-search", "params": {"popsize": 8}}, "de", "adam"],
        "seeds": [0, 1],
        "budget": {"evaluations": 96},
    }
    return {**suite, **changes}


def test_pretraining_is_computed_once_per_seed_and_every_optimizer_starts_from_it(write_suite, tmp_path: Path) -> None:
    out = tmp_path / "results"
    summaries = run_suite(load_suite(write_suite(suite_dict())), out, SequentialExecutor(), progress=False)
    assert {s.status for s in summaries} == {"ok"}
    runs = ResultStore(out).load()
    first = runs[runs.checkpoint == 0]
    assert (first.problem_label == "digits-mlp+pretrain").all()
    for _seed, group in first.groupby("seed"):
        # The same weights for every optimizer: the same initial losses, to the last bit.
        assert group.train_loss.nunique() == 1 and group.test_accuracy.nunique() == 1
        # Computed by one run, loaded by the others.
        assert sorted(group.pretrain_cached.tolist()) == [False, True, True]
        # 3 epochs of 1,077 digits in minibatches of 64: 50 steps, 3 samples per sample, recorded apart.
        assert (group.pretrain_evaluations == 50).all() and (group.pretrain_samples == 50 * 3 * 64).all()
        assert (group.final_evaluations <= 96).all()
    assert first.groupby("seed").train_loss.first().nunique() == 2  # another seed, another start
    assert len(list((out / "cache" / "pretrain").glob("*.pt"))) == 2


def test_a_run_closes_its_problem_and_the_one_it_pre_trained(
    write_suite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both problems a pre-trained run builds (its own and the pre-training's) are closed when it
    ends, whether the start was computed or read from the cache."""
    from dfo_bench.problems.base import Problem

    closed: list[Problem] = []
    monkeypatch.setattr(Problem, "close", lambda self: closed.append(self))
    suite = load_suite(write_suite(suite_dict(optimizers=["random-search", "de"], seeds=[0])))
    summaries = run_suite(suite, tmp_path / "results", SequentialExecutor(), progress=False)
    # Two runs: the first computes the start, the second reads it from the cache.
    assert {s.status for s in summaries} == {"ok"} and len(closed) == 4 and len({id(p) for p in closed}) == 4


def test_pretrained_start_beats_the_random_initial_weights(write_suite, tmp_path: Path) -> None:
    suite = suite_dict(optimizers=["random-search"], seeds=[0])
    run_suite(load_suite(write_suite(suite)), tmp_path / "a", SequentialExecutor(), progress=False)
    plain = {**suite, "problems": ["digits-mlp"]}
    run_suite(load_suite(write_suite(plain, "plain.yaml")), tmp_path / "b", SequentialExecutor(), progress=False)
    start = [pd.read_parquet(next((tmp_path / d / "runs").glob("*.parquet"))).train_loss.iloc[0] for d in "ab"]
    assert start[0] < 0.5 * start[1]


def test_a_second_suite_in_the_same_folder_reuses_the_cache(write_suite, tmp_path: Path) -> None:
    out = tmp_path / "results"
    run_suite(load_suite(write_suite(suite_dict(optimizers=["de"], seeds=[0]))), out, SequentialExecutor(), progress=False)
    cached = next((out / "cache" / "pretrain").glob("*.pt"))
    stamp = cached.stat().st_mtime_ns
    run_suite(load_suite(write_suite(suite_dict(optimizers=["random-search"], seeds=[0]), "other.yaml")), out, SequentialExecutor(), progress=False)
    assert cached.stat().st_mtime_ns == stamp
    runs = ResultStore(out).load()
    assert runs.groupby("optimizer").pretrain_cached.first().to_dict() == {"de": False, "random-search": True}


@pytest.mark.parametrize(
    "init, fragment",
    [
        ({"pretrain": {"optimizer": "de", "epochs": 1}}, "problems[0].init.pretrain.optimizer: 'de' is not a gradient optimizer; allowed: adam"),
        ({"pretrain": {"optimizer": "adam", "epochs": 0}}, "problems.0.init.pretrain.epochs"),
        ({"pretrain": {"optimizer": "adam", "epochs": 1, "params": {"lr": -1}}}, "problems[0].init.pretrain.params.lr"),
    ],
)
def test_bad_pretraining_is_a_one_line_error(init: dict, fragment: str, write_suite) -> None:
    path = write_suite(suite_dict(problems=[{"name": "digits-mlp", "init": init}]))
    with pytest.raises(ConfigError) as info:
        load_suite(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)
