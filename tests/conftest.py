import os

# What the tests start (notebook kernels, workers, torchrun ranks) runs at one thread too, as
# this process does (`one_thread`): at torch's 2 threads they fought each other and pytest-xdist's
# processes for the cores (make test took 740-860 s on 2 cores; 443-664 s at one thread).
os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest  # noqa: E402  (after the thread count: torch reads it when it starts)
import torch  # noqa: E402

from growkit import GPT, GPTConfig, load_text


@pytest.fixture(autouse=True, scope="session")
def one_thread():
    # Tiny models run fastest on one thread, and it avoids oversubscribing a shared CPU
    # (two threads time-sliced against another process slow down many-fold).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.fixture
def x(corpus) -> torch.Tensor:
    """A validation batch of 4 sequences of 16 tokens, the same every time."""
    return corpus.batch("val", 4, 16, torch.Generator().manual_seed(1))[0]
