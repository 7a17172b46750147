"""LLaMA-Pro block expansion, SOLAR depth up-scaling and training only the new blocks."""

import pytest
import torch
from helpers import logits, perturbed_gqa_gpt

from growkit import GPT, grow
from growkit.grow import grow_with_sources
from growkit.grow.freeze import train_only
from growkit.grow.named import LLAMA_PRO, SOLAR, llama_pro, solar, solar_layers


@pytest.fixture
def gpt4(corpus) -> GPT:
    return perturbed_gqa_gpt(corpus.vocab_size, n_layer=4)


@pytest.mark.parametrize("every,new", [(2, [2, 5]), (1, [1, 3, 5, 7]), (4, [4])])
def test_llama_pro_interleaves_zero_output_copies_and_preserves_exactly(gpt4, x, every, new):
    g = llama_pro(gpt4, every=every)
    assert g.info["new_blocks"] == new and g.model.config.n_layer == 4 + 4 // every
    for i in new:
        block, before = g.model.blocks[i], gpt4.blocks[(i - new.index(i)) - 1]
        assert not block.attn.o_proj.weight.any() and not block.mlp.down_proj.weight.any()
        assert torch.equal(block.attn.q_proj.weight, before.attn.q_proj.weight)  # the paper's copy
        assert f"blocks.{i}.attn.o_proj.weight" not in g.sources
        assert g.sources[f"blocks.{i}.mlp.up_proj.weight"].startswith("blocks.")
    assert (logits(g.model, x) - logits(gpt4, x)).abs().max() == 0


def test_llama_pro_fresh_blocks_and_the_factor_operator(gpt4, x):
    fresh = llama_pro(gpt4, every=2, init="fresh", seed=0).model
    assert not torch.equal(fresh.blocks[2].attn.q_proj.weight, gpt4.blocks[1].attn.q_proj.weight)
    assert (logits(fresh, x) - logits(gpt4, x)).abs().max() == 0
    # factor 1.5 adds 2 blocks to 4: one after every 2, as llama_pro(every=2).
    g = grow_with_sources(gpt4, LLAMA_PRO, factor=1.5)
    assert g.info["new_blocks"] == [2, 5]
    with pytest.raises(ValueError, match=r"factor=1.3 adds 1.2.*use one of factor=1.25, 1.5, 2"):
        grow(gpt4, LLAMA_PRO, factor=1.3)
    with pytest.raises(ValueError, match=r"every=3 must be a whole number dividing n_layer=4.*\[1, 2, 4\]"):
        llama_pro(gpt4, every=3)


def test_solar_is_two_copies_with_the_seam_dropped_and_not_preserving(gpt4, x):
    # The paper: 32 blocks, drop 8 -> [0..23] + [8..31], 48 blocks: partial stacking of the middle.
    assert solar_layers(32, 8) == list(range(24)) + list(range(8, 32))
    # i.e. partial stacking of the middle: blocks 8..23 twice, the first and last 8 once.
    assert solar_layers(32, 8) == list(range(8)) + list(range(8, 24)) * 2 + list(range(24, 32))
    g = solar(gpt4, drop=1)
    assert g.info["layers"] == [0, 1, 2, 1, 2, 3] and g.model.config.n_layer == 6
    assert torch.equal(g.model.blocks[3].mlp.up_proj.weight, gpt4.blocks[1].mlp.up_proj.weight)
    assert (logits(g.model, x) - logits(gpt4, x)).abs().max() > 1e-3
    assert grow_with_sources(gpt4, SOLAR, factor=1.5).info["layers"] == [0, 1, 2, 1, 2, 3]
    with pytest.raises(ValueError, match=r"0 <= 2 \* drop < n_layer=4"):
        solar(gpt4, drop=2)
    with pytest.raises(ValueError, match=r"factor=1.2 must be in \(1, 2\].*factor=2, 1.5"):
        grow(gpt4, SOLAR, factor=1.2)


def test_train_only_the_new_blocks_updates_them_alone_and_counts_frozen_flops(gpt4, corpus):
    g = llama_pro(gpt4, every=2)
    model = g.model
    full = model.flops_per_token(16)
    names = train_only(model, g.info["new_blocks"])
    assert names and all(n.startswith(("blocks.2.", "blocks.5.")) for n in names)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    xb, yb = corpus.batch("train", 4, 16, torch.Generator().manual_seed(0))
    for _ in range(2):
        opt.zero_grad()
        model(xb, yb)[1].backward()
        opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed == set(names)
    # Blocks 0 and 1 sit below the lowest trainable block: their backward does not run.
    # Every block above still passes gradients down, the new ones also compute their own.
    assert model.flops_per_token(16) < full
    b0 = model.blocks[0]
    per_block_fwd = 2 * sum(m.weight.numel() for m in b0.modules() if isinstance(m, torch.nn.Linear))
    attn = 4 * 16 * 48
    trainable_block = 3 * per_block_fwd + 3 * attn  # forward, input and weight gradients
    frozen_above = 2 * per_block_fwd + 3 * attn  # forward and input gradients
    frozen_below = per_block_fwd + attn  # forward only
    head = 2 * 2 * model.lm_head.weight.numel()
    assert model.flops_per_token(16) == 2 * frozen_below + 2 * trainable_block + 2 * frozen_above + head
    with pytest.raises(ValueError, match=r"blocks must name at least one block in \[0, 6\)"):
        train_only(model, [6])
