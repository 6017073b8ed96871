"""The metrics a problem declares for the report, and classification metrics computed in torch,
matching scikit-learn's definitions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Metric:
    """A metric that a problem's ``metrics()`` returns for every split besides its loss, and how the
    report shows it: its tables, curves, fixed-target views and ``--targets`` use what a problem
    declares in ``Problem.reported_metrics``."""

    name: str
    """The key in ``metrics()``; stored as the columns ``train_<name>``, ``val_<name>``, ``test_<name>``."""
    label: str
    """How the report names it ("accuracy", "R²")."""
    higher_is_better: bool
    short: str = ""
    """Its name in narrow column headers ("acc."); the label when empty."""
    splits: tuple[str, ...] = ("val", "test")
    """The splits the main table shows it on beside the primary metric (which is shown on both)."""
    spec: str = ".4f"
    """Its number format."""
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """The values it can take (the conformance kit checks them)."""
    log: bool = False
    """Whether targets between its start and its best are spaced geometrically (values spanning
    orders of magnitude, as losses do)."""


ACCURACY = Metric("accuracy", "accuracy", True, short="acc.", bounds=(0.0, 1.0))
F1 = Metric("f1", "macro-F1", True, splits=("test",), bounds=(0.0, 1.0))
CLASSIFICATION = (ACCURACY, F1)
"""What a classifier declares: accuracy (the primary metric, ranked on) and macro-F1, as fractions."""
RETURN = Metric("return", "return", True, spec=".1f")
"""What a control problem declares: the mean undiscounted episode return (its loss is minus it)."""


def macro_f1(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> float:
    """Unweighted mean of per-class F1 over classes present in target or prediction.

    Same as ``sklearn.metrics.f1_score(target, pred, average="macro")``; a class with no true
    and no predicted sample is left out, one with no true positives scores 0.
    """
    confusion = torch.bincount(target * n_classes + pred, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes).double()
    tp = confusion.diag()
    support = confusion.sum(dim=1)
    predicted = confusion.sum(dim=0)
    present = (support + predicted) > 0
    f1 = 2 * tp / (support + predicted).clamp(min=1)
    return float(f1[present].mean())


def classification_metrics(logits: torch.Tensor, target: torch.Tensor, n_classes: int) -> dict[str, float]:
    """Cross-entropy loss, accuracy and macro-F1 of logits (N, classes) against labels (N,)."""
    pred = logits.argmax(dim=1)
    return {
        "loss": float(F.cross_entropy(logits, target)),
        "accuracy": float((pred == target).double().mean()),
        "f1": macro_f1(pred, target, n_classes),
    }


def macro_precision_recall(pred: torch.Tensor, target: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Macro-precision and macro-recall of each row of predictions ``pred`` (P, n) against ``target``
    (n,): shape (P, 2), float64, on pred's device.

    Same as scikit-learn's ``precision_score`` / ``recall_score`` with ``average="macro"`` and
    ``zero_division=0``: classes present in the target or the row's predictions, a class never
    predicted has precision 0, one never true recall 0. One ``bincount`` for the whole population.
    """
    P, C = pred.shape[0], n_classes
    rows = torch.arange(P, device=pred.device).unsqueeze(1) * (C * C)
    confusion = torch.bincount((rows + target.unsqueeze(0) * C + pred).flatten(), minlength=P * C * C)
    confusion = confusion.reshape(P, C, C).double()
    tp = confusion.diagonal(dim1=1, dim2=2)
    support, predicted = confusion.sum(dim=2), confusion.sum(dim=1)
    present = ((support + predicted) > 0).double()
    precision = (tp / predicted.clamp(min=1) * present).sum(dim=1) / present.sum(dim=1)
    recall = (tp / support.clamp(min=1) * present).sum(dim=1) / present.sum(dim=1)
    return torch.stack([precision, recall], dim=1)
