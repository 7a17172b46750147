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
