import pytest
import torch

from growkit import data as data_mod
from growkit.data import DatasetUnavailable, corpus_from_text, fetch, load_text


def test_kjv_is_offline_deterministic_and_round_trips(corpus):
    assert corpus.vocab_size < 100 and len(corpus.train) > 3_000_000 and len(corpus.val) > 300_000
    text = "In the beginning God created the heaven and the earth."
    assert corpus.decode(corpus.encode(text)) == text
    # Same name, same split and vocabulary, every time.
    again = data_mod.corpus_from_text("kjv", data_mod._kjv_text())
    assert again.vocab == corpus.vocab and torch.equal(again.val, corpus.val)


def test_batches_are_shifted_windows_from_a_seeded_generator(corpus):
    x, y = corpus.batch("train", 4, 32, torch.Generator().manual_seed(3))
    x2, y2 = corpus.batch("train", 4, 32, torch.Generator().manual_seed(3))
    assert x.shape == y.shape == (4, 32)
    assert torch.equal(x, x2) and torch.equal(x[:, 1:], y[:, :-1])


def test_split_is_disjoint_and_covers_the_text():
    text = "".join(chr(97 + (i * 7) % 26) for i in range(250_000))
    c = corpus_from_text("toy", text)
    assert len(c.train) + len(c.val) == len(text)
    assert c.decode(c.val[:20]) == text[90_000:90_020]  # the 10th chunk is validation


def test_unknown_corpus_and_unknown_characters_are_clear_errors(corpus):
    with pytest.raises(ValueError, match="known: .*kjv"):
        load_text("nope")
    with pytest.raises(ValueError, match="not in the kjv vocabulary"):
        corpus.encode("~")


def test_download_verifies_checksum_and_fails_clearly_offline(tmp_path):
    src = tmp_path / "remote.txt"
    src.write_text("to be or not to be\n" * 10)
    good = data_mod.sha256_of(src)
    dest = tmp_path / "cache" / "input.txt"
    assert fetch(src.as_uri(), dest, good, "kjv").read_text() == src.read_text()
    with pytest.raises(DatasetUnavailable, match="expected"):
        fetch(src.as_uri(), tmp_path / "other.txt", "0" * 64, "kjv")
    assert not (tmp_path / "other.txt").exists()
    with pytest.raises(DatasetUnavailable, match="use the offline corpus 'kjv'"):
        fetch((tmp_path / "missing.txt").as_uri(), tmp_path / "x.txt", good,
              "the offline corpus 'kjv'")


def test_shakespeare_uses_a_verified_local_copy(tmp_path, monkeypatch):
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 2000
    path = tmp_path / "shakespeare" / "input.txt"
    path.parent.mkdir()
    path.write_text(text)
    monkeypatch.setattr(data_mod, "DATA_DIR", tmp_path)
    monkeypatch.setattr(data_mod, "SHAKESPEARE_SHA256", data_mod.sha256_of(path))
    monkeypatch.setattr(data_mod, "_cache", {})
    c = load_text("shakespeare")
    assert c.decode(c.train[:14]) == "First Citizen:"


def word_tokenizer(text: str):
    """A Hugging Face tokenizer built here (no network): one id per word of `text`."""
    pytest.importorskip("transformers", reason="tokenised corpora need transformers: pip install 'growkit[hf]'")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([text], trainers.WordLevelTrainer(special_tokens=["[UNK]"]))
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_a_tokenizer_gives_the_same_text_and_split_in_its_tokens(corpus):
    from growkit import GPT, GPTConfig
    from growkit.data import SPLIT_CHUNK, VAL_EVERY, TextCorpus, TokenizedCorpus

    text = data_mod._kjv_text()
    tokenizer = word_tokenizer(text[:200_000])
    tokens = load_text("kjv", tokenizer=tokenizer)
    assert isinstance(tokens, TokenizedCorpus) and isinstance(tokens, TextCorpus)
    assert tokens.vocab_size == len(tokenizer) and tokens.name.startswith("kjv+")
    # Validation starts with the same passage as the character corpus's: chunk VAL_EVERY - 1.
    first_val = text[(VAL_EVERY - 1) * SPLIT_CHUNK:VAL_EVERY * SPLIT_CHUNK]
    assert corpus.decode(corpus.val[:SPLIT_CHUNK]) == first_val
    expected = tokens.encode(first_val)
    assert torch.equal(tokens.val[:len(expected)], expected)
    assert tokens.decode(tokens.encode("the heaven and the earth")) == "the heaven and the earth"
    x, y = tokens.batch("train", 2, 8, torch.Generator().manual_seed(0))
    assert x.shape == (2, 8) and int(x.max()) < tokens.vocab_size
    GPT(GPTConfig(vocab_size=tokens.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16))(x, y)
    too_small = GPT(GPTConfig(vocab_size=2, block_size=8, n_layer=1, n_head=2, n_embd=16))
    with pytest.raises(IndexError, match="outside this model's vocabulary"):
        too_small(x.clamp(min=2))
