"""Depth operators beyond plain stacking: partial stacking, G_zero, G_random, G_learn."""

import pytest
import torch
from helpers import expected_params, logits

from growkit import GPT, GPTConfig, grow
from growkit.grow import grow_with_sources, resolve
from growkit.grow.depth import layer_order


def briefly_trained(model: GPT, corpus, steps: int = 40) -> GPT:
    """A few AdamW steps, so the blocks are no longer interchangeable random ones."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        x, y = corpus.batch("train", 16, model.config.block_size, gen)
        loss = model(x, y)[1]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.fixture
def batch(corpus):
    return corpus.batch("val", 4, 16, torch.Generator().manual_seed(1))


@pytest.fixture
def gpt4(corpus) -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=corpus.vocab_size, block_size=16, n_layer=4, n_head=2,
                         n_embd=16))


# ---- partial stacking -----------------------------------------------------------------

def test_partial_stacking_layer_lists():
    assert layer_order(4, 2, "bottom") == [0, 1, 0, 1, 0, 1, 2, 3]
    assert layer_order(4, 2, "middle") == [0, 1, 2, 1, 2, 1, 2, 3]
    assert layer_order(4, 2, "top") == [0, 1, 2, 3, 2, 3, 2, 3]
    # 3 blocks to add: only a one-block part divides them.
    assert layer_order(3, 2, "middle") == [0, 1, 1, 1, 1, 2]
    assert layer_order(4, 2, "top", part_size=1) == [0, 1, 2, 3, 3, 3, 3, 3]
    for L, g in [(2, 4), (5, 3), (6, 4)]:
        for order in ("bottom", "middle", "top"):
            layers = layer_order(L, g, order)
            assert len(layers) == L * g and set(layers) == set(range(L)), (L, g, order)


@pytest.mark.parametrize("order", ["bottom", "middle", "top"])
def test_partial_stacking_copies_the_listed_blocks(gpt4, order):
    g = grow_with_sources(gpt4, "stack", dim="depth", factor=2, order=order)
    big = g.model
    assert big.config.n_layer == 8 and big.n_params() == expected_params(big.config)
    for j, src in enumerate(layer_order(4, 2, order)):
        assert torch.equal(big.blocks[j].attn.v_proj.weight, gpt4.blocks[src].attn.v_proj.weight)
        assert g.sources[f"blocks.{j}.mlp.up_proj.weight"] == f"blocks.{src}.mlp.up_proj.weight"


def test_partial_stacking_impossible_cases_name_the_fix(tiny_config):
    one_block = GPT(GPTConfig(**{**tiny_config.to_dict(), "n_layer": 1}))
    with pytest.raises(ValueError, match="n_layer >= 2.*use order='stack'"):
        grow(one_block, "stack", factor=2, order="top")
    with pytest.raises(ValueError, match=r"use one of part_size=\[1, 2\]"):
        layer_order(4, 2, "bottom", part_size=3)
    with pytest.raises(ValueError, match="'bottom', 'middle', 'top'"):
        layer_order(4, 2, "sideways")


# ---- G_zero -----------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [2, 3])
def test_zero_depth_interleaves_zero_output_blocks_and_preserves_exactly(tiny_gpt, batch, factor):
    assert resolve("zero", "depth").preserves_function
    g = grow_with_sources(tiny_gpt, "zero", dim="depth", factor=factor)
    big, L = g.model, tiny_gpt.config.n_layer
    assert big.config.n_layer == L * factor and big.n_params() == expected_params(big.config)
    for i, block in enumerate(big.blocks):
        if i % factor == 0:  # small block i / factor, copied where it sits
            src = tiny_gpt.blocks[i // factor]
            assert torch.equal(block.attn.q_proj.weight, src.attn.q_proj.weight)
            name = "attn.o_proj.weight"
            assert g.sources[f"blocks.{i}.{name}"] == f"blocks.{i // factor}.{name}"
        else:  # new: zero residual outputs, the rest initialised (not zero)
            assert not block.attn.o_proj.weight.any() and not block.mlp.down_proj.weight.any()
            assert block.attn.q_proj.weight.std() > 0 and block.mlp.up_proj.weight.std() > 0
            assert not any(k.startswith(f"blocks.{i}.") for k in g.sources)
    assert g.sources["lm_head.weight"] == "lm_head.weight"
    x, _ = batch
    torch.testing.assert_close(logits(big, x), logits(tiny_gpt, x), rtol=0, atol=0)


def test_zero_blocks_get_gradients_and_can_move_off_zero(tiny_gpt, batch):
    big = grow(tiny_gpt, "zero", dim="depth", factor=2)
    loss = big(*batch)[1]
    loss.backward()
    assert big.blocks[1].attn.o_proj.weight.grad.abs().max() > 0
    assert big.blocks[1].mlp.down_proj.weight.grad.abs().max() > 0


# ---- G_random ---------------------------------------------------------------------------

def test_random_depth_new_blocks_fresh_and_function_changes(tiny_gpt, batch):
    assert not resolve("random", "depth").preserves_function
    g = grow_with_sources(tiny_gpt, "random", dim="depth", factor=2)
    big = g.model
    assert big.config.n_layer == 4 and big.n_params() == expected_params(big.config)
    assert torch.equal(big.blocks[2].mlp.gate_proj.weight, tiny_gpt.blocks[1].mlp.gate_proj.weight)
    assert "blocks.3.mlp.gate_proj.weight" not in g.sources
    # New residual projections use the grown depth's init: std 0.02 / sqrt(2 * 4).
    assert 0.003 < big.blocks[3].mlp.down_proj.weight.std() < 0.01
    x, _ = batch
    assert (logits(big, x) - logits(tiny_gpt, x)).abs().max() > 1e-4


def test_seed_makes_new_blocks_reproducible_without_touching_the_global_rng(tiny_gpt):
    state = torch.get_rng_state()
    a = grow(tiny_gpt, "random", dim="depth", factor=2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)
    b = grow(tiny_gpt, "random", dim="depth", factor=2, seed=3)
    c = grow(tiny_gpt, "random", dim="depth", factor=2)
    assert torch.equal(a.blocks[1].attn.k_proj.weight, b.blocks[1].attn.k_proj.weight)
    assert not torch.equal(a.blocks[1].attn.k_proj.weight, c.blocks[1].attn.k_proj.weight)


# ---- G_learn ----------------------------------------------------------------------------

def test_learn_depth_starts_as_stacking(tiny_gpt, corpus, batch):
    learned = grow_with_sources(tiny_gpt, "learn", dim="depth", factor=2, data=corpus, steps=0,
                                batch_size=4)
    stacked = grow(tiny_gpt, "stack", dim="depth", factor=2)
    stacked_state = stacked.state_dict()
    for name, tensor in learned.model.state_dict().items():
        assert torch.equal(tensor, stacked_state[name]), name
    # Learned blocks are new; the copied embeddings, final norm and head are not.
    assert set(learned.sources) == {"tok_emb.weight", "norm.weight", "lm_head.weight"}


def test_learn_depth_lowers_its_loss_and_leaves_the_small_model_alone(tiny_gpt, corpus):
    small = briefly_trained(tiny_gpt, corpus)
    before = {k: v.clone() for k, v in small.state_dict().items()}
    g = grow_with_sources(small, "learn", dim="depth", factor=2, data=corpus, steps=30,
                          lr=3e-2, batch_size=16, seed=0)
    assert not resolve("learn", "depth").preserves_function
    assert g.model.config.n_layer == 4 and g.model.n_params() == expected_params(g.model.config)
    info = g.info
    assert info["steps"] == 30 and len(info["losses"]) == 30 and info["flops"] > 0
    assert info["loss_end"] < info["loss_start"]
    for k, v in small.state_dict().items():
        assert torch.equal(v, before[k]), k
    # The materialised GPT is a plain GPT that trains on.
    assert type(g.model) is GPT
    g.model(*corpus.batch("train", 2, 16, torch.Generator()))[1].backward()
    assert all(p.grad is not None for p in g.model.parameters())


def test_learn_needs_data(tiny_gpt):
    with pytest.raises(ValueError, match="pass data=<a growkit TextCorpus>"):
        grow(tiny_gpt, "learn", dim="depth", factor=2)


# ---- every depth operator ---------------------------------------------------------------

@pytest.mark.parametrize("op", ["zero", "random", "learn"])
def test_depth_operators_are_pure_and_refuse_other_models(tiny_gpt, corpus, op):
    before = {k: v.clone() for k, v in tiny_gpt.state_dict().items()}
    big = grow(tiny_gpt, op, dim="depth", factor=2, **({"data": corpus, "steps": 2, "batch_size": 2}
                                                      if op == "learn" else {}))
    with torch.no_grad():
        for p in big.parameters():
            p.add_(1.0)
    for k, v in tiny_gpt.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(TypeError, match="no growth operator grows a Linear"):
        grow(torch.nn.Linear(2, 2), op, dim="depth")


def test_tied_weights_survive_depth_growth(tiny_config, batch):
    torch.manual_seed(0)
    tied = GPT(GPTConfig(**{**tiny_config.to_dict(), "tie_weights": True}))
    big = grow(tied, "zero", dim="depth", factor=2)
    assert big.lm_head.weight is big.tok_emb.weight
    torch.testing.assert_close(logits(big, batch[0]), logits(tied, batch[0]), rtol=0, atol=0)
