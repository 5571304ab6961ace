"""Suggested grades for typed answers: the encoder, its cache and the learner's calibration.

`GradeSuggester.load()` is the slow part (importing torch and loading MiniLM, seconds):
the TUI calls it in a background worker after the first paint, the `suggest` command
directly. Until it has loaded, or when it failed, `ready` is False and there is simply no
suggestion. Nothing here touches the database: the caller hands over the learner's graded
answers (`store.typed_answers.graded_typed_answers`) for `calibrate`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from studyapp.study.suggest import (
    DEFAULT_CALIBRATION,
    Calibration,
    GradedAnswer,
    Suggestion,
    refit,
    suggest,
)
from studyapp.training.encoder import EmbeddingCache, Encoder, cosine


def default_cache_folder() -> Path:
    from studyapp.config import cache_dir

    return cache_dir() / "embeddings"


def _load_default() -> Encoder:
    from studyapp.training.encoder import load_encoder

    return load_encoder()


class GradeSuggester:
    """Similarity of a typed answer to the reference, and the rating it suggests."""

    def __init__(self, cache_folder: Path | None = None,
                 loader: Callable[[], Encoder] = _load_default) -> None:
        self._loader = loader
        self._cache_folder = cache_folder
        self.encoder: Encoder | None = None
        self.cache: EmbeddingCache | None = None
        self.calibration: Calibration = DEFAULT_CALIBRATION
        self.error: str | None = None
        self._lock = threading.Lock()  # one encoding at a time, whichever thread asks

    @property
    def ready(self) -> bool:
        return self.encoder is not None

    def load(self) -> bool:
        """Load the encoder (blocking). False, with `error` set, when it cannot be loaded."""
        try:
            encoder = self._loader()
        except Exception as exc:  # noqa: BLE001 - any failure only means: no suggestions
            self.error = f"{type(exc).__name__}: {exc}"
            return False
        self.cache = EmbeddingCache(self._cache_folder or default_cache_folder(), encoder.name)
        self.encoder = encoder
        return True

    def similarities(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Cosine similarity of each (reference, answer), in one encoder batch."""
        if self.encoder is None or self.cache is None:
            raise RuntimeError("the encoder is not loaded")
        texts = [t for pair in pairs for t in pair]
        with self._lock:
            vectors = self.cache.embed(self.encoder, texts)
        return [cosine(vectors[2 * i], vectors[2 * i + 1]) for i in range(len(pairs))]

    def suggest(self, reference: str, answer: str, question: str | None = None,
                calibration: Calibration | None = None) -> Suggestion:
        """The suggestion for one typed answer; the learner's calibration unless given."""
        return self.suggest_many([(question, reference, answer)], calibration)[0]

    def suggest_many(self, items: Sequence[tuple[str | None, str, str]],
                     calibration: Calibration | None = None) -> list[Suggestion]:
        """Suggestions for (question or None, reference, answer) triples, in one batch."""
        pairs = [(ref, ans) for _q, ref, ans in items]
        asked = [i for i, (q, _r, _a) in enumerate(items) if q]
        pairs += [(str(items[i][0]), items[i][2]) for i in asked]
        sims = self.similarities(pairs)
        question_sims: dict[int, float] = dict(zip(asked, sims[len(items):]))
        cal = calibration or self.calibration
        return [suggest(sims[i], question_sims.get(i), cal) for i in range(len(items))]

    def calibrate(self, graded: Sequence[GradedAnswer]) -> Calibration:
        """Refit the calibration to the learner's own grades (the default below
        `study.suggest.MIN_GRADES` of them) and use it from now on."""
        found = self.suggest_many([(g.question, g.reference, g.answer) for g in graded],
                                  DEFAULT_CALIBRATION) if graded else []
        self.calibration = refit([(s.closeness, g.rating) for s, g in zip(found, graded)])
        return self.calibration
