"""Every growth operator on grouped-query-attention models: depth unchanged in meaning,
width keeps n_head / n_kv_head, preservation exact where an operator claims it."""

import pytest
import torch
from helpers import logits, perturbed_gqa_gpt

from growkit import GPT, GPTConfig, grow
from growkit.grow import grow_with_sources, resolve
from growkit.grow.width import narrowed_config, widened_config


@pytest.fixture(params=[False, True], ids=["untied", "tied"])
def small(request, corpus) -> GPT:
    return perturbed_gqa_gpt(corpus.vocab_size, tie_weights=request.param)


def options(op: str, corpus) -> dict:
    return {"data": corpus, "steps": 2, "batch_size": 2, "seed": 0} if op == "learn" else {}


@pytest.mark.parametrize("op", ["stack", "zero", "random", "learn"])
def test_depth_operators_on_gqa_keep_the_heads_and_preserve_where_claimed(small, x, corpus, op):
    big = grow(small, op, dim="depth", factor=2, **options(op, corpus))
    assert (big.config.n_layer, big.config.n_head, big.config.kv_heads) == (4, 6, 2)
    diff = (logits(big, x) - logits(small, x)).abs().max()
    if resolve(op, "depth").preserves_function:
        assert diff == 0  # zero blocks add exactly zero
    else:
        assert diff > 1e-4


@pytest.mark.parametrize("op,factor", [("direct", 2), ("direct", 3), ("zero", 2), ("zero", 1.5),
                                       ("random", 2), ("learn", 2)])
def test_width_operators_on_gqa_keep_the_grouping(small, x, corpus, op, factor):
    g = grow_with_sources(small, op, dim="width", factor=factor, **options(op, corpus))
    b = g.model.config
    assert (b.n_head, b.kv_heads, b.head_dim) == (6 * factor, 2 * factor, 8)
    assert b.n_head // b.kv_heads == 3
    attn = g.model.blocks[0].attn
    assert attn.k_proj.weight.shape == (b.kv_heads * 8, b.n_embd)
    diff = (logits(g.model, x) - logits(small, x)).abs().max()
    if resolve(op, "width").preserves_function:
        assert diff < 1e-5
    else:
        assert diff > 1e-4
    g.model(x, x)[1].backward()  # trains on
    assert all(p.grad is not None for p in g.model.parameters())


def test_direct_width_tiles_key_value_heads_so_each_copy_reads_its_own(small):
    big = grow(small, "direct", dim="width", factor=2)
    k_small, k_big = small.blocks[0].attn.k_proj.weight, big.blocks[0].attn.k_proj.weight
    D = small.config.n_embd
    # Copy c of the two kv heads sits at rows c * 16 .. c * 16 + 15, reading the tiled stream / 2.
    torch.testing.assert_close(k_big[16:32, D:2 * D], k_small / 2)


def test_width_growth_with_a_head_size_set_apart_preserves(corpus, x):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=2, n_head=4,
                          n_embd=32, n_kv_head=2, head_size=12))
    for op in ("direct", "zero"):
        big = grow(model, op, dim="width", factor=2)
        assert (big.config.n_embd, big.config.head_dim, big.config.kv_heads) == (64, 12, 4)
        assert (logits(big, x) - logits(model, x)).abs().max() < 1e-5


def test_width_factor_that_splits_a_key_value_head_names_the_fix(small):
    # 6 query heads x 4/3 = 8, but 2 kv heads x 4/3 is not whole.
    with pytest.raises(ValueError, match=r"n_kv_head = 2 \* 1.33333 = 2.66667.*grouping of 3 query "
                                         r"heads per key/value head.*factor=1.5"):
        grow(small, "zero", dim="width", factor=4 / 3)


def test_narrowed_config_inverts_widened_config_with_gqa():
    small = GPTConfig(vocab_size=50, n_layer=2, n_head=6, n_embd=48, n_kv_head=2, mlp_hidden=48)
    for factor in (2, 1.5, 3):
        assert narrowed_config(widened_config(small, factor), factor) == small
    target = GPTConfig(vocab_size=50, n_layer=2, n_head=6, n_embd=48, n_kv_head=3, mlp_hidden=48)
    with pytest.raises(ValueError, match=r"6 heads, 3 key/value heads.*3 / 2 = 1.5.*use factor=3"):
        narrowed_config(target, 2)
