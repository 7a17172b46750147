"""Hugging Face Llama checkpoints in and out of growkit's GPT (`pip install growkit[hf]`).

growkit's GPT is the Llama architecture: RMSNorm before attention and MLP (gain after
normalising, eps inside the square root), rotary positions with base `rope_base`, SwiGLU
(down(silu(gate(x)) * up(x))), no biases, a final RMSNorm and an untied or tied head. So a
`LlamaForCausalLM` maps onto a GPT parameter by parameter, by name alone. Nothing needs
permuting: growkit's rotary embedding rotates the split halves (x[:h/2], x[h/2:]) of each
head exactly as Hugging Face's `rotate_half` does (not interleaved pairs), and
grouped-query heads are grouped as `repeat_kv` groups them (query head i reads key/value
head i // (n_head / n_kv_head)).

    model = from_hf("HuggingFaceTB/SmolLM-135M")      # or a folder, or a LlamaForCausalLM
    big = grow(model, "stack", factor=2)
    save_hf(big, "grown/")                             # AutoModelForCausalLM.from_pretrained("grown/")

What the GPT cannot represent is refused with the feature named (biases, rope scaling,
sliding windows, other activations, other architectures), never converted into a
silently different model.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .gpt import GPT, GPTConfig

# growkit block parameter -> its name inside a Hugging Face LlamaDecoderLayer.
LAYER_NAMES = {
    "attn_norm.weight": "input_layernorm.weight",
    "attn.q_proj.weight": "self_attn.q_proj.weight",
    "attn.k_proj.weight": "self_attn.k_proj.weight",
    "attn.v_proj.weight": "self_attn.v_proj.weight",
    "attn.o_proj.weight": "self_attn.o_proj.weight",
    "mlp_norm.weight": "post_attention_layernorm.weight",
    "mlp.gate_proj.weight": "mlp.gate_proj.weight",
    "mlp.up_proj.weight": "mlp.up_proj.weight",
    "mlp.down_proj.weight": "mlp.down_proj.weight",
}
TOP_NAMES = {"tok_emb.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight",
             "lm_head.weight": "lm_head.weight"}
SUPPORTED = ("Llama models (model_type 'llama', LlamaForCausalLM) without biases, rope scaling or "
             "sliding windows, e.g. SmolLM-135M")


class UnsupportedCheckpoint(ValueError):
    """A checkpoint with a feature growkit's GPT cannot represent (the message names it)."""


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise ImportError("growkit.hf needs transformers and safetensors: pip install 'growkit[hf]' "
                          "(or pip install transformers safetensors)") from None
    return transformers


def hf_name(name: str) -> str:
    """growkit parameter name -> Hugging Face Llama name ('blocks.3.attn.q_proj.weight' ->
    'model.layers.3.self_attn.q_proj.weight')."""
    if name.startswith("blocks."):
        _, i, rest = name.split(".", 2)
        return f"model.layers.{i}.{LAYER_NAMES[rest]}"
    return TOP_NAMES[name]


def _rope(hf_config: Any) -> tuple[float, list[str]]:
    """The rotary base and the rope features growkit lacks. Reads transformers 5's
    `rope_parameters` and 4's `rope_theta` / `rope_scaling` alike."""
    params = dict(getattr(hf_config, "rope_parameters", None) or getattr(hf_config, "rope_scaling", None) or {})
    theta = params.get("rope_theta", getattr(hf_config, "rope_theta", None) or 10000.0)
    kind = params.get("rope_type", params.get("type", "default"))
    problems = []
    if kind != "default":
        problems.append(f"rope scaling of type {kind!r} (rope_parameters/rope_scaling = {params})")
    partial = params.get("partial_rotary_factor", getattr(hf_config, "partial_rotary_factor", None))
    if partial not in (None, 1.0):
        problems.append(f"partial rotary embeddings (partial_rotary_factor={partial})")
    return float(theta), problems


def unsupported_features(hf_config: Any) -> list[str]:
    """What in a Hugging Face config growkit's GPT cannot represent (empty: it can)."""
    model_type = getattr(hf_config, "model_type", None)
    if model_type != "llama":
        architectures = getattr(hf_config, "architectures", None) or [type(hf_config).__name__]
        return [f"architecture model_type={model_type!r} ({', '.join(architectures)})"]
    problems = []
    if getattr(hf_config, "attention_bias", False):
        problems.append("attention biases (attention_bias=True)")
    if getattr(hf_config, "mlp_bias", False):
        problems.append("MLP biases (mlp_bias=True)")
    if getattr(hf_config, "hidden_act", "silu") != "silu":
        problems.append(f"activation hidden_act={hf_config.hidden_act!r} (growkit's SwiGLU uses silu)")
    if getattr(hf_config, "sliding_window", None) is not None:
        problems.append(f"sliding-window attention (sliding_window={hf_config.sliding_window})")
    if getattr(hf_config, "attention_dropout", 0.0):
        problems.append(f"attention dropout (attention_dropout={hf_config.attention_dropout})")
    head_dim = getattr(hf_config, "head_dim", None) or hf_config.hidden_size // hf_config.num_attention_heads
    if head_dim % 2:
        problems.append(f"an odd head size (head_dim={head_dim}; rotary positions need it even)")
    return problems + _rope(hf_config)[1]


def _refuse(problems: list[str], what: str) -> None:
    if problems:
        raise UnsupportedCheckpoint(
            f"growkit's GPT cannot represent {what}: it has {'; and '.join(problems)}. growkit "
            f"converts {SUPPORTED}; use transformers itself for this one.")


def config_from_hf(hf_config: Any, block_size: int | None = None) -> GPTConfig:
    """The GPTConfig of a Hugging Face Llama config (refused if the GPT cannot represent
    it). `block_size` defaults to max_position_embeddings (the longest sequence the GPT
    takes; set it lower to save the rotary tables' memory)."""
    _refuse(unsupported_features(hf_config), "this checkpoint")
    n_head, n_embd = hf_config.num_attention_heads, hf_config.hidden_size
    kv = getattr(hf_config, "num_key_value_heads", None) or n_head
    head_dim = getattr(hf_config, "head_dim", None) or n_embd // n_head
    return GPTConfig(
        vocab_size=hf_config.vocab_size, block_size=block_size or hf_config.max_position_embeddings,
        n_layer=hf_config.num_hidden_layers, n_head=n_head, n_embd=n_embd,
        mlp_hidden=hf_config.intermediate_size, tie_weights=bool(hf_config.tie_word_embeddings),
        rope_base=_rope(hf_config)[0], norm_eps=float(hf_config.rms_norm_eps),
        # Left None where they agree with n_head and n_embd / n_head, so the GPT is the one
        # growkit would build itself (and grows as it does).
        n_kv_head=None if kv == n_head else kv,
        head_size=None if n_embd % n_head == 0 and head_dim == n_embd // n_head else head_dim)


def hf_config_from(cfg: GPTConfig, **overrides: Any) -> Any:
    """The transformers LlamaConfig of a GPTConfig; `overrides` are further LlamaConfig
    settings (e.g. bos_token_id, eos_token_id for the tokenizer the model goes with)."""
    transformers = _transformers()
    if cfg.n_embd % cfg.n_head:
        _refuse([f"n_embd={cfg.n_embd} not divisible by n_head={cfg.n_head} (head_size="
                 f"{cfg.head_size} set apart; Hugging Face's LlamaConfig requires hidden_size to "
                 f"be a multiple of num_attention_heads)"], "as a LlamaForCausalLM")
    settings = dict(
        vocab_size=cfg.vocab_size, hidden_size=cfg.n_embd, intermediate_size=cfg.mlp_hidden,
        num_hidden_layers=cfg.n_layer, num_attention_heads=cfg.n_head,
        num_key_value_heads=cfg.kv_heads, head_dim=cfg.head_dim,
        max_position_embeddings=cfg.block_size, rms_norm_eps=cfg.norm_eps,
        tie_word_embeddings=cfg.tie_weights, rope_theta=cfg.rope_base, hidden_act="silu",
        attention_bias=False, mlp_bias=False, bos_token_id=None, eos_token_id=None)
    return transformers.LlamaConfig(**{**settings, **overrides})


def _load_hf(source: Any, block_size: int | None, **kwargs: Any) -> tuple[Any, GPTConfig]:
    """(a LlamaForCausalLM, its GPTConfig); a name or folder is checked from its config
    before any weights are downloaded or read."""
    if isinstance(source, (str, os.PathLike)):
        transformers = _transformers()
        config = config_from_hf(transformers.AutoConfig.from_pretrained(source, **kwargs), block_size)
        return transformers.AutoModelForCausalLM.from_pretrained(source, **kwargs), config
    if not hasattr(source, "config") or not hasattr(source, "state_dict"):
        raise TypeError(f"from_hf takes a LlamaForCausalLM, a model name or a folder, got "
                        f"{type(source).__name__}.")
    return source, config_from_hf(source.config, block_size)


def from_hf(source: Any, *, block_size: int | None = None, dtype: torch.dtype = torch.float32,
            **from_pretrained_kwargs: Any) -> GPT:
    """A growkit GPT computing what a Hugging Face Llama model computes: `source` is a
    LlamaForCausalLM, or a model name or folder for `AutoModelForCausalLM.from_pretrained`
    (extra keyword arguments go to it, e.g. revision=). Weights are cast to `dtype`
    (float32 by default, exact for bf16 checkpoints). Refuses, naming the feature, any
    checkpoint the GPT cannot represent."""
    hf_model, config = _load_hf(source, block_size, **from_pretrained_kwargs)
    hf_state = hf_model.state_dict()
    model = GPT(config)
    state = {}
    for name in model.state_dict():
        src = "model.embed_tokens.weight" if name == "lm_head.weight" and config.tie_weights else hf_name(name)
        state[name] = hf_state[src]
    used = {hf_name(n) for n in state} | ({"lm_head.weight"} if config.tie_weights else set())
    # Anything else in the checkpoint (a bias, an extra norm) would be dropped: refuse instead.
    _refuse([f"parameters with no place in the GPT ({', '.join(sorted(set(hf_state) - used)[:5])})"]
            if set(hf_state) - used else [], "this checkpoint")
    model.load_state_dict(state)
    return model.to(dtype).eval()


def _hf_state(model: GPT) -> dict[str, torch.Tensor]:
    """The GPT's weights under Hugging Face names (a tied head left out, as transformers
    saves it), each its own contiguous tensor (safetensors stores no shared memory)."""
    return {hf_name(n): t.detach().contiguous().clone() for n, t in model.state_dict().items()
            if not (n == "lm_head.weight" and model.config.tie_weights)}


def to_hf(model: GPT, **config_overrides: Any) -> Any:
    """A transformers LlamaForCausalLM computing what the GPT computes (same dtype)."""
    transformers = _transformers()
    model = getattr(model, "_orig_mod", model)  # unwrap torch.compile
    hf_model = transformers.LlamaForCausalLM(hf_config_from(model.config, **config_overrides))
    missing, unexpected = hf_model.load_state_dict(_hf_state(model), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    dtype = next(model.parameters()).dtype
    return hf_model.to(dtype).eval()


def save_hf(model: GPT, folder: str | os.PathLike, *, tokenizer: Any = None,
            **config_overrides: Any) -> Path:
    """Write the GPT as a Hugging Face Llama checkpoint: `config.json` and
    `model.safetensors` (and the tokenizer's files when one is given), a folder that
    `AutoModelForCausalLM.from_pretrained` loads. Returns the folder."""
    _transformers()
    from safetensors.torch import save_file

    model = getattr(model, "_orig_mod", model)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    hf_config = hf_config_from(model.config, **config_overrides)
    hf_config.architectures = ["LlamaForCausalLM"]
    hf_config.save_pretrained(folder)
    save_file({k: v.cpu() for k, v in _hf_state(model).items()}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)
    return folder
