"""Classification metrics from predicted and true labels (pure Python)."""

from __future__ import annotations


def classification_metrics(preds: list[int], labels: list[int], positive: int = 1
                           ) -> dict[str, float]:
    """accuracy, precision, recall and F1 of the `positive` class, and the confusion counts."""
    if len(preds) != len(labels):
        raise ValueError("preds and labels differ in length")
    tp = sum(1 for p, y in zip(preds, labels, strict=True) if p == positive and y == positive)
    fp = sum(1 for p, y in zip(preds, labels, strict=True) if p == positive and y != positive)
    fn = sum(1 for p, y in zip(preds, labels, strict=True) if p != positive and y == positive)
    correct = sum(1 for p, y in zip(preds, labels, strict=True) if p == y)
    n = len(labels)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "accuracy": correct / n if n else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp, "fp": fp, "fn": fn, "tn": n - tp - fp - fn,
    }
