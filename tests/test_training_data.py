"""Labelled examples from an instructor's JSONL or CSV files."""

from __future__ import annotations

import pytest

from studyapp.training.data import DataError, Example, load_examples, subsample
from studyapp.training.metrics import classification_metrics


def test_jsonl_and_csv_with_named_or_numbered_labels(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"text": "hi", "label": "ham"}\n\n'
                                      '{"text": "WIN", "label": "spam"}\n')
    (tmp_path / "b.csv").write_text("message,is_spam\nhello,0\n\"FREE, now\",1\n")
    assert load_examples(tmp_path / "a.jsonl", labels=("ham", "spam")) == [
        Example("hi", 0), Example("WIN", 1)]
    assert load_examples(tmp_path / "b.csv", text_field="message", label_field="is_spam",
                         labels=("ham", "spam")) == [Example("hello", 0), Example("FREE, now", 1)]


@pytest.mark.parametrize("content, message", [
    ('{"text": "hi", "label": "maybe"}\n', "label 'maybe' is not one of"),
    ('{"text": "hi"}\n', "lacks 'text' or 'label'"),
    ("not json\n", "a.jsonl:1: not a JSON object"),
    ('{"text": "hi", "label": 5}\n', "out of range"),
    ("", "holds no examples"),
])
def test_bad_rows_name_the_file_and_the_row(tmp_path, content, message):
    (tmp_path / "a.jsonl").write_text(content)
    with pytest.raises(DataError, match=message):
        load_examples(tmp_path / "a.jsonl", labels=("ham", "spam"))


def test_a_missing_file_says_so(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_examples(tmp_path / "nope.jsonl")


def test_subsample_keeps_the_class_shares_and_is_seeded():
    data = [Example(str(i), int(i < 20)) for i in range(100)]
    picked = subsample(data, 50, seed=1)
    assert len(picked) == 50 and sum(e.label for e in picked) == 10
    assert picked == subsample(data, 50, seed=1)
    assert subsample(data, 0, seed=1) == data


def test_classification_metrics():
    m = classification_metrics([1, 1, 0, 0, 1], [1, 0, 0, 1, 1])
    assert m["accuracy"] == 0.6 and m["precision"] == 2 / 3 and m["recall"] == 2 / 3
    assert m["f1"] == pytest.approx(2 / 3) and (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 1, 1, 1)
    assert classification_metrics([0, 0], [0, 0])["f1"] == 0.0
