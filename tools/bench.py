"""Throughput benchmark (`make bench`): training tokens/s and achieved GFLOP/s of the GPT
sizes the cpu preset uses, so a user can predict how long a comparison will take here.
Speed targets live here, never in timed tests.

    python tools/bench.py [--steps 20] [--out runs/bench.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from growkit import GPT, TrainConfig, Trainer, load_text
from growkit.study import preset


def time_steps(model: GPT, steps: int, batch_size: int) -> dict[str, float]:
    data = load_text("kjv")
    trainer = Trainer(model, data, TrainConfig(steps=steps + 3, batch_size=batch_size,
                                               eval_every=10**9, warmup=1), progress=False)
    trainer._log_eval()  # the evaluation at step 0 is not timed
    trainer.fit(3)  # warm-up steps (allocator, kernels) are not timed either
    t0 = time.perf_counter()
    trainer.fit(steps)
    dt = time.perf_counter() - t0
    tokens = steps * batch_size * model.config.block_size
    return {"tokens_per_s": tokens / dt,
            "gflops_per_s": tokens * model.flops_per_token() / dt / 1e9,
            "step_ms": 1000 * dt / steps}


def run_bench(steps: int = 20) -> dict[str, Any]:
    cfg = preset("cpu")
    vocab = load_text(cfg.corpus).vocab_size
    rows = []
    for n_layer in (cfg.small_layers, cfg.small_layers * cfg.factor):
        model = GPT(cfg.model_config(n_layer, vocab))
        rows.append({"name": f"{n_layer}L-{cfg.n_embd}d", "n_params": model.n_params(),
                     "batch_size": cfg.batch_size, "block_size": cfg.block_size,
                     **time_steps(model, steps, cfg.batch_size)})
    return {"machine": platform.machine(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "gpt": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", default="runs/bench.json")
    args = parser.parse_args(argv)
    results = run_bench(steps=args.steps)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    for r in results["gpt"]:
        print(f"{r['name']:>12}: {r['tokens_per_s']:>9.0f} tokens/s  {r['gflops_per_s']:6.1f} GFLOP/s")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
