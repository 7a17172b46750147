"""Helpers shared by the operator tests."""

import torch

from growkit import GPT, GPTConfig


def logits(model: GPT, x: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.no_grad():
        return model(x)[0]


def expected_params(cfg: GPTConfig) -> int:
    D, F, V, L = cfg.n_embd, cfg.mlp_hidden, cfg.vocab_size, cfg.n_layer
    per_block = 4 * D * D + 3 * D * F + 2 * D  # q, k, v, o; gate, up, down; two norms
    return V * D * (1 if cfg.tie_weights else 2) + L * per_block + D


def perturbed_gqa_gpt(vocab_size: int, n_layer: int = 2, tie_weights: bool = False) -> GPT:
    """A GQA GPT (6 query heads in 2 groups of 3: a 135M Llama's 9 / 3, scaled down) with every
    weight perturbed, so blocks differ and norm gains are not ones."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=vocab_size, block_size=16, n_layer=n_layer, n_head=6, n_embd=48,
                          n_kv_head=2, tie_weights=tie_weights))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model
