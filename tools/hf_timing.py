"""Time importing, growing x2 (G_stack) and exporting a 135M-shaped Llama on this machine.

    python tools/hf_timing.py [--layers 30] [--threads 2] [--out /tmp/hf_timing]

A random-initialised LlamaForCausalLM of SmolLM-135M's shape (hidden 576, 30 layers, 9
query / 3 key-value heads, intermediate 1536, vocab 49152, tied embeddings, rope base
100000) stands in for the checkpoint, so nothing is downloaded. Prints each step's wall
time, the parameter counts before and after, and the round trip's max |delta logits|.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

from growkit import grow
from growkit.hf import from_hf, save_hf

SMOLLM_135M = dict(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                   num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=2048,
                   rms_norm_eps=1e-5, tie_word_embeddings=True, rope_theta=100000.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="export folder (default: a temporary one)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    import transformers

    torch.manual_seed(0)
    hf = transformers.LlamaForCausalLM(
        transformers.LlamaConfig(**{**SMOLLM_135M, "num_hidden_layers": args.layers})).eval()
    out = args.out or Path(tempfile.mkdtemp(prefix="hf_timing_"))
    times = {}

    start = time.perf_counter()
    model = from_hf(hf)
    times["import (LlamaForCausalLM -> GPT)"] = time.perf_counter() - start

    start = time.perf_counter()
    big = grow(model, "stack", factor=2)
    times["grow x2 (G_stack)"] = time.perf_counter() - start

    start = time.perf_counter()
    save_hf(big, out)
    times["export (safetensors folder)"] = time.perf_counter() - start

    start = time.perf_counter()
    loaded = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    times["load back (AutoModelForCausalLM)"] = time.perf_counter() - start

    x = torch.randint(SMOLLM_135M["vocab_size"], (1, 64), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        round_trip = float((model(x)[0] - hf(x).logits).abs().max())
        exported = float((loaded(x).logits - big(x)[0]).abs().max())
    for step, seconds in times.items():
        print(f"{step:36s} {seconds:7.2f} s")
    print(f"parameters before {model.n_params():,} (HF {hf.num_parameters():,}), after {big.n_params():,} "
          f"(HF {loaded.num_parameters():,})")
    print(f"layers {model.config.n_layer} -> {big.config.n_layer}; "
          f"max |delta logits| import {round_trip:.2e}, export {exported:.2e}; "
          f"folder {sum(f.stat().st_size for f in out.iterdir()) / 1e6:.0f} MB")
    if args.out is None:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
