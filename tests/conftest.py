import pytest
import torch

from growkit import GPT, GPTConfig, load_text


@pytest.fixture(scope="session")
def corpus():
    return load_text("kjv")


@pytest.fixture
def tiny_config(corpus) -> GPTConfig:
    return GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture
def tiny_gpt(tiny_config) -> GPT:
    torch.manual_seed(0)
    return GPT(tiny_config)
