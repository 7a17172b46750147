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
from einops import rearrange, repeat
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
    # Grouped-query attention: n_kv_head key/value heads, each shared by n_head / n_kv_head
    # consecutive query heads (released small Llamas use e.g. 9 query / 3 key-value heads).
    # None means n_head: plain multi-head attention.
    n_kv_head: int | None = None
    # The size of one head where a checkpoint sets it apart from n_embd / n_head; None means
    # n_embd / n_head. (`head_dim` below is the size in effect either way.)
    head_size: int | None = None

    def __post_init__(self) -> None:
        check_types(self)
        at_least(self, 1, "vocab_size", "block_size", "n_layer", "n_head", "n_embd", "mlp_hidden",
                 "n_kv_head", "head_size")
        positive(self, "rope_base", fix=10000.0)
        positive(self, "norm_eps", fix=1e-6)
        if self.n_kv_head is not None and self.n_head % self.n_kv_head != 0:
            groups = [k for k in range(1, self.n_head + 1) if self.n_head % k == 0]
            raise SettingError(f"n_kv_head={self.n_kv_head} must divide n_head={self.n_head} (each "
                               f"key/value head serves a whole group of query heads): use one of "
                               f"n_kv_head={groups}.")
        if self.head_size is not None:
            if self.head_size % 2:
                raise SettingError(f"head_size={self.head_size} must be even for rotary positions: "
                                   f"e.g. head_size={self.head_size + 1}.")
        elif self.n_embd % self.n_head != 0 or (self.n_embd // self.n_head) % 2 != 0:
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
        """The size of one attention head."""
        return self.head_size if self.head_size is not None else self.n_embd // self.n_head

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads (n_head unless grouped-query attention)."""
        return self.n_kv_head if self.n_kv_head is not None else self.n_head

    def to_dict(self) -> dict:
        # The fields added for imported checkpoints are left out at their defaults, so every
        # config saved before they existed (checkpoints, run-cache keys) reads back identical.
        d = asdict(self)
        for key in ("n_kv_head", "head_size"):
            if d[key] is None:
                del d[key]
        return d


def _compiling() -> bool:
    """Whether torch.compile is tracing (torch.compiler.is_compiling is torch >= 2.3's name)."""
    is_compiling = getattr(torch.compiler, "is_compiling", None) or torch._dynamo.is_compiling
    return bool(is_compiling())


class TokenIdError(IndexError, ValueError):
    """A token id outside the model's vocabulary (an IndexError, as torch's was)."""


def check_token_ids(idx: torch.Tensor, vocab_size: int) -> None:
    """Raise TokenIdError naming the first id outside [0, vocab_size)."""
    bad = idx[(idx < 0) | (idx >= vocab_size)]
    if bad.numel():
        raise TokenIdError(
            f"token id {int(bad[0])} is outside this model's vocabulary (vocab_size={vocab_size}, "
            f"ids 0..{vocab_size - 1}): encode the text with the tokenizer the model was built for, "
            f"or build the model for this tokenizer, e.g. GPTConfig(vocab_size=len(tokenizer)).")


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
        self.n_head, self.n_kv_head, self.head_dim = cfg.n_head, cfg.kv_heads, cfg.head_dim
        q_dim, kv_dim = cfg.n_head * cfg.head_dim, cfg.kv_heads * cfg.head_dim
        self.q_proj = nn.Linear(cfg.n_embd, q_dim, bias=False)
        self.k_proj = nn.Linear(cfg.n_embd, kv_dim, bias=False)
        self.v_proj = nn.Linear(cfg.n_embd, kv_dim, bias=False)
        self.o_proj = nn.Linear(q_dim, cfg.n_embd, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        # Split the projections into heads: (batch, time, heads * head_dim) -> (batch, heads, time, head_dim).
        q = rearrange(self.q_proj(x), "b t (h d) -> b h t d", d=self.head_dim)
        k = rearrange(self.k_proj(x), "b t (h d) -> b h t d", d=self.head_dim)
        v = rearrange(self.v_proj(x), "b t (h d) -> b h t d", d=self.head_dim)
        q, k = apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)
        if self.n_kv_head != self.n_head:
            # Grouped-query attention: key/value head j serves the `group` consecutive query
            # heads j * group .. (j + 1) * group - 1 (the order of Hugging Face's repeat_kv).
            group = self.n_head // self.n_kv_head
            k = repeat(k, "b h t d -> b (h g) t d", g=group)
            v = repeat(v, "b h t d -> b (h g) t d", g=group)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.o_proj(rearrange(y, "b h t d -> b t (h d)"))


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
        """Training FLOPs (forward + backward) per token: 6 * N_matmul + the attention term
        when every parameter trains.

        N_matmul counts every weight that takes part in a matrix multiply (all linear layers,
        including the output head even when tied); the embedding lookup and the norms do no
        matmuls. Attention adds QK^T and AV: 2 * 2 * T * n_head * head_dim per layer forward
        (n_embd unless head_size is set apart; grouped key/value heads are repeated, not
        multiplied, so GQA costs the same here), times 3 for forward + backward, with T the
        sequence length (the full square, as PyTorch's FLOP counter and nanoGPT count it,
        not the causal half).

        Frozen parameters (requires_grad=False) are counted honestly: a weight of N entries
        costs 2N per token forward, 2N more for the gradient of its input when a trainable
        parameter sits below it (the gradient must pass through it), and 2N for its own
        gradient only when it trains. Below the lowest trainable parameter nothing of the
        backward pass runs. The attention core's backward (2x its forward) runs whole when
        q, k or v needs a gradient, as fused attention kernels compute it.
        """
        T = seq_len or self.config.block_size
        cfg = self.config
        attention = 2 * 2 * T * cfg.n_head * cfg.head_dim  # QK^T and AV, forward, one layer

        def trains(*modules: nn.Module) -> bool:
            return any(p.requires_grad for m in modules for p in m.parameters())

        def linear(m: nn.Linear, grad_flows_in: bool) -> int:
            n = m.weight.numel()
            return 2 * n + (2 * n if grad_flows_in else 0) + (2 * n if m.weight.requires_grad else 0)

        # `below`: some parameter under this point trains, so the gradient must flow back here.
        below, total = trains(self.tok_emb), 0
        for block in self.blocks:
            attn, mlp = block.attn, block.mlp
            below = below or trains(block.attn_norm)
            total += sum(linear(m, below) for m in (attn.q_proj, attn.k_proj, attn.v_proj))
            qkv_grad = below or trains(attn.q_proj, attn.k_proj, attn.v_proj)
            total += attention * (3 if qkv_grad else 1) + linear(attn.o_proj, qkv_grad)
            below = qkv_grad or trains(attn.o_proj, block.mlp_norm)
            total += linear(mlp.gate_proj, below) + linear(mlp.up_proj, below)
            total += linear(mlp.down_proj, below or trains(mlp.gate_proj, mlp.up_proj))
            below = below or trains(mlp)
        total += linear(self.lm_head, below or trains(self.norm))
        # Integers, so the float is exact: a fully trainable model gives exactly
        # 6 * N_matmul + 12 * n_layer * n_head * head_dim * T.
        return float(total)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(
                f"sequence of length {T} exceeds block_size={self.config.block_size}: "
                "crop the input or build the model with a larger block_size."
            )
        if idx.device.type == "cpu" and not _compiling():
            # torch's own error here is a bare IndexError. (On a GPU the check would cost a
            # device sync every step, and an id out of range stops with a device-side assert.)
            check_token_ids(idx, self.config.vocab_size)
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
