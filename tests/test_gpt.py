import math

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from growkit import GPT, GPTConfig


def test_shapes_and_loss_at_init_is_log_vocab(tiny_gpt, corpus):
    x, y = corpus.batch("train", 8, 16, torch.Generator().manual_seed(0))
    logits, loss = tiny_gpt(x, y)
    assert logits.shape == (8, 16, corpus.vocab_size)
    # Small initial weights give near-uniform predictions: loss ~ ln(vocab).
    assert abs(loss.item() - math.log(corpus.vocab_size)) < 0.1
    logits, loss = tiny_gpt(x)
    assert loss is None and logits.shape == (8, 16, corpus.vocab_size)


@pytest.mark.parametrize("n_layer,n_embd,block", [(1, 16, 8), (3, 32, 24), (2, 48, 32)])
def test_flops_per_token_matches_torch_flop_counter(n_layer, n_embd, block):
    model = GPT(GPTConfig(vocab_size=50, block_size=block, n_layer=n_layer, n_head=4,
                          n_embd=n_embd))
    x = torch.randint(50, (3, block))
    # The math backend spells attention out as matmuls, which the counter sees; the fused CPU
    # kernel is invisible to it. Tolerance 1%: the formula ignores norms and softmax.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    measured = counter.get_total_flops() / x.numel()
    assert measured == pytest.approx(model.flops_per_token(block), rel=0.01)


def test_tied_weights_share_the_table_and_count_once(corpus):
    cfg = GPTConfig(vocab_size=corpus.vocab_size, block_size=8, n_layer=1, n_head=2, n_embd=16,
                    tie_weights=True)
    tied, untied = GPT(cfg), GPT(GPTConfig(**{**cfg.to_dict(), "tie_weights": False}))
    assert tied.lm_head.weight is tied.tok_emb.weight
    assert untied.n_params() - tied.n_params() == corpus.vocab_size * 16


def test_causal_future_tokens_do_not_change_past_logits(tiny_gpt):
    x = torch.randint(10, (1, 12))
    x2 = x.clone()
    x2[0, 8:] = (x2[0, 8:] + 1) % 10
    with torch.no_grad():
        a, _ = tiny_gpt(x)
        b, _ = tiny_gpt(x2)
    torch.testing.assert_close(a[:, :8], b[:, :8])


def test_bad_configs_name_the_fix():
    with pytest.raises(ValueError, match="divisible by n_head"):
        GPTConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="block_size"):
        GPT(GPTConfig(block_size=4, n_embd=8, n_head=2))(torch.zeros(1, 5, dtype=torch.long))


# ---- grouped-query attention, head size, token ids, FLOPs with frozen weights ----------

def gqa_config(**kw) -> GPTConfig:
    return GPTConfig(**{**dict(vocab_size=50, block_size=16, n_layer=2, n_head=6, n_embd=48,
                               n_kv_head=2), **kw})


def test_gqa_shares_each_key_value_head_with_a_group_of_query_heads():
    # A GQA model computes what a multi-head model computes whose key/value head i is
    # the GQA model's head i // group: repeat each kv head's rows `group` times.
    torch.manual_seed(0)
    gqa = GPT(gqa_config())
    mha = GPT(gqa_config(n_kv_head=None))
    state = gqa.state_dict()
    hd, group = gqa.config.head_dim, 3
    for name, w in state.items():
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            state[name] = w.view(2, hd, -1).repeat_interleave(group, dim=0).reshape(6 * hd, -1)
    mha.load_state_dict(state)
    assert gqa.blocks[0].attn.k_proj.weight.shape == (2 * hd, 48)
    x = torch.randint(50, (2, 16))
    with torch.no_grad():
        torch.testing.assert_close(gqa(x)[0], mha(x)[0], rtol=0, atol=1e-6)


def test_new_fields_default_to_the_old_model_and_old_configs_still_load():
    cfg = GPTConfig(vocab_size=50, n_head=4, n_embd=32)
    assert (cfg.kv_heads, cfg.head_dim) == (4, 8)
    # Left out at their defaults: checkpoints and run-cache keys made before them match.
    assert "n_kv_head" not in cfg.to_dict() and "head_size" not in cfg.to_dict()
    assert GPTConfig(**cfg.to_dict()) == cfg
    set_apart = GPTConfig(vocab_size=50, n_head=4, n_embd=32, n_kv_head=2, head_size=12)
    assert GPTConfig(**set_apart.to_dict()) == set_apart
    attn = GPT(set_apart).blocks[0].attn
    assert (attn.q_proj.weight.shape, attn.k_proj.weight.shape, attn.o_proj.weight.shape) == (
        (48, 32), (24, 32), (32, 48))


def test_bad_gqa_settings_name_the_fix():
    with pytest.raises(ValueError, match=r"n_kv_head=4 must divide n_head=6.*n_kv_head=\[1, 2, 3, 6\]"):
        GPTConfig(n_head=6, n_embd=48, n_kv_head=4)
    with pytest.raises(ValueError, match="head_size=7 must be even.*head_size=8"):
        GPTConfig(n_head=4, n_embd=32, head_size=7)


def test_a_token_id_outside_the_vocabulary_names_id_vocab_and_fix():
    model = GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=1, n_head=2, n_embd=16))
    x = torch.tensor([[3, 7, 50, 1]])
    with pytest.raises(IndexError, match=r"token id 50 is outside.*vocab_size=50, ids 0\.\.49.*"
                                         r"GPTConfig\(vocab_size=len\(tokenizer\)\)"):
        model(x)
    with pytest.raises(ValueError, match="token id -1"):
        model(torch.tensor([[-1, 2]]))


def counted_flops(model: GPT, x: torch.Tensor) -> float:
    """FLOPs per token of one training step, as PyTorch's counter sees them."""
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        _, loss = model(x, x)
        loss.backward()
    return counter.get_total_flops() / x.numel()


@pytest.mark.parametrize("kw", [dict(), dict(tie_weights=True), dict(head_size=10, n_kv_head=3),
                                dict(n_kv_head=1)], ids=["gqa", "gqa-tied", "head-size", "mqa"])
def test_flops_per_token_matches_torch_flop_counter_with_gqa(kw):
    model = GPT(gqa_config(**kw))
    x = torch.randint(50, (3, 16))
    # Exact: the counter sees the same matmuls the formula counts (norms and softmax are not matmuls).
    assert counted_flops(model, x) == model.flops_per_token(16)


def frozen_except(model: GPT, trainable: list[str]) -> GPT:
    for name, p in model.named_parameters():
        p.requires_grad_(any(name.startswith(t) for t in trainable))
    return model


@pytest.mark.parametrize("trainable", [["blocks.1."], ["blocks.2.", "norm."], ["lm_head."],
                                       ["blocks.0.mlp."], ["blocks.1.attn.q_proj"], []],
                         ids=["middle-block", "top-block-and-norm", "head", "bottom-mlp", "one-q", "none"])
def test_frozen_weights_cost_forward_and_the_backward_through_them_only(trainable):
    model = frozen_except(GPT(gqa_config(n_layer=3)), trainable)
    x = torch.randint(50, (3, 16))
    if not trainable:  # nothing trains: no backward at all, so count the forward pass alone
        with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
            model(x, x)
        measured = counter.get_total_flops() / x.numel()
    else:
        measured = counted_flops(model, x)
    if trainable == ["blocks.1.attn.q_proj"]:
        # Only q needs a gradient: the math spelling skips dK and dV (2 * 2 * T * n_head *
        # head_dim per token); the ledger counts the attention backward whole, as fused
        # kernels compute it.
        measured += 2 * 2 * 16 * 6 * 8
    full = GPT(gqa_config(n_layer=3)).flops_per_token(16)
    assert model.flops_per_token(16) == measured
    assert model.flops_per_token(16) < full


def test_a_gqa_model_checkpoints_and_loads_back(tmp_path):
    from growkit import load_checkpoint, save_checkpoint

    model = GPT(gqa_config(head_size=10))
    loaded, _ = load_checkpoint(save_checkpoint(tmp_path / "gqa.pt", model))
    assert loaded.config == model.config and loaded.config.kv_heads == 2
    x = torch.randint(50, (1, 16))
    with torch.no_grad():
        assert torch.equal(loaded(x)[0], model(x)[0])
