"""growkit.hf: Llama checkpoints in and out, exact round trips, clear refusals (no network)."""

import pytest
import torch

transformers = pytest.importorskip(
    "transformers", reason="growkit.hf needs transformers and safetensors: pip install 'growkit[hf]'")

from growkit import GPT, GPTConfig, grow  # noqa: E402
from growkit.grow.named import llama_pro  # noqa: E402
from growkit.hf import UnsupportedCheckpoint, config_from_hf, from_hf, save_hf, to_hf  # noqa: E402

VOCAB = 300
# Real small-model shapes, scaled down: SmolLM-135M's (9 query / 3 key-value heads, tied
# embeddings, rope base 100000), a plain multi-head untied Llama, and a head size set apart
# from hidden_size / heads.
SHAPES = {
    "smollm-like": dict(hidden_size=72, num_attention_heads=9, num_key_value_heads=3,
                        intermediate_size=192, tie_word_embeddings=True, rope_theta=100000.0),
    "mha-untied": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=4,
                       intermediate_size=172, tie_word_embeddings=False),
    "head-dim-apart": dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, head_dim=24,
                           intermediate_size=160, tie_word_embeddings=False, rope_theta=500000.0),
}


def random_llama(**shape) -> "transformers.LlamaForCausalLM":
    """A randomly initialised Llama with every weight perturbed (norm gains too, so a
    mapping that swapped two norms would show)."""
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, num_hidden_layers=3, max_position_embeddings=32,
                                   rms_norm_eps=1e-5, **shape)
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def hf_logits(model, x):
    with torch.no_grad():
        return model(x).logits


def gk_logits(model, x):
    with torch.no_grad():
        return model.eval()(x)[0]


@pytest.fixture
def x():
    return torch.randint(VOCAB, (2, 32), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_hf_to_growkit_to_hf_gives_the_same_logits(shape, x):
    hf = random_llama(**shape)
    model = from_hf(hf)
    c = model.config
    assert (c.vocab_size, c.n_embd, c.n_head, c.kv_heads, c.mlp_hidden, c.block_size) == (
        VOCAB, shape["hidden_size"], shape["num_attention_heads"], shape["num_key_value_heads"],
        shape["intermediate_size"], 32)
    assert (c.tie_weights, c.rope_base, c.norm_eps) == (
        shape["tie_word_embeddings"], shape.get("rope_theta", 10000.0), 1e-5)
    assert c.head_dim == shape.get("head_dim", shape["hidden_size"] // shape["num_attention_heads"])
    expected = hf_logits(hf, x)
    assert (gk_logits(model, x) - expected).abs().max() <= 1e-5
    assert (hf_logits(to_hf(model), x) - expected).abs().max() <= 1e-5


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_growkit_to_hf_folder_to_growkit_gives_the_same_logits(shape, x, tmp_path):
    model = from_hf(random_llama(**shape))
    save_hf(model, tmp_path)
    assert (tmp_path / "model.safetensors").exists() and (tmp_path / "config.json").exists()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert type(loaded).__name__ == "LlamaForCausalLM"
    expected = gk_logits(model, x)
    assert (hf_logits(loaded, x) - expected).abs().max() <= 1e-5
    back = from_hf(tmp_path)
    assert back.config == model.config
    assert (gk_logits(back, x) - expected).abs().max() <= 1e-5


def test_a_growkit_trained_model_exports_and_generates(x, tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=VOCAB, block_size=32, n_layer=2, n_head=4, n_embd=32))
    save_hf(model, tmp_path)
    hf = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert (hf_logits(hf, x) - gk_logits(model, x)).abs().max() <= 1e-5
    out = hf.generate(x[:1, :4], max_new_tokens=3, do_sample=False)
    assert out.shape == (1, 7)


def test_grown_imported_models_export_with_their_preservation(x, tmp_path):
    hf = random_llama(**SHAPES["smollm-like"])
    model = from_hf(hf)
    expanded = llama_pro(model, every=1).model
    save_hf(expanded, tmp_path / "pro")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "pro").eval()
    assert loaded.config.num_hidden_layers == 6
    assert (hf_logits(loaded, x) - hf_logits(hf, x)).abs().max() <= 1e-5  # LLaMA-Pro: exact
    stacked = grow(model, "stack", factor=2)
    save_hf(stacked, tmp_path / "stack")
    loaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "stack").eval()
    assert (hf_logits(loaded, x) - gk_logits(stacked, x)).abs().max() <= 1e-5


@pytest.mark.parametrize("change,feature", [
    (dict(attention_bias=True), "attention biases"),
    (dict(mlp_bias=True), "MLP biases"),
    (dict(rope_scaling={"rope_type": "linear", "factor": 2.0}), "rope scaling of type 'linear'"),
    (dict(hidden_act="gelu"), "activation hidden_act='gelu'"),
])
def test_what_the_gpt_cannot_represent_is_refused_by_name(change, feature):
    cfg = transformers.LlamaConfig(vocab_size=VOCAB, hidden_size=32, num_attention_heads=4,
                                   num_hidden_layers=1, intermediate_size=64, **change)
    with pytest.raises(UnsupportedCheckpoint, match=f"growkit's GPT cannot represent this checkpoint: "
                                                    f"it has {feature}"):
        config_from_hf(cfg)


def test_other_architectures_and_sliding_windows_are_refused():
    with pytest.raises(UnsupportedCheckpoint, match=r"architecture model_type='mistral'"):
        config_from_hf(transformers.MistralConfig())
    cfg = transformers.LlamaConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=1)
    cfg.sliding_window = 16
    with pytest.raises(UnsupportedCheckpoint, match=r"sliding-window attention \(sliding_window=16\)"):
        config_from_hf(cfg)


def test_a_folder_is_refused_from_its_config_before_any_weights_are_read(tmp_path):
    transformers.LlamaConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=1,
                             attention_bias=True).save_pretrained(tmp_path)  # no weights at all
    with pytest.raises(UnsupportedCheckpoint, match="attention biases"):
        from_hf(tmp_path)
