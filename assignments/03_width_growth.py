# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: 03_width_growth
# runs_on: colab
# init_cell: true
# check_all_cell: true
# export_cell:
#   pdf: false
# run_tests: false
# generate: true
# tests:
#   files: true
#   ok_format: false

# %% [markdown]
# # Assignment 3: width growth that preserves the function
#
# You write **G_direct→** in width for the course GPT, Net2WiderNet style: every unit is duplicated and the weights that *read* duplicated units are divided, so the wider model computes exactly what the small one did. "Exactly" has to survive RMSNorm, rotary attention heads, SwiGLU and a head that may share its matrix with the embedding.
#
# The GPT's weights (`small.state_dict()`): `tok_emb.weight` (vocab, n_embd); per block `attn_norm.weight`, `mlp_norm.weight` (n_embd); `attn.q_proj/k_proj/v_proj.weight` (n_embd, n_embd: rows are the heads' dimensions, head after head); `attn.o_proj.weight` (n_embd, n_embd); `mlp.gate_proj/up_proj.weight` (mlp_hidden, n_embd); `mlp.down_proj.weight` (n_embd, mlp_hidden); then `norm.weight` (n_embd) and `lm_head.weight` (vocab, n_embd). A Linear weight is (out, in). Widening by `factor` g keeps the head size: g times the heads, g times n_embd, g times mlp_hidden.
#
# Each `grader.check` cell runs the public tests; hidden tests grade random sizes and head counts. Seconds on a CPU.

# %%
import dataclasses

import torch
from growkit import GPT, GPTConfig

torch.manual_seed(0)
small = GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=2, n_head=2, n_embd=16))
x = torch.randint(0, 50, (4, 16))

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 5

# %% [markdown]
# ## Q1. Net2Wider for an untied GPT
#
# Write `grow_wider(small, factor)` returning a new GPT `factor` times wider that computes the same logits.
#
# - Duplicate by **tiling** whole blocks of units: the residual stream becomes `[x, x, ..., x]` (`w.repeat(...)`), so whole heads repeat with their rows, and RMSNorm's mean square over the tiled stream is unchanged (tile the norm gains too).
# - Every weight that reads a tiled axis sums `factor` copies of each input: divide it by `factor`. The vocabulary axis never grows.
#
# Hint: for a Linear weight `w` (out, in) whose both axes grow, `w.repeat(g, g) / g`; `GPT(dataclasses.replace(cfg, n_head=..., n_embd=..., mlp_hidden=...))`, then `big.load_state_dict(new_state)`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def grow_wider(small, factor):
    # BEGIN SOLUTION
    g, cfg = factor, small.config
    # Tied head: the embedding and the head are one matrix, tiled for one and tiled / g for the other
    # at once only if the whole stream carries tile(x) / g: the embedding and every residual output get
    # 1/g, and RMSNorm (scale-free up to eps) gets eps / g^2 so its output is unchanged.
    scale = 1 / g if cfg.tie_weights else 1.0
    big = GPT(dataclasses.replace(cfg, n_head=cfg.n_head * g, n_embd=cfg.n_embd * g,
                                  mlp_hidden=cfg.mlp_hidden * g, norm_eps=cfg.norm_eps * scale**2))
    new = {}
    for name, w in small.state_dict().items():
        if name == "tok_emb.weight":
            new[name] = w.repeat(1, g) * scale  # (vocab, embd): the stream tiled
        elif name == "lm_head.weight":
            new[name] = w.repeat(1, g) / g  # reads the tiled stream
        elif w.ndim == 1:
            new[name] = w.repeat(g)  # norm gains over the tiled stream
        else:
            new[name] = w.repeat(g, g) / g  # both axes tiled, the input one summed g times
            if name.endswith(("o_proj.weight", "down_proj.weight")):
                new[name] = new[name] * scale  # writes into the stream
    big.load_state_dict(new)
    return big
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %%
big = grow_wider(small, 2)
with torch.no_grad():
    print("largest change of a logit:", (big(x)[0] - small(x)[0]).abs().max().item())

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_doubles_and_preserves(grow_wider):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(1)
    small = GPT(GPTConfig(vocab_size=30, block_size=8, n_layer=2, n_head=2, n_embd=8))
    big = grow_wider(small, 2)
    assert isinstance(big, GPT), f"grow_wider must return a GPT, got {type(big).__name__}"
    shape = (big.config.n_head, big.config.n_embd, big.config.mlp_hidden)
    assert shape == (4, 16, 48), f"n_head, n_embd, mlp_hidden 2, 8, 24 widened by 2 are 4, 16, 48, got {shape}"
    x = torch.randint(0, 30, (3, 8))
    with torch.no_grad():
        change = (big(x)[0] - small(x)[0]).abs().max().item()
    if change >= 1e-5 and not torch.allclose(big.tok_emb.weight[:, :8], small.tok_emb.weight):
        raise AssertionError(
            f"the wider model's logits differ by {change:.3g}, and its embedding does not start with the small "
            "embedding's 8 columns: tile whole blocks of units ([E, E], w.repeat), not each unit in place "
            "(repeat_interleave), so every head's rows stay together")
    assert change < 1e-5, (f"the wider model's logits differ by {change:.3g}: every weight reading a duplicated "
                           "unit sees each input twice; did you divide the duplicated inputs' weights by the "
                           "factor?")

# %%
""" # BEGIN TEST CONFIG
points: 2
hidden: true
""" # END TEST CONFIG
def test_q1_exact_at_random_sizes(grow_wider):
    import random

    import torch
    from growkit import GPT, GPTConfig
    rng = random.Random(11)
    for trial in range(8):
        heads = rng.randint(1, 4)
        cfg = GPTConfig(vocab_size=rng.randint(10, 60), block_size=8, n_layer=rng.randint(1, 3), n_head=heads,
                        n_embd=heads * 2 * rng.randint(1, 4), mlp_hidden=rng.randint(3, 40))
        factor = rng.randint(2, 3)
        torch.manual_seed(trial)
        small = GPT(cfg)
        with torch.no_grad():  # a trained model's norm gains are not all 1 any more
            for name, p in small.named_parameters():
                if name.endswith("norm.weight"):
                    p.uniform_(0.5, 1.5)
        big = grow_wider(small, factor)
        want = (heads * factor, cfg.n_embd * factor, cfg.mlp_hidden * factor)
        got = (big.config.n_head, big.config.n_embd, big.config.mlp_hidden) if isinstance(big, GPT) else big
        assert got == want, f"{cfg} widened by {factor}: n_head, n_embd, mlp_hidden should be {want}, got {got}"
        for shape in ((2, 8), (3, rng.randint(2, 7))):
            x = torch.randint(0, cfg.vocab_size, shape)
            with torch.no_grad():
                ref = small(x)[0]
                change = (big(x)[0] - ref).abs().max().item()
            assert change <= 1e-5 * (1 + ref.abs().max().item()), (
                f"at n_head={heads}, head size {cfg.head_dim}, mlp_hidden={cfg.mlp_hidden}, factor {factor}, a "
                f"trained model (norm gains not 1), input of shape {shape}: the logits change by {change:.3g}. Tile "
                "whole blocks of units (a head's rows must stay together for its rotary pairs), every tensor the "
                "small model has (its norm gains too), and divide every weight that reads tiled units")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_input_untouched(grow_wider):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(2)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    before = {k: v.clone() for k, v in small.state_dict().items()}
    big = grow_wider(small, 2)
    assert isinstance(big, GPT) and big.config.n_embd == 16, "grow_wider(small, 2) must return a GPT twice as wide"
    with torch.no_grad():
        for p in big.parameters():
            p.add_(1.0)
    changed = [k for k, v in small.state_dict().items() if not torch.equal(v, before[k])]
    assert not changed, f"grow_wider changed the small model's {changed[:3]}: build the wide weights as new tensors"

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_every_tensor(grow_wider):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(12)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=8, mlp_hidden=10))
    with torch.no_grad():
        for p in small.parameters():
            p.add_(torch.rand_like(p))  # every tensor off its initial value, the norm gains too
    big = grow_wider(small, 2)
    assert isinstance(big, GPT) and big.config.n_embd == 16, "grow_wider(small, 2) must return a GPT twice as wide"
    mine = big.state_dict()
    for name, w in small.state_dict().items():
        if name == "tok_emb.weight":
            want, what = w.repeat(1, 2), "the embedding, its columns tiled"
        elif name == "lm_head.weight":
            want, what = w.repeat(1, 2) / 2, "the head, reading the tiled stream"
        elif w.ndim == 1:
            want, what = w.repeat(2), "a norm gain over the tiled stream"
        else:
            want, what = w.repeat(2, 2) / 2, "a weight whose both axes are tiled"
        got = mine.get(name)
        assert got is not None and got.shape == want.shape and torch.allclose(got, want, atol=1e-6), (
            f"the wide model's {name} ({what}) is not what Net2Wider makes of the small model's: check its tiling, "
            "and which of its axes reads tiled units")
    ptrs = {}
    for name, p in big.state_dict(keep_vars=True).items():
        other = ptrs.setdefault(p.data_ptr(), name)
        assert other == name, f"the wide model's {other} and {name} are one tensor: each needs its own"
    x = torch.randint(0, 20, (3, 8), generator=torch.Generator().manual_seed(2))
    _, loss = big(x, x)
    loss.backward()
    stuck = [n for n, p in big.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not stuck, f"no gradient reaches the wide model's {stuck[:3]}: every tensor should train"

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# ## Q2. A tied head
#
# With `tie_weights=True` the head *is* the embedding matrix: `lm_head.weight` and `tok_emb.weight` are one tensor, so it cannot be tiled for the embedding and tiled-and-divided for the head. Make your `grow_wider` above exact for tied models too (go back and change it; the tests below use `tie_weights=True`).
#
# Hint: let the wide stream carry `tile(x) / g` instead of `tile(x)`. RMSNorm divides by the root mean square, so it does not care about the scale, *except* through its `eps`; which `norm_eps` makes it exact? And which weights write into the stream, so must carry the 1/g too?

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_tied(grow_wider):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(3)
    small = GPT(GPTConfig(vocab_size=30, block_size=8, n_layer=2, n_head=2, n_embd=8, tie_weights=True))
    big = grow_wider(small, 2)
    assert isinstance(big, GPT) and big.config.n_embd == 16, "grow_wider(small, 2) must return a GPT twice as wide"
    assert big.config.tie_weights, "the wide model must keep a tied head (tie_weights=True)"
    x = torch.randint(0, 30, (3, 8))
    with torch.no_grad():
        ref = small(x)[0]
        change = (big(x)[0] - ref).abs().max().item()
    assert change < 1e-5, (f"with a tied head the logits change by {change:.3g} (the logits themselves are about "
                           f"{ref.abs().max().item():.2g}): the one matrix is both the embedding and the head. "
                           "What scale of the wide stream lets one matrix serve both, which weights must carry that "
                           "scale, and is every part of RMSNorm indifferent to it?")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_tied_random_sizes(grow_wider):
    import random

    import torch
    from growkit import GPT, GPTConfig
    rng = random.Random(13)
    for trial in range(6):
        heads = rng.randint(1, 3)
        cfg = GPTConfig(vocab_size=rng.randint(10, 60), block_size=8, n_layer=rng.randint(1, 3), n_head=heads,
                        n_embd=heads * 2 * rng.randint(1, 4), mlp_hidden=rng.randint(3, 30), tie_weights=True,
                        norm_eps=rng.choice([1e-6, 1e-5, 1e-2]))
        factor = rng.randint(2, 3)
        torch.manual_seed(trial)
        small = GPT(cfg)
        with torch.no_grad():  # a trained model's norm gains are not all 1 any more
            for name, p in small.named_parameters():
                if name.endswith("norm.weight"):
                    p.uniform_(0.5, 1.5)
        big = grow_wider(small, factor)
        assert isinstance(big, GPT) and big.config.n_embd == cfg.n_embd * factor, (
            f"{cfg} widened by {factor}: expected a GPT with n_embd {cfg.n_embd * factor}")
        x = torch.randint(0, cfg.vocab_size, (2, 8))
        with torch.no_grad():
            ref = small(x)[0]
            change = (big(x)[0] - ref).abs().max().item()
        assert change <= 1e-5 * (1 + ref.abs().max().item()), (
            f"tied head, n_head={heads}, norm_eps={cfg.norm_eps}, factor {factor}: the logits change by "
            f"{change:.3g} (norm gains not 1). Does every part of RMSNorm, and every norm gain, follow the wide "
            "stream's scale?")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Compare with the course: `growkit.grow(small, "direct", dim="width", factor=2)` is the reference operator (`growkit/grow/width.py`), and notebook `03_width_growth` trains it against G_zero, G_random and G_learn in width.
