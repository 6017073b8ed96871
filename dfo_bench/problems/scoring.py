"""Classification scores computed in torch on the problem's device, matching scikit-learn's
definitions: what the classifiers' ``metrics()`` return for the metrics they declare
(``metrics.CLASSIFICATION``)."""

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
