"""Card identity: normalised-text keys, explicit ids, matching of edited cards."""

from hypothesis import given
from hypothesis import strategies as st

from studyapp.study.identity import (
    OldCard,
    edits_that_reset,
    lesson_cards,
    match_edits,
    normalise,
    text_key,
)
from tests.study_support import make_lesson


def test_normalise_ignores_case_whitespace_and_punctuation():
    assert normalise("  What is an   EPOCH? ") == "what is an epoch"
    assert normalise("Какво е „epoch“?") == "какво е epoch"
    assert normalise("Don't fine-tune — yet.") == "dont fine tune yet"
    assert text_key("What is an epoch?") == text_key("what is an epoch")
    assert text_key("What is an epoch?") != text_key("What is a batch?")


def test_ids_survive_reordering_and_cosmetic_edits():
    a = make_lesson()
    b = make_lesson(quiz=[("Why keep a validation set apart from the test-set", "x", None),
                          ("what is an  epoch", "One pass.", None)],
                    concepts=[("Early Stopping", "stop early.", None), ("epoch", "a pass", None)])
    ids_a = {(c.kind, c.front.casefold()[:5]): c.id for c in lesson_cards(a)}
    assert sorted(c.id for c in lesson_cards(a)) == sorted(c.id for c in lesson_cards(b))
    assert all(i.startswith("epochs:") for i in ids_a.values())


def test_explicit_ids_and_duplicates():
    lesson = make_lesson(quiz=[("What is an epoch?", None, "epoch"), ("Same?", None, None),
                               ("same", None, None)], concepts=[("Epoch", "x", "epoch-term")])
    ids = [c.id for c in lesson_cards(lesson)]
    assert ids[0] == "epochs:quiz:epoch"
    assert ids[2] == ids[1] + "-2"
    assert ids[3] == "epochs:concept:epoch-term"


def test_typo_fix_is_matched_and_big_rewrite_is_reported():
    old = lesson_cards(make_lesson())
    olds = [OldCard(c.id, c.lesson_id, c.kind, c.front, c.back) for c in old]
    typo = make_lesson(quiz=[("What is an epohc?", "One full pass over the training set.", None),
                             ("Why keep a validation set apart from the test set?",
                              "It is used for decisions.", None)])
    new = lesson_cards(typo)
    unmatched = [c for c in new if c.id not in {o.id for o in olds}]
    vanished = [o for o in olds if o.id not in {c.id for c in new}]
    pairs = match_edits(vanished, unmatched)
    assert [(p[0].front, p[1].front) for p in pairs] == [("What is an epohc?",
                                                          "What is an epoch?")]
    assert edits_that_reset(olds, new) == []

    rewrite = make_lesson(quiz=[("Define one training pass over all data.", "Epoch.", None),
                                ("Why keep a validation set apart from the test set?",
                                 "It is used for decisions.", None)])
    warnings = edits_that_reset(olds, lesson_cards(rewrite))
    assert len(warnings) == 1
    w = warnings[0]
    assert w.old_front == "What is an epoch?"
    assert w.new_front == "Define one training pass over all data."
    assert "starts afresh" in w.message()


def test_deleted_card_is_reported_as_retired():
    olds = [OldCard(c.id, c.lesson_id, c.kind, c.front, c.back)
            for c in lesson_cards(make_lesson())]
    fewer = make_lesson(quiz=[("What is an epoch?", "One full pass over the training set.", None)])
    warnings = edits_that_reset(olds, lesson_cards(fewer))
    assert [w.old_front for w in warnings] == ["Why keep a validation set apart from the test set?"]
    assert warnings[0].new_id is None and "retired" in warnings[0].message()


def test_concept_term_renamed_with_same_explanation_is_matched():
    old = [OldCard("l:concept:a", "l", "concept", "LR", "the step size of gradient descent")]
    new = lesson_cards(make_lesson("l", quiz=[], concepts=[
        ("Learning rate", "the step size of gradient descent", None)]))
    assert [(p[1].id, p[0].front) for p in match_edits(old, new)] == [("l:concept:a",
                                                                      "Learning rate")]
    other = lesson_cards(make_lesson("l", quiz=[], concepts=[
        ("Learning rate", "how far each update moves the weights", None)]))
    assert match_edits(old, other) == []


def test_reset_warnings_against_the_database(tmp_path):
    from studyapp.store.sync import reset_warnings
    from tests.study_support import local, service

    svc = service(tmp_path, local(2026, 11, 23, 10), make_lesson())
    typo = make_lesson(quiz=[("What is an epohc?", "One full pass over the training set.", None),
                             ("Why keep a validation set apart from the test set?",
                              "It is used for decisions.", None)])
    assert reset_warnings(svc.conn, [typo]) == []
    rewrite = make_lesson(quiz=[("Name one full pass over the data.", "Epoch.", None)])
    warnings = reset_warnings(svc.conn, [rewrite])
    assert sorted(w.old_front for w in warnings) == [
        "What is an epoch?", "Why keep a validation set apart from the test set?"]
    assert svc.conn.execute("SELECT count(*) FROM cards WHERE retired=1").fetchone()[0] == 0


@given(st.text(min_size=1, max_size=60), st.randoms(use_true_random=False))
def test_keys_ignore_case_spacing_and_punctuation(text, rnd):
    assert normalise(normalise(text)) == normalise(text)
    noisy = []
    for ch in text:
        upper = ch.upper()
        if rnd.random() < 0.3 and upper.casefold() == ch.casefold():
            ch = upper
        noisy.append(ch * 2 if ch.isspace() else ch)  # wider spacing
        if rnd.random() < 0.2:
            noisy.append(rnd.choice([",", "?", "!", "…", "“", "'", ".", "*"]))
    noisy_text = "  " + "".join(noisy) + " \t"
    assert text_key(noisy_text) == text_key(text)
