"""Labelled text examples from JSONL or CSV files (pure Python; batching needs torch)."""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class DataError(ValueError):
    """A data file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Example:
    text: str
    label: int


def read_rows(path: Path, fmt: str | None = None) -> list[dict[str, Any]]:
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".")
    if not path.is_file():
        raise DataError(f"data file {path} does not exist")
    if fmt == "csv":
        with path.open(newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    rows = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{n}: not a JSON object: {exc}") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}:{n}: each line must be a JSON object")
            rows.append(row)
    return rows


def load_examples(path: Path, *, fmt: str | None = None, text_field: str = "text",
                  label_field: str = "label", labels: tuple[str, ...] | list[str] = ()
                  ) -> list[Example]:
    """Rows as `Example(text, label index)`; a label is a name in `labels` or an index."""
    index = {name: i for i, name in enumerate(labels)}
    out = []
    for n, row in enumerate(read_rows(path, fmt), 1):
        if text_field not in row or label_field not in row:
            raise DataError(f"{path}: row {n} lacks {text_field!r} or {label_field!r}")
        raw = row[label_field]
        if isinstance(raw, str) and raw in index:
            label = index[raw]
        else:
            try:
                label = int(raw)
            except (TypeError, ValueError):
                raise DataError(f"{path}: row {n}: label {raw!r} is not one of "
                                f"{list(labels)}") from None
            if labels and not 0 <= label < len(labels):
                raise DataError(f"{path}: row {n}: label index {label} out of range")
        out.append(Example(str(row[text_field]), label))
    if not out:
        raise DataError(f"{path} holds no examples")
    return out


def subsample(examples: list[Example], limit: int, seed: int) -> list[Example]:
    """At most `limit` examples (0 or less: all), drawn with both labels kept in proportion."""
    if limit <= 0 or limit >= len(examples):
        return list(examples)
    rng = random.Random(seed)
    by_label: dict[int, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(ex.label, []).append(ex)
    picked: list[Example] = []
    for label, group in sorted(by_label.items()):
        share = max(1, round(limit * len(group) / len(examples)))
        picked.extend(rng.sample(group, min(share, len(group))))
    rng.shuffle(picked)
    return picked[:limit]


def collate(token_ids: list[list[int]], pad_id: int) -> tuple[Any, Any]:
    """Right-padded `input_ids` and `attention_mask` tensors for one batch."""
    import torch

    width = max(len(ids) for ids in token_ids)
    input_ids = torch.full((len(token_ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(token_ids), width), dtype=torch.long)
    for row, ids in enumerate(token_ids):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        mask[row, :len(ids)] = 1
    return input_ids, mask
