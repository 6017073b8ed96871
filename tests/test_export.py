"""``dfo-bench export --tensorboard``: every stored checkpoint comes back from the event files."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from .conftest import CLI, cli_env
from .report_data import synthetic_results

event_pb2 = pytest.importorskip("tensorboardX.proto.event_pb2")


def read_events(path: Path) -> list:
    """TFRecord framing: length (u64), its CRC (u32), the Event protobuf, its CRC (u32)."""
    data, events, at = path.read_bytes(), [], 0
    while at < len(data):
        (length,) = struct.unpack("<Q", data[at : at + 8])
        event = event_pb2.Event()
        event.ParseFromString(data[at + 12 : at + 12 + length])
        events.append(event)
        at += 12 + length + 4
    return events


def scalars(folder: Path) -> dict[str, dict[int, float]]:
    found: dict[str, dict[int, float]] = {}
    for path in folder.glob("events.out.tfevents.*"):
        for event in read_events(path):
            for value in event.summary.value:
                if value.HasField("simple_value"):
                    found.setdefault(value.tag, {})[event.step] = value.simple_value
    return found


def test_export_replays_every_checkpoint_against_evaluations_and_samples(tmp_path: Path) -> None:
    results = synthetic_results(tmp_path, ["P"], ["a", "b"], [0, 1], lambda p, o, s: 0.8 + 0.05 * s)
    out = tmp_path / "tb"
    done = subprocess.run(
        [*CLI, "export", str(results), "--tensorboard", str(out), "--optimizers", "a"],
        capture_output=True,
        text=True,
        env=cli_env(),
    )
    assert done.returncode == 0, done.stderr
    assert "export: 2 runs" in done.stdout
    folders = sorted(p for p in out.glob("P/*/*") if p.is_dir())
    assert [f.parent.name for f in folders] == ["a", "a"]
    assert not list(out.rglob("*.tmp"))
    stored = pd.read_parquet(next((results / "runs").glob("P__a__seed1__*.parquet")))
    exported = scalars(next(f for f in folders if f.name.startswith("seed1-")))
    expected = dict(zip(stored["evaluations"].astype(int), stored["val_accuracy"], strict=True))
    assert exported["val_accuracy"] == pytest.approx(expected)
    assert exported["by_samples/test_accuracy"] == pytest.approx(
        dict(zip(stored["samples"].astype(int), stored["test_accuracy"], strict=True))
    )
    assert {"train_loss", "best_seen_loss", "test_f1"} <= set(exported)
