"""Width operators: G_direct (duplication), G_zero, G_random and G_learn; composition."""

import pytest
import torch
from helpers import expected_params, logits

from growkit import GPT, GPTConfig, grow
from growkit.grow import grow_with_sources, resolve
from growkit.grow.width import narrowed_config, widened_config


def assert_wider(small: GPT, big: GPT, factor: float) -> None:
    s, b = small.config, big.config
    assert b.head_dim == s.head_dim
    assert (b.n_head, b.n_embd, b.mlp_hidden) == (s.n_head * factor, s.n_embd * factor,
                                                  s.mlp_hidden * factor)
    assert (b.n_layer, b.vocab_size, b.tie_weights) == (s.n_layer, s.vocab_size, s.tie_weights)
    assert big.n_params() == expected_params(b)
    assert big.blocks[0].attn.q_proj.weight.shape == (b.n_embd, b.n_embd)
    assert big.blocks[0].mlp.down_proj.weight.shape == (b.n_embd, b.mlp_hidden)
    assert big.tok_emb.weight.shape == (b.vocab_size, b.n_embd)


@pytest.fixture(params=[False, True], ids=["untied", "tied"])
def small(request, tiny_config) -> GPT:
    """The tiny GPT, trained a few steps so that its norm gains are no longer all ones."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(**{**tiny_config.to_dict(), "tie_weights": request.param}))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


# ---- G_direct ---------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [2, 3])
def test_direct_width_duplicates_units_and_preserves_exactly(small, x, factor):
    assert resolve("direct", "width").preserves_function
    g = grow_with_sources(small, "direct", dim="width", factor=factor)
    big = g.model
    assert_wider(small, big, factor)
    D, H, hd = small.config.n_embd, small.config.n_head, small.config.head_dim
    q_small, q_big = small.blocks[1].attn.q_proj.weight, big.blocks[1].attn.q_proj.weight
    # Whole heads repeat (rows), inputs from the repeated stream are divided (columns).
    torch.testing.assert_close(q_big[H * hd:2 * H * hd, D:2 * D], q_small / factor)
    assert g.sources == {}  # every weight is reshaped: nothing to carry moments for
    if small.config.tie_weights:
        assert big.lm_head.weight is big.tok_emb.weight
    torch.testing.assert_close(logits(big, x), logits(small, x))


def test_factor_one_copies_everything_and_lists_it_as_sources(small, x):
    g = grow_with_sources(small, "direct", dim="width", factor=1)
    assert set(g.sources) == set(small.state_dict())
    torch.testing.assert_close(logits(g.model, x), logits(small, x), rtol=0, atol=0)


# ---- G_zero -----------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [2, 1.5])
def test_zero_width_preserves_exactly_under_rmsnorm(small, x, factor):
    assert resolve("zero", "width").preserves_function
    big = grow(small, "zero", dim="width", factor=factor)
    assert_wider(small, big, factor)
    D = small.config.n_embd
    s = (D / big.config.n_embd) ** 0.5
    assert big.config.norm_eps == pytest.approx(small.config.norm_eps * s**2)
    assert big.blocks[0].attn_norm.eps == big.config.norm_eps
    torch.testing.assert_close(big.norm.weight[:D], small.norm.weight * s)
    assert not big.tok_emb.weight[:, D:].any()
    o_small, o_big = small.blocks[0].attn.o_proj.weight, big.blocks[0].attn.o_proj.weight
    assert torch.equal(o_big[:D, :D], o_small)
    assert not o_big[D:].any() and not o_big[:, D:].any()
    down = big.blocks[1].mlp.down_proj.weight
    assert not down[:, small.config.mlp_hidden:].any()
    # New heads' incoming weights are initialised, not zero: they learn.
    assert big.blocks[0].attn.q_proj.weight[D:].std() > 0
    torch.testing.assert_close(logits(big, x), logits(small, x))


# ---- G_random ---------------------------------------------------------------------------

@pytest.mark.parametrize("factor", [2, 1.5])
def test_random_width_keeps_the_small_corner_and_changes_the_function(small, x, factor):
    assert not resolve("random", "width").preserves_function
    big = grow(small, "random", dim="width", factor=factor, seed=0)
    assert_wider(small, big, factor)
    D, F = small.config.n_embd, small.config.mlp_hidden
    down_small, down_big = small.blocks[1].mlp.down_proj.weight, big.blocks[1].mlp.down_proj.weight
    assert torch.equal(down_big[:D, :F], down_small)
    assert torch.equal(big.norm.weight[:D], small.norm.weight)
    assert big.config.norm_eps == small.config.norm_eps
    assert (logits(big, x) - logits(small, x)).abs().max() > 1e-4


# ---- G_learn ----------------------------------------------------------------------------

def test_learn_width_lowers_its_loss(tiny_gpt, corpus, x):
    assert not resolve("learn", "width").preserves_function
    g = grow_with_sources(tiny_gpt, "learn", dim="width", factor=2, data=corpus, steps=20,
                          lr=1e-2, batch_size=8, seed=0)
    assert_wider(tiny_gpt, g.model, 2)
    assert g.info["loss_end"] < g.info["loss_start"] and len(g.info["losses"]) == 20
    assert (logits(g.model, x) - logits(tiny_gpt, x)).abs().max() > 1e-4
    g.model(x, x)[1].backward()  # a plain GPT that trains on
    assert all(p.grad is not None for p in g.model.parameters())


def test_learn_width_at_step_zero_is_identity_plus_noise(tiny_gpt, corpus):
    big = grow(tiny_gpt, "learn", dim="width", factor=2, data=corpus, steps=0, batch_size=2,
               noise=0.0)
    D, F = tiny_gpt.config.n_embd, tiny_gpt.config.mlp_hidden
    up_small, up_big = tiny_gpt.blocks[0].mlp.up_proj.weight, big.blocks[0].mlp.up_proj.weight
    assert torch.equal(up_big[:F, :D], up_small)
    assert not up_big[F:].any()  # no noise: new rows are zero


def test_learn_width_needs_data(tiny_gpt):
    with pytest.raises(ValueError, match="pass data=<a growkit TextCorpus>"):
        grow(tiny_gpt, "learn", dim="width", factor=2)


# ---- composition --------------------------------------------------------------------------

def test_depth_and_width_compose(tiny_gpt, x):
    stacked = grow(tiny_gpt, "stack", dim="depth", factor=2)
    both = grow(stacked, "direct", dim="width", factor=2)
    assert (both.config.n_layer, both.config.n_embd, both.config.n_head) == (4, 32, 4)
    assert both.n_params() == expected_params(both.config)
    torch.testing.assert_close(logits(both, x), logits(stacked, x))
    # Two preserving operators in either order preserve the small model's function.
    zz = grow(grow(tiny_gpt, "zero", dim="width", factor=2), "zero", dim="depth", factor=2)
    torch.testing.assert_close(logits(zz, x), logits(tiny_gpt, x))
    dz = grow(grow(tiny_gpt, "zero", dim="depth", factor=2), "direct", dim="width", factor=2)
    torch.testing.assert_close(logits(dz, x), logits(tiny_gpt, x))


# ---- bad input ----------------------------------------------------------------------------

def test_width_bad_input_names_the_fix(tiny_gpt, tiny_config):
    # n_head=2: a factor of 1.25 would need 2.5 heads of the same size.
    with pytest.raises(ValueError, match=r"n_head \* factor must be whole.*factor=1.5"):
        grow(tiny_gpt, "zero", dim="width", factor=1.25)
    with pytest.raises(ValueError, match=r"integer factor.*factor=2"):
        grow(tiny_gpt, "direct", dim="width", factor=1.5)
    odd_hidden = GPT(GPTConfig(**{**tiny_config.to_dict(), "mlp_hidden": 45}))
    with pytest.raises(ValueError, match=r"not a whole number of hidden units.*factor=2"):
        grow(odd_hidden, "random", dim="width", factor=1.5)
    with pytest.raises(ValueError, match=">= 1"):
        grow(tiny_gpt, "zero", dim="width", factor=0.5)
    with pytest.raises(ValueError, match=r"'split' for a GPT: .*dim='width' with op='direct', 'zero'"):
        grow(tiny_gpt, "split", dim="width")
    # G_stack is depth growth: in width the name is an error that points to 'direct'.
    with pytest.raises(ValueError, match=r"'stack' grows a GPT in depth.*dim='width' with op='direct'"):
        grow(tiny_gpt, "stack", dim="width")


@pytest.mark.parametrize("op", ["direct", "zero", "random", "learn"])
def test_width_operators_are_pure_and_refuse_other_models(tiny_gpt, corpus, op):
    before = {k: v.clone() for k, v in tiny_gpt.state_dict().items()}
    options = {"data": corpus, "steps": 2, "batch_size": 2} if op == "learn" else {}
    big = grow(tiny_gpt, op, dim="width", factor=2, **options)
    with torch.no_grad():
        for p in big.parameters():
            p.add_(1.0)
    for k, v in tiny_gpt.state_dict().items():
        assert torch.equal(v, before[k]), k
    with pytest.raises(TypeError, match="no growth operator grows a Linear"):
        grow(torch.nn.Linear(2, 2), op, dim="width")


# ---- the configs: widened and its inverse -----------------------------------------------------

@pytest.mark.parametrize("factor", [2, 1.5, 3])
def test_narrowed_config_inverts_widened_config(factor):
    small = GPTConfig(vocab_size=50, n_layer=2, n_head=2, n_embd=16, mlp_hidden=48)
    wide = widened_config(small, factor)
    assert narrowed_config(wide, factor) == small
    assert widened_config(narrowed_config(wide, factor), factor) == wide


def test_narrowed_config_names_the_values_and_a_factor_that_works():
    target = GPTConfig(vocab_size=50, n_layer=2, n_head=6, n_embd=48, mlp_hidden=132)
    narrow = narrowed_config(target, 3)
    assert (narrow.n_head, narrow.head_dim, narrow.mlp_hidden) == (2, 8, 44)
    with pytest.raises(ValueError, match=r"width factor 4 must divide the target's 6 heads and 132 "
                                         r"MLP hidden units.*6 / 4 = 1.5.*use factor=2 \(or one of \[3, 6\]\)"):
        narrowed_config(target, 4)
    with pytest.raises(ValueError, match="no whole factor > 1 divides both"):
        narrowed_config(GPTConfig(n_head=2, n_embd=16, mlp_hidden=45), 2)


def test_a_width_hint_works_when_pasted():
    """3 heads x 1.5 is 4.5: the hint is 5/3, which Python reads back exactly (1.66667 would
    give 4.99999 heads and be refused), and it ends without a stray period."""
    import re

    model = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=3, n_embd=24, mlp_hidden=60))
    with pytest.raises(ValueError) as refused:
        grow(model, "zero", dim="width", factor=1.5)
    hint = re.search(r"e\.g\. factor=([0-9/.]+) \(", str(refused.value))
    assert hint and hint.group(1) == "5/3", str(refused.value)
    assert grow(model, "zero", dim="width", factor=eval(hint.group(1))).config.n_head == 5
