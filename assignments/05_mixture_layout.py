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
# name: 05_mixture_layout
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
# # Assignment 5: MixtureGrowth's block layout
#
# In MixtureGrowth (Pham et al., WACV 2024) every weight is a linear combination of **templates**, `W = sum_k a_k T_k`. Two half-width networks (members) are trained, each with its own template set and coefficients. Growth lays one full-width weight out in four blocks (rows: output channels, member 0's half first):
#
# ```
# [[W0, W2],
#  [W3, W1]]
# ```
#
# `W0`, `W1` are the members' trained weights; `W2` and `W3` are **new** combinations of templates the members already learned: `W2` mixes member 0's templates, `W3` member 1's. Here a layer's templates are a tensor `templates` of shape `(2, k, out/2, in/2, *kernel)` (template set, template, then one block's shape) and its coefficients `coefs` of shape `(4, k)`, one row per block W0..W3. Seconds on a CPU.

# %%
import torch
import torch.nn.functional as F

torch.manual_seed(0)
templates = torch.randn(2, 3, 4, 5)  # 2 sets of 3 templates, blocks of 4 outputs x 5 inputs
coefs = torch.randn(4, 3)

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 2

# %% [markdown]
# ## Q1. One block
#
# Write `block(templates, coefs, b)`: block `b` (0..3) of the grown weight, `sum_k coefs[b, k] * templates[s, k]`, where `s` is the template set block `b` mixes (0 for W0 and W2, 1 for W1 and W3).

# %% [raw]
# # BEGIN SOLUTION

# %%
def block(templates, coefs, b):
    # BEGIN SOLUTION
    s = (0, 1, 0, 1)[b]  # W2 mixes member 0's templates, W3 member 1's
    return torch.tensordot(coefs[b], templates[s], dims=1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q1_member_blocks(block):
    import torch
    torch.manual_seed(1)
    t, c = torch.randn(2, 2, 3, 4), torch.randn(4, 2)
    for b, s in ((0, 0), (1, 1)):
        got = block(t, c, b)
        want = c[b, 0] * t[s, 0] + c[b, 1] * t[s, 1]
        assert isinstance(got, torch.Tensor) and got.shape == want.shape, (
            f"block {b} has the shape of one template, {tuple(want.shape)}, got "
            f"{tuple(got.shape) if isinstance(got, torch.Tensor) else got!r}")
        assert torch.allclose(got, want, atol=1e-6), (
            f"block W{b} is member {s}'s weight, coefs[{b}, 0] * templates[{s}, 0] + coefs[{b}, 1] * "
            f"templates[{s}, 1]: yours differs by {(got - want).abs().max().item():.3g}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q1_new_blocks_and_kernels(block):
    import torch
    torch.manual_seed(2)
    t, c = torch.randn(2, 3, 4, 2, 3, 3), torch.randn(4, 3)  # conv templates: (out, in, 3, 3)
    for b, s in ((0, 0), (1, 1), (2, 0), (3, 1)):
        want = sum(c[b, k] * t[s, k] for k in range(3))
        got = block(t, c, b)
        ok = isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got, want, atol=1e-5)
        assert ok, (f"conv templates (3x3 kernels), block W{b}: it mixes template set {s} "
                    f"({'member 0' if s == 0 else 'member 1'}'s templates) with coefs[{b}]")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 2

# %% [markdown]
# ## Q2. The grown weight
#
# Write `grown_weight(templates, coefs)`: the full weight `[[W0, W2], [W3, W1]]`, shape `(out, in, *kernel)`: rows (dimension 0) are output channels, columns (dimension 1) input channels.

# %% [raw]
# # BEGIN SOLUTION

# %%
def grown_weight(templates, coefs):
    # BEGIN SOLUTION
    w0, w1, w2, w3 = (block(templates, coefs, b) for b in range(4))
    top = torch.cat([w0, w2], dim=1)  # member 0's outputs: from its own inputs, then member 1's
    bottom = torch.cat([w3, w1], dim=1)
    return torch.cat([top, bottom], dim=0)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %%
print(grown_weight(templates, coefs).shape)  # (8, 10)

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q2_layout(grown_weight):
    import torch
    torch.manual_seed(3)
    t, c = torch.randn(2, 2, 3, 4), torch.randn(4, 2)
    w = grown_weight(t, c)
    assert isinstance(w, torch.Tensor) and tuple(w.shape) == (6, 8), (
        f"blocks of 3 outputs x 4 inputs make a (6, 8) weight, got "
        f"{tuple(w.shape) if isinstance(w, torch.Tensor) else w!r}")
    blocks = {"W0": w[:3, :4], "W2": w[:3, 4:], "W3": w[3:, :4], "W1": w[3:, 4:]}
    sets = {"W0": (0, 0), "W1": (1, 1), "W2": (2, 0), "W3": (3, 1)}
    for name, part in blocks.items():
        b, s = sets[name]
        want = c[b, 0] * t[s, 0] + c[b, 1] * t[s, 1]
        assert torch.allclose(part, want, atol=1e-6), (
            f"the block at rows {'0:3' if name in ('W0', 'W2') else '3:6'}, columns "
            f"{'0:4' if name in ('W0', 'W3') else '4:8'} should be {name} (coefs[{b}] over template set {s}); "
            "the layout is [[W0, W2], [W3, W1]] with rows the output channels")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q2_matches_template_layer(grown_weight):
    import torch
    torch.manual_seed(4)
    for cin, cout, kernel, k in ((4, 6, 3, 2), (8, 2, 1, 3), (6, 6, 3, 1)):
        t = torch.randn(2, k, cout // 2, cin // 2, kernel, kernel)
        c = torch.randn(4, k)
        w = [sum(c[b, j] * t[(0, 1, 0, 1)[b], j] for j in range(k)) for b in range(4)]
        want = torch.cat([torch.cat([w[0], w[2]], dim=1), torch.cat([w[3], w[1]], dim=1)], dim=0)
        got = grown_weight(t, c)
        ok = isinstance(got, torch.Tensor) and got.shape == want.shape and torch.allclose(got, want, atol=1e-5)
        assert ok, (f"a grown {cin}->{cout} conv ({kernel}x{kernel}, {k} templates per set): your weight is not "
                    "the grown layer's weight: check the layout [[W0, W2], [W3, W1]] and which template set W2 and "
                    "W3 mix")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 2

# %% [markdown]
# ## Q3. The zero-coefficient case
#
# With the new coefficients zero (`coefs[2:] = 0`), `W2 = W3 = 0` and the grown layer is block-diagonal: it should compute exactly the two members side by side. Write `members_output(templates, coefs, x)` for a linear layer (blocks of shape `(out/2, in/2)`, `x` of shape `(batch, in)`): member 0 applies `W0` to the first half of `x`'s features, member 1 applies `W1` to the second half, and their outputs are concatenated (member 0's first). Then the cell after it checks the zero case with your `grown_weight`. (The classifier of MixtureGrowth is the same idea with the outputs summed instead of stacked: `[[W0, W1]]` applied to `[h0, h1]` is `W0 h0 + W1 h1`, the sum of the members' logits.)

# %% [raw]
# # BEGIN SOLUTION

# %%
def members_output(templates, coefs, x):
    # BEGIN SOLUTION
    half = x.shape[1] // 2
    out0 = F.linear(x[:, :half], block(templates, coefs, 0))
    out1 = F.linear(x[:, half:], block(templates, coefs, 1))
    return torch.cat([out0, out1], dim=1)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %%
zero = coefs.clone()
zero[2:] = 0
x = torch.randn(7, 10)
gap = (F.linear(x, grown_weight(templates, zero)) - members_output(templates, coefs, x)).abs().max().item()
print(f"grown layer with zero new coefficients vs the members side by side: {gap:.2g}")

# %% [raw]
# # BEGIN TESTS

# %%
""" # BEGIN TEST CONFIG
points: 1
""" # END TEST CONFIG
def test_q3_members(members_output):
    import torch
    torch.manual_seed(5)
    t, c, x = torch.randn(2, 2, 3, 4), torch.randn(4, 2), torch.randn(5, 8)
    got = members_output(t, c, x)
    w0 = c[0, 0] * t[0, 0] + c[0, 1] * t[0, 1]
    w1 = c[1, 0] * t[1, 0] + c[1, 1] * t[1, 1]
    want = torch.cat([x[:, :4] @ w0.T, x[:, 4:] @ w1.T], dim=1)
    assert isinstance(got, torch.Tensor) and got.shape == want.shape, (
        f"two members of 3 outputs each, batch 5: a (5, 6) output, got "
        f"{tuple(got.shape) if isinstance(got, torch.Tensor) else got!r}")
    assert torch.allclose(got, want, atol=1e-5), (
        "member 0 reads the first half of x's features with W0, member 1 the second half with W1, and member "
        f"0's outputs come first: yours differs by {(got - want).abs().max().item():.3g}")

# %%
""" # BEGIN TEST CONFIG
points: 1
hidden: true
""" # END TEST CONFIG
def test_q3_zero_case(members_output, grown_weight):
    import torch
    import torch.nn.functional as F
    torch.manual_seed(6)
    for k, out, cin in ((1, 2, 3), (3, 5, 2), (2, 4, 4)):
        t, c, x = torch.randn(2, k, out, cin), torch.randn(4, k), torch.randn(3, 2 * cin)
        got = members_output(t, c, x)
        assert isinstance(got, torch.Tensor) and got.shape == (3, 2 * out), (
            f"members of {out} outputs, batch 3: expected a (3, {2 * out}) output")
        zero = c.clone()
        zero[2:] = 0
        gap = (F.linear(x, grown_weight(t, zero)) - got).abs().max().item()
        assert gap < 1e-5, (f"with zero new coefficients the grown layer should equal the members side by side, "
                            f"but differs by {gap:.3g} ({k} templates, {out} outputs, {cin} inputs per member)")
        c2 = c.clone()
        c2[2:] = 1
        assert torch.allclose(members_output(t, c2, x), got), (
            "the members' outputs must not depend on the new coefficients coefs[2:] (they are W2 and W3's)")

# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# Compare with the course: `growkit/cnn.py` (`TemplateLayer.weight`) and `growkit/grow/mixture.py` build the same layout for a whole WideResNet; notebook `05_mixture_growth` trains it.
