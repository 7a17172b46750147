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

# %% [markdown]
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/YOUR_GITHUB_USER/growkit/blob/v0.1.0/notebooks/07_grow_a_real_model.ipynb)
#
# # Grow a real model: a Hugging Face Llama in, grown two ways, trained, and out again
#
# Everything the course grew so far, it trained itself. People who use growth outside a course grow **released checkpoints**. growkit's GPT is the Llama architecture (RMSNorm, rotary positions, SwiGLU, no biases, grouped-query attention), so a Hugging Face `LlamaForCausalLM` converts into it parameter by parameter and back ([docs/real_models.md](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/real_models.md)). This notebook:
#
# 1. imports a Llama-family checkpoint and checks the import is exact (max |Δ logits| between transformers and growkit);
# 2. grows it two ways: **G_stack ×2** (the whole stack twice, as in notebook 02) and **LLaMA-Pro** (a zero-output copy after every few blocks, Wu et al. 2024), and measures what each changes;
# 3. continues training on one FLOPs budget with the Trainer, on the course's King James Bible text in the checkpoint's **own tokenizer**: the checkpoint as it is, G_stack ×2 trained whole, and LLaMA-Pro with **only its new blocks** trained (the old model frozen, and still charged in the ledger for its forward and backward pass);
# 4. exports the grown model to a folder that `transformers.AutoModelForCausalLM.from_pretrained` loads, and generates from it.
#
# **Which checkpoint.** On Colab with a GPU and internet (`PRESET` "t4" or "gpu", or "auto" on a GPU), `MODEL`: [HuggingFaceTB/SmolLM-135M](https://huggingface.co/HuggingFaceTB/SmolLM-135M), 134.5M parameters (134,515,008; 30 blocks of width 576, 9 query / 3 key-value heads, vocabulary 49,152, tied embeddings), licence Apache-2.0 as listed on its model card. Offline, on a CPU and in the course's tests (`cpu`, `smoke`): a **stand-in**, a random-initialised Llama of SmolLM-135M's kind (the same 9 / 3 head grouping, tied embeddings and MLP ratio) scaled down in width, depth and vocabulary, with a byte-level BPE tokenizer trained here on the KJV's training split, trained here briefly so that growth has something to preserve, and saved as a Hugging Face folder, so the rest of the notebook reads it exactly as it would read a downloaded checkpoint. **The stand-in's numbers say nothing about real checkpoints**: it is a tiny, briefly trained model; what carries over is the exactness of import, export and LLaMA-Pro's preservation, which hold at any size.
#
# About 2.9 minutes on 2 CPU cores at the `cpu` preset (measured: [the README's notebook table](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/README.md#notebooks)); `smoke` shrinks it to seconds (numbers meaningless). What a T4 does with the real checkpoint is sized by arithmetic near the end, not measured. Needs `transformers`: `pip install "growkit[hf]"` (Colab has it already). Words such as *G_stack*, *FLOPs* or *tok/param* are in the [glossary](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/glossary.md).

# %% cellView="form" jupyter={"source_hidden": true}
# @title Install growkit (Colab only; elsewhere this cell does nothing)
# Installs growkit 0.1.0, the release this notebook belongs to; in a clone (`make lab`) it is
# installed already and this cell does nothing. Your fork or an uploaded wheel instead: set GROWKIT
# to "git+https://github.com/<you>/growkit@v0.1.0"
# or "/content/growkit-0.1.0-py3-none-any.whl". Written by tools/colab.py.
import sys

GROWKIT = "git+https://github.com/YOUR_GITHUB_USER/growkit@v0.1.0"  # @param {type:"string"}

if "google.colab" in sys.modules:
    import importlib.metadata
    import re
    import subprocess

    class InstallFailed(Exception):
        def _render_traceback_(self):  # IPython shows this paragraph, not a traceback
            return [str(self)]

    try:
        installed = importlib.metadata.version("growkit")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != "0.1.0":
        if "YOUR_GITHUB_USER" in GROWKIT:
            tried = ("nothing: this copy of the course does not name its repository yet (pyproject.toml's "
                     "[project.urls] Repository is still the placeholder YOUR_GITHUB_USER)")
        else:
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", GROWKIT],
                                 capture_output=True, text=True)
            # git's and pip's own error lines, not pip's "This error originates from a subprocess".
            said = [line.strip() for line in pip.stderr.splitlines()
                    if re.match(r"\s*(fatal|ERROR|error):", line) and "subprocess-exited" not in line]
            said = said or [line.strip() for line in pip.stderr.splitlines() if line.strip()][-1:]
            tried = None if pip.returncode == 0 else f"pip install {GROWKIT}, which failed: {' '.join(said)}"
        if tried:
            raise InstallFailed(
                f"growkit 0.1.0 is not installed, so the notebook stops here. Tried: {tried}. To fix it, "
                "set GROWKIT at the top of this cell to where your copy of growkit lives and run the cell again: "
                "your fork on GitHub ('git+https://github.com/<you>/growkit@v0.1.0', after pushing the tag "
                "v0.1.0), or a wheel built with `python -m build` and uploaded through Colab's Files panel "
                "('/content/growkit-0.1.0-py3-none-any.whl'). The course's docs/gpu_and_colab.md, "
                "'Running on Colab', has the details.")

# %% tags=["parameters"]
# Settings: change one, then run the whole notebook again (Run > Run All Cells).
PRESET = "auto"  # "auto" picks from your hardware; "cpu" (2 CPU cores, the stand-in), "gpu" or "t4" (the real
#                  MODEL when the Hugging Face Hub can be reached); "smoke" shrinks it to seconds (no results)
MODEL = "HuggingFaceTB/SmolLM-135M"  # the checkpoint: a Hub name, or a local folder (used whenever it exists)
USE_MODEL = "auto"  # "auto": MODEL on a GPU preset when it can be reached, else the offline stand-in; True; False
SEED = 0  # the seed of the stand-in's initial weights and of every run's batches
PROGRESS = True  # a progress line while a run trains
RUNS_DIR = "runs/course"  # the stand-in checkpoint and the exported model go under it; None: a temporary folder
RESULTS_DIR = "."  # where this notebook saves its key numbers (results_07.json)

# %%
import copy
import os
import socket
import tempfile
import time
from pathlib import Path

import torch

try:
    import transformers
except ImportError:
    raise ImportError('This notebook needs transformers: install it with pip install "growkit[hf]" '
                      "(or pip install transformers safetensors), then restart the kernel.") from None

from growkit import GPT, GPTConfig, TrainConfig, Trainer, course, grow, load_text, plots
from growkit.grow import LLAMA_PRO, llama_pro, measure_preservation, train_only
from growkit.hf import from_hf, save_hf
from growkit.record import write_json
from growkit.train import seeded

transformers.logging.set_verbosity_error()  # its notes on generation settings are not this notebook's subject

PRESETS = ("smoke", "cpu", "gpu", "t4")
if PRESET == "auto":
    PRESET = "gpu" if torch.cuda.is_available() else "cpu"
if PRESET not in PRESETS:
    raise ValueError(f"PRESET={PRESET!r}: this notebook runs at one of {PRESETS} or 'auto'.")


def reachable(name: str) -> bool:
    """A local folder, or the Hugging Face Hub answering (a 3-second try; none when offline)."""
    if Path(name).is_dir():
        return True
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        return False
    try:
        socket.create_connection(("huggingface.co", 443), timeout=3).close()
        return True
    except OSError:
        return False


REAL = USE_MODEL if USE_MODEL != "auto" else (PRESET in ("gpu", "t4") and reachable(MODEL))

# Sizes. The stand-in (offline): width 9 heads x head size, 9 query / 3 key-value heads, tied, MLP 8/3 of
# the width, like SmolLM-135M's 576 = 9 x 64 with 1536; its vocabulary is a BPE tokenizer trained here.
STAND_IN = {
    "smoke": dict(head_size=8, layers=6, vocab=512, tokenizer_chars=300_000, block=32, batch=8,
                  pretrain_steps=12, budget_steps=16, eval_every=4, eval_batches=2, warmup=2, lr=2e-3),
    "cpu": dict(head_size=16, layers=6, vocab=2048, tokenizer_chars=None, block=64, batch=16,
                pretrain_steps=300, budget_steps=60, eval_every=10, eval_batches=8, warmup=10, lr=1e-3),
}
STAND_IN["gpu"] = STAND_IN["t4"] = STAND_IN["cpu"]  # offline on a GPU: the cpu stand-in (seconds there)
# The real checkpoint: sequences of 512 of its tokens, a lower learning rate for a pretrained model.
REAL_SIZES = {
    "smoke": dict(block=32, batch=2, budget_steps=2, eval_every=1, eval_batches=1, warmup=1, lr=2e-4),
    "cpu": dict(block=128, batch=4, budget_steps=20, eval_every=5, eval_batches=2, warmup=5, lr=2e-4),
    "gpu": dict(block=512, batch=16, budget_steps=300, eval_every=50, eval_batches=8, warmup=30, lr=2e-4),
    "t4": dict(block=512, batch=8, budget_steps=300, eval_every=50, eval_batches=8, warmup=30, lr=2e-4),
}
S = REAL_SIZES[PRESET] if REAL else STAND_IN[PRESET]
EVERY = 3  # LLaMA-Pro: one new block after every 3 (30 -> 40 blocks for SmolLM-135M; 6 -> 8 for the stand-in)

folder = Path(RUNS_DIR) / "07_grow_a_real_model" if RUNS_DIR else Path(tempfile.mkdtemp(prefix="growkit07-"))
folder.mkdir(parents=True, exist_ok=True)
device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cpu":
    torch.set_num_threads(1)  # small models: a second thread buys little, and on a shared CPU it costs a lot
course.begin(PRESET, f"07_grow_a_real_model: preset '{PRESET}' on {device}; checkpoint: "
             + (f"{MODEL}" if REAL else "the offline stand-in (random-initialised, trained here briefly)"))

# %% [markdown]
# ## The tokenizer, and the course's text in its tokens
#
# A checkpoint reads its own tokens: `load_text("kjv", tokenizer=...)` tokenises the King James Bible with a Hugging Face tokenizer and keeps the character corpus's train/validation split (the same passages are held out). Losses below are in **nats per token of this tokenizer**, not per character: they compare between the runs here, not with the other notebooks.

# %%
t0 = time.perf_counter()
if REAL:
    tokenizer = transformers.AutoTokenizer.from_pretrained(MODEL)
else:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    # Byte-level BPE, as SmolLM's tokenizer is, trained on the training split only.
    chars = load_text("kjv")
    train_text = chars.decode(chars.train[:S["tokenizer_chars"]])
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([train_text], trainers.BpeTrainer(
        vocab_size=S["vocab"], special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>", unk_token="<|endoftext|>")
data = load_text("kjv", tokenizer=tokenizer)
print(f"{len(tokenizer):,} tokens in the vocabulary; KJV: {len(data.train):,} training and {len(data.val):,} "
      f"validation tokens ({time.perf_counter() - t0:.1f} s)")
print("'And God said, Let there be light' ->", tokenizer.tokenize("And God said, Let there be light"))

# %% [markdown]
# ## The checkpoint
#
# With the real model this cell does nothing: `MODEL` is the checkpoint. Offline it makes the stand-in: a `transformers.LlamaForCausalLM` built from a `LlamaConfig` (random-initialised by transformers), imported into growkit, trained for a few hundred steps with the Trainer (its own run, not part of the comparison below), and written with `save_hf` as a Hugging Face folder, tokenizer included.

# %%
pretraining = None
if REAL:
    SOURCE = MODEL
else:
    width = 9 * S["head_size"]
    shape = transformers.LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=width, intermediate_size=width * 8 // 3,
        num_hidden_layers=S["layers"], num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True,
        max_position_embeddings=S["block"], rms_norm_eps=1e-5, rope_theta=10000.0,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    stand_in = seeded(SEED, lambda: from_hf(transformers.LlamaForCausalLM(shape)))
    pretrain = Trainer(stand_in, data, TrainConfig(
        steps=S["pretrain_steps"], batch_size=S["batch"], lr=3e-3, warmup=S["warmup"],
        eval_every=S["pretrain_steps"], eval_batches=S["eval_batches"], seed=SEED),
        name="stand-in pretraining", progress=PROGRESS).fit()
    losses = pretrain.record.series("val_loss")
    pretraining = {"steps": S["pretrain_steps"], "val_loss_start": losses[0], "val_loss_end": losses[-1]}
    print(f"stand-in: {stand_in.n_params():,} params, {S['layers']} blocks of width {width}; "
          f"validation loss {losses[0]:.3f} -> {losses[-1]:.3f} nats/token in {S['pretrain_steps']} steps")
    SOURCE = save_hf(pretrain.model.cpu(), folder / "stand_in_checkpoint", tokenizer=tokenizer,
                     bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    del pretrain, stand_in
print("checkpoint:", SOURCE)

# %% [markdown]
# ## Import, exactly
#
# `from_hf` maps the config (vocabulary, widths, query and key-value heads, head size, MLP size, rope base, norm eps, tied embeddings) and every weight by name. `block_size` is the longest sequence the growkit model takes (here the training length). The check: transformers' own model and growkit's give the same logits on a validation batch.

# %%
t0 = time.perf_counter()
hf_model = transformers.AutoModelForCausalLM.from_pretrained(SOURCE).float().eval()  # float32, whatever it was saved in
model = from_hf(hf_model, block_size=S["block"])
c = model.config
print(f"{type(hf_model).__name__} -> growkit GPT in {time.perf_counter() - t0:.1f} s: {model.n_params():,} params, "
      f"{c.n_layer} blocks, width {c.n_embd}, {c.n_head} query / {c.kv_heads} key-value heads of size {c.head_dim}, "
      f"MLP {c.mlp_hidden}, vocabulary {c.vocab_size:,}, tied {c.tie_weights}, rope base {c.rope_base:g}")
x, y = data.batch("val", 2, S["block"], torch.Generator().manual_seed(0))
with torch.no_grad():
    imported = float((hf_model(x).logits - model(x)[0]).abs().max())
print(f"max |Δ logits|, transformers vs growkit: {imported:.1e}")
hf_config = hf_model.config
del hf_model

# %% [markdown]
# ## Grow it two ways
#
# - **G_stack ×2**: the whole stack twice (notebook 02's operator). Not function-preserving: block 0 now reads what the last block wrote.
# - **LLaMA-Pro**: after every 3 blocks one new block, a copy of the block before it with its attention output projection (`o_proj`) and MLP output projection (`down_proj`) zeroed, so it adds exactly zero to the residual stream. In the course's terms G_zero in depth with a placement; exactly preserving. The paper then trains only the new blocks.
#
# Preservation: max |Δ logits| between the checkpoint and the grown model on validation batches, and the loss before and after. FLOPs per token are the ledger's count for training: with the old model frozen, LLaMA-Pro's every weight still costs its forward pass and (above the first new block) the backward pass through it, but only the new blocks compute weight gradients.

# %%
xs, ys = data.batch("val", 4, S["block"], torch.Generator().manual_seed(1))
t0 = time.perf_counter()
stacked = grow(model, "stack", factor=2)
pro = llama_pro(model, every=EVERY)
print(f"grown in {time.perf_counter() - t0:.1f} s")
with torch.no_grad():
    preservation = {"stack": measure_preservation(model, stacked, xs, ys),
                    "llama_pro": measure_preservation(model, pro.model, xs, ys)}
flops_all = pro.model.flops_per_token()
train_only(pro.model, pro.info["new_blocks"])  # what the LLaMA-Pro run below trains
sizes = {"checkpoint": model, "stack": stacked, "llama_pro": pro.model}
for key, m in sizes.items():
    p = preservation.get(key)
    said = (f"; max |Δ logits| {p['max_abs_logits']:.2g}, loss {p['loss_before']:.4f} -> {p['loss_after']:.4f}"
            if p else "")
    print(f"{key:>10}: {m.config.n_layer:>2} blocks, {m.n_params():>12,} params, "
          f"{m.flops_per_token() / 1e6:9.1f} MFLOPs/token to train{said}")
n_trainable = sum(p.numel() for p in pro.model.parameters() if p.requires_grad)
print(f"LLaMA-Pro's new blocks {pro.info['new_blocks']}: {n_trainable:,} trainable params; "
      f"{flops_all / 1e6:.1f} MFLOPs/token if everything trained, {pro.model.flops_per_token() / 1e6:.1f} frozen")
for key in preservation:
    preservation[key]["params"] = sizes[key].n_params()
preservation["llama_pro"]["new_blocks"] = pro.info["new_blocks"]
per_token = {"as imported": model.flops_per_token(), "stack↑×2": stacked.flops_per_token(),
             "LLaMA-Pro, new blocks only": pro.model.flops_per_token()}
del stacked, pro

# %% [markdown]
# ## Continue training, one FLOPs budget
#
# Three runs from the same checkpoint, on the same batches: the checkpoint **as it is**, **G_stack ×2** trained whole, and **LLaMA-Pro** training only its new blocks (`Trainer.grow(LLAMA_PRO, ..., train_only_new=True)`). The budget is what the stacked model spends in `budget_steps` steps; each run takes as many steps as the budget buys it. The ledger starts at the import: what the checkpoint cost to train is the same for all three and is not counted.

# %%
def config(steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=S["batch"], lr=S["lr"], warmup=S["warmup"],
                       eval_every=S["eval_every"], eval_batches=S["eval_batches"], seed=SEED)


tokens_per_step = S["batch"] * S["block"]
budget = S["budget_steps"] * tokens_per_step * per_token["stack↑×2"]
steps = {name: max(1, round(budget / (tokens_per_step * f))) for name, f in per_token.items()}
print(f"budget {budget:.3g} FLOPs: " + ", ".join(f"{n} {s} steps" for n, s in steps.items()))

records, runs = {}, []
t0 = time.perf_counter()
for name, n in steps.items():
    if name == "as imported":
        trainer = Trainer(copy.deepcopy(model), data, config(n), name=name, progress=PROGRESS).fit()
    else:  # the checkpoint evaluated once (a phase of 0 steps), then grown, then trained
        trainer = Trainer(copy.deepcopy(model), data, config(0), name=name, progress=PROGRESS).fit()
        if name.startswith("stack"):
            trainer.grow("stack", factor=2, config=config(n))
        else:
            trainer.grow(LLAMA_PRO, factor=1 + 1 / EVERY, config=config(n), train_only_new=True)
        trainer.fit()
    rec = records[name] = trainer.record
    if name.startswith("LLaMA-Pro"):
        grown = trainer.model.cpu().eval()  # the model exported below
    phase = [h for h in rec.history if h["phase"] == rec.history[-1]["phase"]]
    runs.append({"name": name, "steps": n, "params": rec.n_params,
                 "trainable_params": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
                 "flops": rec.total_flops, "tokens": rec.total_tokens, "tokens_per_param": rec.tokens_per_param,
                 "val_loss_start": phase[0]["val_loss"], "val_loss": rec.final_val_loss,
                 "train_loss_first": next(h["train_loss"] for h in phase if h["train_loss"] is not None),
                 "train_loss_last": phase[-1]["train_loss"],
                 "growth": [{k: e[k] for k in ("op", "params_before", "params_after", "preservation")}
                            for e in rec.events]})
    del trainer
    if device == "cuda":
        torch.cuda.empty_cache()
print(f"trained in {time.perf_counter() - t0:.0f} s")
for r in runs:
    print(f"{r['name']:>27}: {r['steps']:>4} steps, {r['trainable_params']:>11,} of {r['params']:>11,} params "
          f"trained, validation loss {r['val_loss_start']:.4f} -> {r['val_loss']:.4f} nats/token")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(8, 5))
plots.plot_curves(records.values(), ax, labels=lambda r: f"{r.name} ({r.n_params / 1e6:.2f}M params)")
# Every run starts at the import (FLOPs 0, where the growth is): a linear axis, and each line
# drawn from its first evaluation after growth, the change growth made at FLOPs 0 included.
ax.set_xscale("linear")
curves = [line for line in ax.get_lines() if not line.get_label().startswith("_")]  # not the growth marks
for line, run in zip(curves, runs):
    x_, y_ = line.get_data()
    line.set_data([0, *x_], [run["val_loss_start"], *y_])
ax.relim()
ax.autoscale_view()
ax.set(xlabel="training FLOPs from the import", ylabel="validation loss (nats/token)")
ax.legend(fontsize=8)
what = MODEL if REAL else "the offline stand-in (random-initialised, briefly trained)"
ax.set_title(("[smoke run: meaningless numbers] " if PRESET == "smoke" else "")
             + f"continued training on one FLOPs budget\n{what}", fontsize=10)
fig.tight_layout()

# %% [markdown]
# Read it as what it is. Offline, the stand-in has trained a few hundred steps (a dozen at `smoke`): it is far from trained, so on this budget training the whole model as imported gains most, the stacked model first has to pay back the jump its growth made (and has fewer steps to do it in: each costs twice as much), and training only LLaMA-Pro's new blocks, a fraction of the parameters, moves the loss least. LLaMA-Pro is made for the opposite case, a well-trained model that must keep what it knows while it learns a new domain; whether growing a real checkpoint pays is a question for real checkpoints and real budgets, which these numbers cannot answer.

# %% [markdown]
# ## Export, and load it back with transformers
#
# `save_hf` writes `config.json` and `model.safetensors` (and the tokenizer's files); `AutoModelForCausalLM.from_pretrained` loads the folder as a `LlamaForCausalLM` of the grown depth. The check: the loaded model gives the growkit model's logits, and it writes text.

# %%
t0 = time.perf_counter()
export = save_hf(grown, folder / "llama_pro_grown", tokenizer=tokenizer,
                 max_position_embeddings=hf_config.max_position_embeddings,
                 bos_token_id=hf_config.bos_token_id, eos_token_id=hf_config.eos_token_id)
loaded = transformers.AutoModelForCausalLM.from_pretrained(export).float().eval()
loaded_tokenizer = transformers.AutoTokenizer.from_pretrained(export)
print(f"wrote {export} ({sum(f.stat().st_size for f in export.iterdir()) / 1e6:.1f} MB) and loaded it back as "
      f"{type(loaded).__name__} with {loaded.config.num_hidden_layers} blocks in {time.perf_counter() - t0:.1f} s")
with torch.no_grad():
    exported = float((loaded(xs).logits - grown(xs)[0]).abs().max())
print(f"max |Δ logits|, growkit vs the loaded folder: {exported:.1e}")

prompt = loaded_tokenizer("And God said", return_tensors="pt")
with torch.no_grad():
    out = loaded.generate(**prompt, max_new_tokens=20, do_sample=False, pad_token_id=loaded_tokenizer.eos_token_id)
    ours = grown.generate(prompt["input_ids"], 20, temperature=1e-6)  # growkit's own, near-greedy
new_tokens = out.shape[1] - prompt["input_ids"].shape[1]
text = loaded_tokenizer.decode(out[0], skip_special_tokens=True)
same = out[0].tolist() == ours[0].tolist()
print(f"transformers, greedy, {new_tokens} new tokens: {text!r}")
print("growkit's own generate writes the same tokens" if same else "growkit's own generate differs (a near-tie)")

# %% [markdown]
# ## What a T4 does with the real checkpoint (arithmetic, not measured)
#
# Colab's free T4 peaks at about 65 TFLOP/s in fp16 (NVIDIA's figure for its tensor cores); a small model trained with PyTorch reaches a fraction of that, assumed here to be 30% (it could well be half that). The FLOPs are the ledger's count for SmolLM-135M's shape at the `t4` preset's settings (8 sequences of 512 tokens a step, 300 steps of the stacked model as the budget), computed on PyTorch's `meta` device (shapes only, no weights), beside the rule of thumb 6·N·tokens.

# %%
T4_PEAK, UTILISATION = 65e12, 0.30
t4 = REAL_SIZES["t4"]
smollm = GPTConfig(vocab_size=49152, block_size=t4["block"], n_layer=30, n_head=9, n_kv_head=3, n_embd=576,
                   mlp_hidden=1536, tie_weights=True)
with torch.device("meta"):
    base = GPT(smollm)
    pro_meta = llama_pro(base, every=EVERY)
    train_only(pro_meta.model, pro_meta.info["new_blocks"])
    shapes = {"as imported": base, "stack↑×2": grow(base, "stack", factor=2),
              "LLaMA-Pro, new blocks only": pro_meta.model}
t4_tokens_per_step = t4["batch"] * t4["block"]
t4_budget = t4["budget_steps"] * t4_tokens_per_step * shapes["stack↑×2"].flops_per_token()
seconds = t4_budget / (T4_PEAK * UTILISATION)
t4_plan = []
for name, m in shapes.items():
    tokens = t4_budget / m.flops_per_token()
    t4_plan.append({"name": name, "params": m.n_params(), "flops_per_token": m.flops_per_token(),
                    "six_n": 6 * m.n_params(), "tokens": tokens, "steps": round(tokens / t4_tokens_per_step)})
    print(f"{name:>27}: {m.n_params() / 1e6:6.1f}M params, {m.flops_per_token() / 1e6:6.0f} MFLOPs/token "
          f"(6·N = {6 * m.n_params() / 1e6:5.0f}M), {tokens / 1e6:.2f}M tokens in {t4_plan[-1]['steps']} steps")
print(f"each run: {t4_budget:.2e} FLOPs, {seconds / 60:.1f} min at {UTILISATION:.0%} of {T4_PEAK / 1e12:.0f} TFLOP/s; "
      f"the three runs {3 * seconds / 60:.1f} min of training, plus evaluations (~10%), the download (~270 MB) "
      f"and the export ({shapes['LLaMA-Pro, new blocks only'].n_params() * 4 / 1e6:.0f} MB in float32)")
t4_estimate = {"peak_flops": T4_PEAK, "assumed_utilisation": UTILISATION, "budget_flops": t4_budget,
               "minutes_per_run": seconds / 60, "minutes_training": 3 * seconds / 60, "runs": t4_plan,
               "measured": False}

# %% [markdown]
# In memory the stacked model is the largest: 240.7M parameters are about 3.9 GB in float32 with AdamW's two moments and the gradients, and the activations of 8 × 512 tokens through 60 blocks (fp16) and the 49,152-way logits add several more; 8 sequences a step is chosen to stay inside a T4's 15 GB (also estimated, not measured).

# %%
best = min(runs, key=lambda r: r["val_loss"])
verdict = course.words(
    f"From {'the checkpoint ' + MODEL if REAL else 'an offline stand-in (random-initialised, briefly trained; its numbers say nothing about real checkpoints)'}: "
    f"import and export exact (max |Δ logits| {imported:.1e} and {exported:.1e}); LLaMA-Pro preserved the "
    f"function (max |Δ logits| {preservation['llama_pro']['max_abs_logits']:.1e}), G_stack ×2 did not "
    f"({preservation['stack']['max_abs_logits']:.2g}). On one budget of {budget:.3g} FLOPs the lowest validation "
    f"loss is {best['name']}'s ({best['val_loss']:.4f} nats/token; "
    + ", ".join(f"{r['name']} {r['val_loss']:.4f}" for r in runs if r is not best) + ").", PRESET)
print(verdict)

results = {
    "description": f"preset {PRESET}; checkpoint {MODEL if REAL else 'offline stand-in'}",
    "checkpoint": {"source": str(SOURCE), "real": bool(REAL), "params": model.n_params(),
                   "config": model.config.to_dict(), "vocab": len(tokenizer),
                   "pretraining": pretraining},
    "round_trip": {"import_max_abs_logits": imported, "export_max_abs_logits": exported},
    "preservation": preservation, "budget_flops": budget, "runs": runs,
    "export": {"folder": str(export), "loads": type(loaded).__name__, "blocks": loaded.config.num_hidden_layers,
               "new_tokens": new_tokens, "generated": text, "same_as_growkit_generate": same},
    "t4_estimate": t4_estimate, "verdict": {"text": verdict},
}
print("wrote", write_json(f"{RESULTS_DIR}/results_07.json", results))

# %% [markdown]
# Next: grow your own checkpoint from a script ([docs/real_models.md](https://github.com/YOUR_GITHUB_USER/growkit/blob/v0.1.0/docs/real_models.md): what is exact, what is refused, SOLAR's depth up-scaling beside LLaMA-Pro).
