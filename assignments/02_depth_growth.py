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
# name: 02_depth_growth
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
# # Assignment 2: depth growth that preserves the function
#
# You write two depth-growth operators for the course GPT (`growkit.gpt`: RMSNorm, rotary attention, SwiGLU, an optionally tied head): **G_zero↑**, which adds new blocks that change nothing, and **G_stack**, which repeats the trained stack. Both return a *new* model: the small one must come out untouched.
#
# A block adds two things to the residual stream: `x = x + attn.o_proj(...)` and `x = x + mlp.down_proj(...)`. Read `growkit/gpt.py` (the `Block` and `GPT` classes) before you start. Each `grader.check` cell runs the public tests; hidden tests grade random sizes, tied heads, the input model and whether the grown model trains. Seconds on a CPU.

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
# ## Q1. G_zero↑
#
# Write `grow_zero(small, factor)`: a GPT with `factor` times as many blocks. Small block `j` sits at position `j * factor`, followed by `factor - 1` **new** blocks. Everything the small model has (embedding, blocks, final norm, head) is copied; each new block keeps the fresh initialisation that `GPT(config)` gives it, except for the weights that must be zero so that the block adds exactly zero to the residual stream. Which ones? Not more than needed: the grown model has to be able to train them off zero.
#
# Hint: `dataclasses.replace(small.config, n_layer=...)`, `GPT(config)`, `module.load_state_dict(other.state_dict())` copies values; `with torch.no_grad(): weight.zero_()`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def grow_zero(small, factor):
    # BEGIN SOLUTION
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())  # tied: the same tensor again
        for j in range(L):
            big.blocks[j * factor].load_state_dict(small.blocks[j].state_dict())
            for k in range(1, factor):
                new = big.blocks[j * factor + k]
                new.attn.o_proj.weight.zero_()  # the attention adds nothing to the stream
                new.mlp.down_proj.weight.zero_()  # nor does the MLP
    return big
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %%
big = grow_zero(small, 2)
with torch.no_grad():
    print("largest change of a logit:", (big(x)[0] - small(x)[0]).abs().max().item())

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_shape_and_function(grow_zero):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(1)
    small = GPT(GPTConfig(vocab_size=30, block_size=8, n_layer=2, n_head=2, n_embd=8))
    big = grow_zero(small, 2)
    assert isinstance(big, GPT), f"grow_zero must return a GPT, got {type(big).__name__}"
    assert big.config.n_layer == 4, f"2 blocks grown by 2 make 4 blocks, got {big.config.n_layer}"
    x = torch.randint(0, 30, (3, 8))
    with torch.no_grad():
        change = (big(x)[0] - small(x)[0]).abs().max().item()
    assert change < 1e-5, (f"the new blocks change the logits by {change:.3g}: G_zero must compute exactly the "
                           "small model's function. Which projection of a new block writes into the residual "
                           "stream, and must therefore be zero?")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_exact_at_random_sizes(grow_zero):
    import random

    import torch
    from growkit import GPT, GPTConfig
    rng = random.Random(7)
    for trial in range(6):
        heads = rng.randint(1, 3)
        cfg = GPTConfig(vocab_size=rng.randint(10, 40), block_size=8, n_layer=rng.randint(1, 3), n_head=heads,
                        n_embd=heads * 2 * rng.randint(1, 4), tie_weights=trial % 2 == 1)
        factor = rng.randint(2, 4)
        torch.manual_seed(trial)
        small = GPT(cfg)
        with torch.no_grad():  # a trained model's norm gains are not all 1 any more
            for name, p in small.named_parameters():
                if name.endswith("norm.weight"):
                    p.uniform_(0.5, 1.5)
        big = grow_zero(small, factor)
        assert isinstance(big, GPT) and big.config.n_layer == cfg.n_layer * factor, (
            f"from {cfg.n_layer} blocks by {factor}: expected a GPT with {cfg.n_layer * factor} blocks")
        for shape in ((2, 8), (3, rng.randint(2, 7))):
            x = torch.randint(0, cfg.vocab_size, shape)
            with torch.no_grad():
                change = (big(x)[0] - small(x)[0]).abs().max().item()
            assert change < 1e-5, (f"at n_layer={cfg.n_layer}, n_head={heads}, n_embd={cfg.n_embd}, "
                                   f"tie_weights={cfg.tie_weights}, factor {factor}, a trained model (norm gains "
                                   f"not 1), input of shape {shape}: the logits change by {change:.3g}. Are the "
                                   "small blocks at positions j * factor, and everything the small model has "
                                   "copied, its norms and head too?")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_input_untouched(grow_zero):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(2)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=8))
    before = {k: v.clone() for k, v in small.state_dict().items()}
    big = grow_zero(small, 2)
    assert isinstance(big, GPT) and big.config.n_layer == 4, "grow_zero(small, 2) must return a 4-block GPT"
    changed = [k for k, v in small.state_dict().items() if not torch.equal(v, before[k])]
    assert not changed, f"grow_zero changed the small model's {changed}: build a new model and copy into it"
    with torch.no_grad():
        for p in big.parameters():
            p.add_(1.0)
    shared = [k for k, v in small.state_dict().items() if not torch.equal(v, before[k])]
    assert not shared, (f"changing the grown model changed the small model's {shared[:3]}: they share tensors "
                        "(copy values, e.g. load_state_dict, instead of reusing the small model's modules)")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_every_tensor(grow_zero):
    import torch
    from growkit import GPT, GPTConfig
    for tied in (False, True):
        torch.manual_seed(8)
        small = GPT(GPTConfig(vocab_size=24, block_size=8, n_layer=2, n_head=2, n_embd=8, tie_weights=tied))
        with torch.no_grad():
            for p in small.parameters():
                p.add_(torch.rand_like(p))  # every tensor off its initial value, the norms too
        big = grow_zero(small, 3)
        assert isinstance(big, GPT) and big.config.n_layer == 6, "grow_zero(small, 3) of 2 blocks: a 6-block GPT"
        theirs, mine = small.state_dict(), big.state_dict()
        for name, want in theirs.items():
            where = name if not name.startswith("blocks.") else "blocks.{}.{}".format(
                int(name.split(".")[1]) * 3, name.split(".", 2)[2])
            assert torch.equal(mine[where], want), (
                f"tie_weights={tied}: the grown model's {where} is not the small model's {name}: every tensor of "
                "the small model is copied, the norm gains and the head too")
        ptrs = {}
        for name, p in big.state_dict(keep_vars=True).items():
            if name != "lm_head.weight" or not tied:
                other = ptrs.setdefault(p.data_ptr(), name)
                assert other == name, (f"the grown model's {other} and {name} are one tensor: training would tie "
                                       "them; every block needs tensors of its own")
        for k in (1, 2, 4, 5):
            for name, p in big.blocks[k].named_parameters():
                zero = name in ("attn.o_proj.weight", "mlp.down_proj.weight")
                assert zero == bool((p == 0).all()), (
                    f"new block {k}'s {name} is {'not ' if zero else ''}all zero: zero exactly the weights a new "
                    "block needs zero to add nothing to the stream, and keep the rest of its fresh initialisation")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_trains(grow_zero):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(3)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=8))
    big = grow_zero(small, 2)
    assert isinstance(big, GPT) and big.config.n_layer == 2, "grow_zero(small, 2) must return a 2-block GPT"
    before = {name: p.detach().clone() for name, p in big.blocks[1].named_parameters()}
    opt = torch.optim.Adam(big.parameters(), lr=1e-2)
    x = torch.randint(0, 20, (8, 8))
    for _ in range(3):
        _, loss = big(x, x)
        opt.zero_grad()
        loss.backward()
        opt.step()
    stuck = [name for name, p in big.blocks[1].named_parameters()
             if name.endswith("proj.weight") and torch.equal(p.detach(), before[name])]
    assert not stuck, (f"after 3 training steps the new block's {stuck} have not moved at all: their gradients "
                       "are exactly zero. Zero only the projections that write into the residual stream and "
                       "keep the rest of the fresh initialisation, so gradients can flow")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 4

# %% [markdown]
# ## Q2. G_stack
#
# Write `grow_stack(small, factor)`: a GPT with `factor` times as many blocks, block `i` a copy of small block `i % n_layer` (the whole stack repeated: order `[0, 1, ..., L-1] * factor`, *Stacking Your Transformers*' G_stack), embedding, final norm and head copied. It does not preserve the function (each copy applies its block again), and that is fine: the paper finds preservation is not what makes growth work.

# %% [raw]
# # BEGIN SOLUTION

# %%
def grow_stack(small, factor):
    # BEGIN SOLUTION
    L = small.config.n_layer
    big = GPT(dataclasses.replace(small.config, n_layer=L * factor))
    with torch.no_grad():
        big.tok_emb.load_state_dict(small.tok_emb.state_dict())
        big.norm.load_state_dict(small.norm.state_dict())
        big.lm_head.load_state_dict(small.lm_head.state_dict())
        for i, block in enumerate(big.blocks):
            block.load_state_dict(small.blocks[i % L].state_dict())
    return big
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_order(grow_stack):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(4)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=8))
    big = grow_stack(small, 2)
    assert isinstance(big, GPT) and big.config.n_layer == 4, "grow_stack(small, 2) of 2 blocks: a 4-block GPT"
    copies = []
    for block in big.blocks:
        same = [j for j, s in enumerate(small.blocks)
                if all(torch.equal(a, b) for a, b in zip(block.state_dict().values(), s.state_dict().values()))]
        copies.append(same[0] if same else None)
    assert copies == [0, 1, 0, 1], (f"the grown blocks copy small blocks {copies} (None: no copy): G_stack repeats "
                                    "the whole stack in order, [0, 1] * 2 = [0, 1, 0, 1]")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_matches_reference(grow_stack):
    import random

    import torch
    from growkit import GPT, GPTConfig
    rng = random.Random(5)
    for trial in range(5):
        heads = rng.randint(1, 3)
        cfg = GPTConfig(vocab_size=rng.randint(10, 40), block_size=8, n_layer=rng.randint(2, 3), n_head=heads,
                        n_embd=heads * 2 * rng.randint(1, 3), tie_weights=trial % 2 == 0)
        factor = rng.randint(2, 4)
        torch.manual_seed(trial)
        small = GPT(cfg)
        with torch.no_grad():  # a trained model: every tensor off its initial value, the norm gains too
            for p in small.parameters():
                p.add_(torch.rand_like(p))
        big = grow_stack(small, factor)
        n = cfg.n_layer * factor
        assert isinstance(big, GPT) and big.config.n_layer == n, (
            f"{cfg.n_layer} blocks grown by {factor}: expected a GPT of {n} blocks")
        theirs, mine = small.state_dict(), big.state_dict()
        for name, got in mine.items():
            parts = name.split(".", 2)
            source = f"blocks.{int(parts[1]) % cfg.n_layer}.{parts[2]}" if parts[0] == "blocks" else name
            assert got.shape == theirs[source].shape and torch.equal(got, theirs[source]), (
                f"at n_layer={cfg.n_layer}, factor {factor}, tie_weights={cfg.tie_weights}: the grown model's {name} "
                f"is not a copy of the small model's {source}. Is block i a copy of small block i % n_layer (not "
                "i // factor), with every tensor copied, its norms too, and the final norm and head?")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_input_untouched(grow_stack):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(6)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=8))
    before = {k: v.clone() for k, v in small.state_dict().items()}
    big = grow_stack(small, 2)
    assert isinstance(big, GPT) and big.config.n_layer == 4, "grow_stack(small, 2) must return a 4-block GPT"
    with torch.no_grad():
        for p in big.parameters():
            p.add_(1.0)
    shared = [k for k, v in small.state_dict().items() if not torch.equal(v, before[k])]
    assert not shared, (f"changing the grown model changed the small model's {shared[:3]}: the copies share "
                        "tensors with the small model (putting small.blocks[j] itself into the grown model "
                        "does that); copy values instead")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_repeats_train_apart(grow_stack):
    import torch
    from growkit import GPT, GPTConfig
    torch.manual_seed(9)
    small = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=2, n_head=2, n_embd=8))
    big = grow_stack(small, 2)
    assert isinstance(big, GPT) and big.config.n_layer == 4, "grow_stack(small, 2) must return a 4-block GPT"
    ptrs = {}
    for name, p in big.state_dict(keep_vars=True).items():
        if name == "lm_head.weight" and big.config.tie_weights:
            continue  # a tied head is the embedding, by design
        other = ptrs.setdefault(p.data_ptr(), name)
        assert other == name, (f"the grown model's {other} and {name} are one tensor: training would keep the "
                               "repeats tied forever; every block needs its own copy")
    opt = torch.optim.SGD(big.parameters(), lr=0.1)
    x = torch.randint(0, 20, (4, 8), generator=torch.Generator().manual_seed(1))
    _, loss = big(x, x)
    loss.backward()
    stuck = [n for n, p in big.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not stuck, f"no gradient reaches the grown model's {stuck[:3]}: every copied tensor should train"
    opt.step()
    assert not torch.equal(big.blocks[0].attn.q_proj.weight, big.blocks[2].attn.q_proj.weight), (
        "after a training step blocks 0 and 2 (two copies of small block 0) are still equal: the copies are "
        "tied; each must train on its own")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Compare with the course: `growkit.grow(small, "zero", dim="depth", factor=2)` and `"stack"` are the reference operators (`growkit/grow/depth.py`); notebook `02_depth_growth` trains them against each other.
