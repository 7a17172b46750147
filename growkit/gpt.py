"""A small LLaMA-style GPT, readable top to bottom (in the spirit of nanoGPT's model.py).

Block = RMSNorm -> causal self-attention with rotary positions -> residual,
        RMSNorm -> SwiGLU MLP -> residual.
There is no learned position table: positions enter only through rotary embeddings, so
stacking blocks (depth growth) or widening them (width growth) never has to invent
position parameters. This file knows nothing about growth.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .settings import SettingError, at_least, check_types, positive


@dataclass
class GPTConfig:
    vocab_size: int = 96
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 64
    # SwiGLU hidden size; None means LLaMA's 8/3 * n_embd, rounded up to a multiple of 8.
    mlp_hidden: int | None = None
    tie_weights: bool = False
    rope_base: float = 10000.0
    norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        check_types(self)
        at_least(self, 1, "vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_hidden")
        positive(self, "rope_base", fix=10000.0)
        positive(self, "norm_eps", fix=1e-6)
        if self.n_embd % self.n_head != 0 or (self.n_embd // self.n_head) % 2 != 0:
            # A valid width: a multiple of 2 * n_head (divisible, and an even head size).
            step = 2 * self.n_head
            lower = max(step, self.n_embd // step * step)
            upper = lower if lower >= self.n_embd else lower + step
            options = " or ".join(f"n_embd={v}" for v in sorted({lower, upper}))
            problem = (f"n_embd={self.n_embd} is not divisible by n_head={self.n_head}"
                       if self.n_embd % self.n_head else
                       f"head size n_embd/n_head={self.n_embd // self.n_head} must be even for "
                       "rotary positions")
            raise SettingError(f"{problem}: choose n_embd as a multiple of 2 * n_head "
                               f"(e.g. {options} with n_head={self.n_head}).")
        if self.mlp_hidden is None:
            self.mlp_hidden = 8 * math.ceil(8 * self.n_embd / 3 / 8)

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32 for stability under bf16/fp16 autocast.
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return (xf * self.weight.float()).type_as(x)


def rotary_tables(head_dim: int, length: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables of shape (length, head_dim/2) for rotary position embeddings."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate pairs (x[..., :h/2], x[..., h/2:]) by position-dependent angles. x: (B, H, T, D)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    out = torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
    return out.type_as(x)


class CausalSelfAttention(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head = cfg.n_head
        self.head_dim = cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.k_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.v_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
        self.o_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

        q, k, v = heads(self.q_proj(x)), heads(self.k_proj(x)), heads(self.v_proj(x))
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, C))


class SwiGLU(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        assert cfg.mlp_hidden is not None
        self.gate_proj = nn.Linear(cfg.n_embd, cfg.mlp_hidden, bias=False)
        self.up_proj = nn.Linear(cfg.n_embd, cfg.mlp_hidden, bias=False)
        self.down_proj = nn.Linear(cfg.mlp_hidden, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.attn = CausalSelfAttention(cfg)
        self.mlp_norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.mlp = SwiGLU(cfg)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class GPT(nn.Module):
    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.config = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.n_embd)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.norm = RMSNorm(cfg.n_embd, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        if cfg.tie_weights:
            self.lm_head.weight = self.tok_emb.weight
        # Rotary tables are derived, not learned: non-persistent buffers keep state dicts clean.
        cos, sin = rotary_tables(cfg.head_dim, cfg.block_size, cfg.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self.init_weights)

    def init_weights(self, module: nn.Module) -> None:
        """The model's own initialisation (GPT-2 style), also used by growth operators
        that need freshly initialised parameters."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            # Residual output projections shrink with depth so the stream's variance stays put.
            if module in self._residual_projections():
                nn.init.normal_(module.weight, 0.0, 0.02 / math.sqrt(2 * self.config.n_layer))
        elif isinstance(module, RMSNorm):
            nn.init.ones_(module.weight)

    def _residual_projections(self) -> list[nn.Module]:
        return [m for b in self.blocks for m in (b.attn.o_proj, b.mlp.down_proj)]

    def n_params(self) -> int:
        """Parameter count, tied weights counted once."""
        return sum(p.numel() for p in self.parameters())

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training FLOPs (forward + backward) per token: 6 * N_matmul + the attention term.

        N_matmul counts every weight that takes part in a matrix multiply (all linear layers,
        including the output head even when tied); the embedding lookup and the norms do no
        matmuls. Attention adds QK^T and AV: 2 * 2 * T * n_embd per layer forward, times 3
        for forward + backward, with T the sequence length (the full square, as PyTorch's
        FLOP counter and nanoGPT count it, not the causal half).
        """
        T = seq_len or self.config.block_size
        n_matmul = sum(m.weight.numel() for m in self.modules() if isinstance(m, nn.Linear))
        return 6.0 * n_matmul + 12.0 * self.config.n_layer * self.config.n_embd * T

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"sequence of length {T} exceeds block_size={self.config.block_size}: "
                "crop the input or build the model with a larger block_size."
            )
        cos, sin = self.rope_cos[:T], self.rope_sin[:T]
        x = self.tok_emb(idx)
        for block in self.blocks:
            x = block(x, cos, sin)
        logits = self.lm_head(self.norm(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        for _ in range(max_new_tokens):
            logits, _ = self(idx[:, -self.config.block_size:])
            probs = F.softmax(logits[:, -1, :] / max(temperature, 1e-6), dim=-1)
            idx = torch.cat([idx, torch.multinomial(probs, 1, generator=generator)], dim=1)
        return idx
