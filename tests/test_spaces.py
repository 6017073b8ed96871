"""Search spaces: histogram blocking ties weights exactly as described, and any optimizer runs in it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfo_bench.budget import BudgetLimits
from dfo_bench.errors import ConfigError
from dfo_bench.registry import optimizers
from dfo_bench.space_config import BlockSpaceConfig
from dfo_bench.spaces import BlockSpace
from dfo_bench.suite import load_suite
from dfo_bench.testing import run_ok, run_spec


def test_block_count_is_the_number_of_non_empty_histogram_bins() -> None:
    # Bins of width 0.1 over [0, 1]: 0 → bin 0; 0.12, 0.15 → bin 1; 0.95 and the right edge 1.0 → bin 9.
    space = BlockSpace(torch.tensor([0.0, 0.12, 0.15, 0.95, 1.0]), n_bins=10)
    assert space.dim == 3
    assert space.assign.tolist() == [0, 1, 1, 2, 2]
    w = torch.randn(20_000, generator=torch.Generator().manual_seed(0)) ** 3  # heavy tails: many empty bins
    for n_bins in (7, 1_000, 10_000):
        counts, _ = np.histogram(w.double().numpy(), bins=n_bins)
        assert BlockSpace(w, n_bins).dim == np.count_nonzero(counts)


def test_unblock_of_block_ties_every_weight_to_its_bin_mean() -> None:
    w = torch.randn(5_000, generator=torch.Generator().manual_seed(1))
    space = BlockSpace(w, n_bins=50)
    tied = space.point(space.initial())
    _, edges = np.histogram(w.double().numpy(), bins=50)
    bins = np.clip(np.searchsorted(edges, w.double().numpy(), side="right") - 1, 0, 49)
    for b in np.unique(bins):
        members = torch.from_numpy(bins == b)
        torch.testing.assert_close(tied[members], w[members].double().mean().float().expand(int(members.sum())))
    assert space.point(space.initial()).unique().numel() == space.dim
    # Tied weights are a fixed point: blocking them again gives the same blocks.
    torch.testing.assert_close(space.means(tied), space.initial())


def test_pullback_is_the_adjoint_of_unblocking() -> None:
    generator = torch.Generator().manual_seed(2)
    space = BlockSpace(torch.randn(1_000, generator=generator), n_bins=30)
    z, g = torch.randn(space.dim, generator=generator, dtype=torch.float64), torch.randn(1_000, generator=generator, dtype=torch.float64)
    lhs = float(g @ space.to_weights(z.unsqueeze(0))[0])
    rhs = float(space.pullback(g) @ z)
    assert lhs == pytest.approx(rhs, rel=1e-9)


@pytest.mark.parametrize("name", ["cma-es", "adam", "hbde"])
def test_optimizers_run_in_the_blocked_space(name: str) -> None:
    params = {"cma-es": {"diagonal": True}}.get(name)
    space = None if name == "hbde" else BlockSpaceConfig(kind="blocks", n_bins=200)  # hbde searches blocks by default
    result = run_ok(run_spec(name, params, budget=BudgetLimits(evaluations=600), space=space))
    assert result.search_dim is not None and result.search_dim < result.dim
    assert result.trace[-1]["train_loss"] < result.trace[0]["train_loss"]


def test_space_is_one_line_of_yaml_and_labels_the_run(write_suite) -> None:
    suite = load_suite(
        write_suite(
            {
                "problems": ["digits-mlp"],
                "optimizers": [{"name": "cma-es", "params": {"diagonal": True}, "space": {"kind": "blocks", "n_bins": 300}}, "hbde", "de"],
                "seeds": [0],
                "budget": {"evaluations": 100},
            }
        )
    )
    spaces = {run.optimizer.label: run.optimizer.space.model_dump() for run in suite.runs}
    assert spaces == {
        "cma-es[diagonal=true]@blocks[n_bins=300]": {"kind": "blocks", "n_bins": 300},
        "hbde": {"kind": "blocks", "n_bins": 10_000},
        "de": {"kind": "full"},
    }


def test_unknown_space_kind_is_a_one_line_error(write_suite) -> None:
    path = write_suite(
        {"problems": ["digits-mlp"], "optimizers": [{"name": "de", "space": {"kind": "cubes"}}], "seeds": [0], "budget": {"evaluations": 10}}
    )
    with pytest.raises(ConfigError, match=r"optimizers\.0\.space.*'cubes'") as info:
        load_suite(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_hbde_scores_each_generation_on_the_next_super_batch_and_covers_the_set(monkeypatch) -> None:
    from dfo_bench.problems.data import CircularBatches

    seen: list[torch.Tensor] = []
    original = CircularBatches.next

    def recording(self: CircularBatches) -> torch.Tensor:
        chunk = original(self)
        seen.append(chunk.clone())
        return chunk

    monkeypatch.setattr(CircularBatches, "next", recording)
    popsize, batch = 8, 359  # 1,077 training digits = 3 super-batches per cycle
    spec = run_spec("hbde", {"popsize": popsize}, budget=BudgetLimits(evaluations=popsize * 6), super_batch=batch)
    result = run_ok(spec)
    assert result.trace[-1]["samples"] == popsize * 6 * batch
    assert len(seen) == 6  # one chunk per generation, shared by the whole population
    for cycle in (seen[:3], seen[3:]):
        assert sorted(torch.cat(cycle).tolist()) == list(range(1_077))
    assert optimizers.get("hbde").default_space.kind == "blocks"
