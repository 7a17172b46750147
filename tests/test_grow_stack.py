import pytest
import torch

from growkit import GPT, grow
from growkit.grow import grow_with_sources, measure_preservation, resolve


@pytest.mark.parametrize("op", ["stack", "direct", "G_stack"])
def test_stack_repeats_the_whole_model_in_order(tiny_gpt, op):
    big = grow(tiny_gpt, op, dim="depth", factor=3)
    L = tiny_gpt.config.n_layer
    assert big.config.n_layer == 3 * L
    small_state = tiny_gpt.state_dict()
    for name, tensor in big.state_dict().items():
        if name.startswith("blocks."):
            _, j, rest = name.split(".", 2)
            src = f"blocks.{int(j) % L}.{rest}"  # grown block j is small block j mod L
        else:
            src = name  # embeddings, final norm and head copied
        assert torch.equal(tensor, small_state[src]), name


def test_stack_copies_and_does_not_alias_or_modify_the_small_model(tiny_gpt):
    before = {k: v.clone() for k, v in tiny_gpt.state_dict().items()}
    big = grow(tiny_gpt, "stack", factor=2)
    with torch.no_grad():
        big.blocks[0].attn.q_proj.weight.add_(1.0)
    for k, v in tiny_gpt.state_dict().items():
        assert torch.equal(v, before[k])
    assert big.blocks[2].attn.q_proj.weight.data_ptr() != big.blocks[0].attn.q_proj.weight.data_ptr()


def test_interpolation_and_explicit_layer_lists(tiny_gpt):
    inter = grow(tiny_gpt, "stack", factor=2, order="interpolate")
    for j, src in enumerate([0, 0, 1, 1]):
        assert torch.equal(inter.blocks[j].mlp.up_proj.weight, tiny_gpt.blocks[src].mlp.up_proj.weight)
    explicit = grow(tiny_gpt, "stack", layers=[1, 0, 1])
    assert explicit.config.n_layer == 3
    assert torch.equal(explicit.blocks[0].attn.k_proj.weight, tiny_gpt.blocks[1].attn.k_proj.weight)


def test_sources_name_where_each_parameter_came_from(tiny_gpt):
    g = grow_with_sources(tiny_gpt, "stack", factor=2)
    assert g.sources["blocks.3.mlp.down_proj.weight"] == "blocks.1.mlp.down_proj.weight"
    assert g.sources["tok_emb.weight"] == "tok_emb.weight"


def test_stacking_changes_the_function_and_the_auditor_measures_it(tiny_gpt, corpus):
    # G_stack does not claim preservation; the paper finds it does not need to.
    assert not resolve("stack", "depth").preserves_function
    x, y = corpus.batch("val", 4, 16, torch.Generator().manual_seed(1))
    same = measure_preservation(tiny_gpt, tiny_gpt, x, y)
    assert same["max_abs_logits"] == 0 and same["delta_loss"] == 0
    big = grow(tiny_gpt, "stack", factor=2)
    diff = measure_preservation(tiny_gpt, big, x, y)
    assert diff["max_abs_logits"] > 1e-4


def test_bad_input_names_the_fix(tiny_gpt):
    with pytest.raises(ValueError, match="'telescope' for a GPT: for a GPT use dim='depth' with "
                       "op='direct' .or 'stack' or 'G_stack'."):
        grow(tiny_gpt, "telescope")
    with pytest.raises(ValueError, match=">= 1"):
        grow(tiny_gpt, "stack", factor=0)
    with pytest.raises(ValueError, match="integer factor.*factor=2"):
        grow(tiny_gpt, "stack", factor=1.5)
    with pytest.raises(ValueError, match="dim must be one of"):
        grow(tiny_gpt, "stack", dim="sideways")
    with pytest.raises(ValueError, match="block indices"):
        grow(tiny_gpt, "stack", layers=[0, 5])
    with pytest.raises(TypeError, match="no growth operator grows a Linear.*GPT"):
        grow(torch.nn.Linear(2, 2), "stack")


def test_grown_model_trains(tiny_gpt, corpus):
    big = grow(tiny_gpt, "stack", factor=2)
    assert isinstance(big, GPT)
    x, y = corpus.batch("train", 4, 16, torch.Generator().manual_seed(0))
    _, loss = big(x, y)
    loss.backward()
    assert all(p.grad is not None for p in big.parameters())
