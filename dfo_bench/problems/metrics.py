"""Classification metrics computed in torch, matching scikit-learn's definitions."""

from __future__ import annotations

import torch
import torch.nn.functional as F


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
