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
