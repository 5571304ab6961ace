"""Bad values: every setting, option and imported document is checked, the message names
the key or the row, and the database is unchanged when nothing was acknowledged."""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.test_hostile_storage import cli, study_days


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def learner(tmp_path_factory) -> tuple[Path, dict]:
    folder = tmp_path_factory.mktemp("values")
    db = folder / "study.db"
    study_days(db, 2)
    out = cli(db, "export", str(folder / "export.json"))
    assert out.exit_code == 0
    return db, json.loads((folder / "export.json").read_text())


@pytest.fixture
def db(learner, tmp_path) -> Path:
    copy_ = tmp_path / "study.db"
    shutil.copy(learner[0], copy_)
    return copy_


@pytest.mark.parametrize(("args", "says"), [
    (("settings", "reviews_per_day", "99999999999999999999999"), "reviews_per_day must be from 0 to 100000"),
    (("settings", "new_per_day", "-1"), "new_per_day must be from 0 to 10000"),
    (("settings", "day_start_hour", "abc"), "day_start_hour wants a whole number from 0 to 23, got 'abc'"),
    (("settings", "desired_retention", "nan"), "desired_retention must be from 0.5 to 0.99"),
    (("settings", "timezone", "Mars/Base"), "unknown time zone 'Mars/Base'"),
    (("settings", "nope", "1"), "unknown setting 'nope'"),
    (("--now", "0001-01-01T00:00+14:00", "due"), "out of range"),
    (("--now", "9999-12-31T23:59-14:00", "stats"), "out of range"),
    (("--now", "yesterday", "due"), "cannot read 'yesterday'"),
    (("grade", "x", "-1"), "'-1': use 1-4"),
    (("grade", "x", "3", "--seconds", "nan"), "nan is not a number of seconds"),
    (("grade", "x", "3", "--seconds", "-5"), "-5.0 is not a number of seconds"),
    (("grade", "x", "3", "--seconds", "1e400"), "inf is not a number of seconds"),
])
def test_bad_values_are_refused_by_name_and_change_nothing(db, args, says):
    before = digest(db)
    out = cli(db, *args)
    assert out.exit_code == 2 or out.exit_code == 1, out.output
    assert says in out.output, out.output
    assert digest(db) == before
    assert cli(db, "due").exit_code == 0      # and every command still works


def _doc(base: dict, change) -> dict:
    doc = copy.deepcopy(base)
    change(doc)
    return doc


def _dup_log(doc):
    doc["tables"]["review_log"].append(dict(doc["tables"]["review_log"][0]))


def _null_rating(doc):
    doc["tables"]["review_log"][1]["rating"] = None


BAD_DOCS = {
    "schema_version abc": (lambda d: d.update(schema_version="abc"),
                           "'schema_version' must be a whole number"),
    "newer schema": (lambda d: d.update(schema_version=999), "newer studyapp"),
    "rows as a string": (lambda d: d["tables"].update(review_log="lots"),
                         "tables.review_log must be a list of rows, got str"),
    "tables as a list": (lambda d: d.update(tables=[]), "'tables' must be an object"),
    "duplicate log id": (_dup_log, "appears twice"),
    "NULL rating": (_null_rating, "tables.review_log[1]"),
    "unknown table": (lambda d: d["tables"].update(evil=[]), "tables.evil: unknown table"),
    "unknown column": (lambda d: d["tables"]["review_log"][0].update(x=1),
                       "tables.review_log[0]: unknown column 'x'"),
    "nested value": (lambda d: d["tables"]["review_log"][0].update(rating=[3]),
                     "tables.review_log[0].rating: must be text"),
    "not an export": (lambda d: d.update(format="other"), "not a studyapp progress export"),
}


@pytest.mark.parametrize("name", list(BAD_DOCS))
def test_import_validates_the_whole_document_before_writing(db, learner, tmp_path, name):
    change, says = BAD_DOCS[name]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(_doc(learner[1], change)))
    before = digest(db)
    out = cli(db, "import", "--replace", str(path))
    assert out.exit_code == 1 and says in out.output, out.output
    assert out.output.count("\n") == 1
    assert digest(db) == before


def test_import_of_a_database_file_or_garbage_is_one_line(db, learner, tmp_path):
    before = digest(db)
    out = cli(db, "import", "--replace", str(learner[0]))
    assert out.exit_code == 1 and "it is a SQLite database" in out.output
    (tmp_path / "x.json").write_bytes(b"[" * 100000)
    out = cli(db, "import", "--replace", str(tmp_path / "x.json"))
    assert out.exit_code == 1 and "is not JSON" in out.output
    assert digest(db) == before


def test_replace_with_an_empty_document_needs_allow_empty(db, learner, tmp_path):
    empty = _doc(learner[1], lambda d: d.update(tables={}))
    path = tmp_path / "empty.json"
    path.write_text(json.dumps(empty))
    before = digest(db)
    out = cli(db, "import", "--replace", str(path))
    assert out.exit_code == 1 and "--replace --allow-empty" in out.output
    assert digest(db) == before
    out = cli(db, "import", "--replace", "--allow-empty", str(path))
    assert out.exit_code == 0, out.output
    # and a good document goes back in whole
    good = tmp_path / "good.json"
    good.write_text(json.dumps(learner[1]))
    assert cli(db, "import", "--replace", str(good)).exit_code == 0
