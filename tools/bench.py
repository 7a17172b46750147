"""Throughput benchmark (`make bench`): growkit's Trainer beside a plain PyTorch loop on the
same model, eager and compiled, measured in one process, for the course's model sizes.

For each model (the preset's small and target GPT) four runners train from the same
weights on the same batches (growkit.data, the same generator), with AdamW, gradient
clipping at 1.0 and the precision growkit picks (growkit.device.choose):

    plain eager        the loop every PyTorch tutorial writes
    growkit eager      Trainer(runtime=Runtime(compile=False))
    plain compiled     the plain loop through torch.compile
    growkit compiled   Trainer(runtime=Runtime(compile=True))

They take turns in rounds (A B C D, then D C B A, ...) so that drift of a shared machine
falls on all of them alike; a rate is the median turn's. Each prints tokens/s, its ratio to plain eager, its achieved
GFLOP/s (the model's flops_per_token: matrix multiplies, forward and backward) and the share
of this machine's measured matmul peak (a big torch.mm loop: the physical limit here); on a
GPU also MFU (against the device's published dense bf16 peak) and peak memory. Compile time
is measured on each compiled runner's first step, and weighed against the length of the
course's run of that model (its FLOPs budget): does compiling pay for it? Speed targets
live here, in the output, never in timed tests.

    python tools/bench.py [--preset auto] [--rounds 6] [--steps 8] [--out runs/bench.json]
    python tools/bench.py --fresh-compile-cache    # compile times as on a new machine
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Before torch is imported: inductor reads its cache folder once.
if "--fresh-compile-cache" in sys.argv:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="growkit-bench-inductor-")

import torch  # noqa: E402
from torch import nn  # noqa: E402

from growkit import GPT, TrainConfig, Trainer, load_text  # noqa: E402
from growkit.device import Runtime, choose, policy  # noqa: E402
from growkit.study import pick_preset, plan, preset  # noqa: E402

# Published dense (no sparsity) peak tensor-core rates in TFLOP/s, bf16 unless noted; the
# first name fragment found in torch.cuda.get_device_name() wins (so "H100 PCIe" before
# "H100"). For MFU only: the measured matmul peak beside it is what this card really does.
PEAK_TFLOPS: list[tuple[str, float, str]] = [
    ("H200", 989.0, "bf16"),
    ("H100 PCIe", 756.0, "bf16"),
    ("H100 NVL", 835.0, "bf16"),
    ("H100", 989.0, "bf16"),  # SXM (HBM3)
    ("A100", 312.0, "bf16"),
    ("L40S", 362.0, "bf16"),
    ("L40", 181.0, "bf16"),
    ("L4", 121.0, "bf16"),
    ("A10", 125.0, "bf16"),
    ("T4", 65.0, "fp16"),
    ("V100", 125.0, "fp16"),
]
RUNNERS = ("plain eager", "growkit eager", "plain compiled", "growkit compiled")


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def published_peak(device: torch.device) -> tuple[float, str] | None:
    """(TFLOP/s, dtype) of this GPU from the table above, or None (unknown card, or a CPU)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for fragment, tflops, dtype in PEAK_TFLOPS:
        if fragment in name:
            return tflops, dtype
    return None


def matmul_peak(device: torch.device, dtype: torch.dtype, seconds: float = 1.5) -> float:
    """GFLOP/s of square torch.mm at the size that does best here (best of a few timings)."""
    sizes = (1024, 2048) if device.type == "cpu" else (4096, 8192)
    best = 0.0
    for n in sizes:
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        out = torch.empty(n, n, device=device, dtype=dtype)
        torch.mm(a, b, out=out)  # warm-up: threads, kernels, clocks
        sync(device)
        for _ in range(3):
            reps, t0 = 0, time.perf_counter()
            while True:
                torch.mm(a, b, out=out)
                reps += 1
                if reps % 4 == 0:
                    sync(device)
                    if time.perf_counter() - t0 > seconds / 3:
                        break
            best = max(best, 2 * n**3 * reps / (time.perf_counter() - t0) / 1e9)
    return best


class PlainLoop:
    """The loop a PyTorch user writes: no ledger, no record, no checks; the same recipe."""

    def __init__(self, model: GPT, data: Any, batch_size: int, device: torch.device,
                 compile: bool) -> None:
        self.model, self.data, self.batch_size, self.device = model.to(device), data, batch_size, device
        self.engine = torch.compile(self.model, dynamic=False) if compile else self.model
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=1e-3, betas=(0.9, 0.95),
                                           weight_decay=0.1, fused=device.type == "cuda")
        precision = policy(device, compile=False)
        self.autocast, self.scaler = precision.autocast, precision.scaler
        self.generator = torch.Generator().manual_seed(0)

    def train(self, steps: int) -> None:
        block = self.model.config.block_size
        for _ in range(steps):
            x, y = self.data.batch("train", self.batch_size, block, self.generator)
            x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
            with self.autocast:
                _, loss = self.engine(x, y)
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        loss.detach().item()  # one host sync per call, as the Trainer's loss check


class TrainerLoop:
    def __init__(self, model: GPT, data: Any, batch_size: int, device: torch.device,
                 compile: bool) -> None:
        config = TrainConfig(steps=10**8, batch_size=batch_size, lr=1e-3, warmup=1,
                             eval_every=10**8, eval_batches=1)
        self.trainer = Trainer(model, data, config, progress=False,
                               runtime=Runtime(device=device, compile=compile))
        self.trainer.fit(0)  # fit logs the evaluation at step 0 first: out of the timing

    def train(self, steps: int) -> None:
        self.trainer.fit(steps)


def bench_model(model: GPT, data: Any, batch_size: int, device: torch.device, *, rounds: int,
                steps: int, course_tokens: float) -> dict[str, Any]:
    """The four runners on copies of `model`, interleaved; tokens/s and compile times."""
    tokens_per_step = batch_size * model.config.block_size
    runners: dict[str, Any] = {}
    compile_s: dict[str, float] = {}
    for name in RUNNERS:
        cls = TrainerLoop if name.startswith("growkit") else PlainLoop
        runner = cls(copy.deepcopy(model), data, batch_size, device, compile=name.endswith("compiled"))
        sync(device)
        t0 = time.perf_counter()
        runner.train(1)  # compiles, for a compiled runner
        sync(device)
        if name.endswith("compiled"):
            compile_s[name] = time.perf_counter() - t0
        runner.train(2)  # warm-up: allocator, kernels, threads
        runners[name] = runner
    if "growkit compiled" in runners and not runners["growkit compiled"].trainer.engine.compiled:
        print("note: torch.compile fell back to eager here: the compiled rows are eager.")
    turns: dict[str, list[float]] = {name: [] for name in RUNNERS}  # seconds of each turn
    peak_mb = dict.fromkeys(RUNNERS, 0.0)
    for r in range(rounds):
        for name in (RUNNERS if r % 2 == 0 else RUNNERS[::-1]):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            t0 = time.perf_counter()
            runners[name].train(steps)
            sync(device)
            turns[name].append(time.perf_counter() - t0)
            if device.type == "cuda":
                peak_mb[name] = max(peak_mb[name], torch.cuda.max_memory_allocated(device) / 2**20)
    flops_per_token = model.flops_per_token()
    rows = {}
    for name in RUNNERS:
        # The median turn: a burst of another process's work spoils one turn, not the rate.
        turn = statistics.median(turns[name])
        rate = steps * tokens_per_step / turn
        rows[name] = {"tokens_per_s": rate, "gflops_per_s": rate * flops_per_token / 1e9,
                      "step_ms": 1000 * turn / steps}
        if name in compile_s:
            rows[name]["compile_s"] = compile_s[name]
        if device.type == "cuda":
            rows[name]["peak_memory_mb"] = peak_mb[name]
    base = rows["plain eager"]["tokens_per_s"]
    for name, row in rows.items():
        row["vs_plain_eager"] = row["tokens_per_s"] / base
        # Round by round (turns side by side in time): how much the ratio itself wanders.
        per_round = [b / a for a, b in zip(turns[name], turns["plain eager"], strict=True)]
        row["vs_plain_eager_rounds"] = [min(per_round), max(per_round)]
    return {"n_params": model.n_params(), "flops_per_token": flops_per_token,
            "tokens_per_step": tokens_per_step, "runners": rows,
            "compile": break_even(rows, course_tokens)}


def break_even(rows: dict[str, dict[str, float]], course_tokens: float) -> dict[str, Any]:
    """Does compiling the Trainer pay for the course's run of this model? Compiling costs
    compile_s once (the first compiled runner's: the second reuses its graph in this
    process); each token then saves 1/eager - 1/compiled seconds."""
    eager, comp = rows["growkit eager"], rows["growkit compiled"]
    compile_s = max(rows["plain compiled"]["compile_s"], comp["compile_s"])
    saved_per_token = 1 / eager["tokens_per_s"] - 1 / comp["tokens_per_s"]
    eager_run_s = course_tokens / eager["tokens_per_s"]
    compiled_run_s = course_tokens / comp["tokens_per_s"] + compile_s
    return {"course_run_tokens": course_tokens, "compile_s": compile_s,
            "break_even_tokens": compile_s / saved_per_token if saved_per_token > 0 else None,
            "course_run_eager_s": eager_run_s, "course_run_compiled_s": compiled_run_s,
            "pays": compiled_run_s < eager_run_s}


def run_bench(preset_name: str = "auto", rounds: int = 6, steps: int = 8,
              done: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """The bench's result; `done(result so far)` after each model, so that a run cut short
    (gpu-check's time limit) leaves what it measured."""
    device = choose().device
    dev = torch.device(device)
    name = pick_preset(preset_name)
    cfg = preset(name)
    data = load_text(cfg.corpus)
    chosen = choose(dev)
    peak_dtype = chosen.dtype or torch.float32
    result: dict[str, Any] = {
        "machine": platform.machine(), "processor": platform.processor() or platform.machine(),
        "device": chosen.describe(), "torch": torch.__version__, "threads": torch.get_num_threads(),
        "preset": name, "batch_size": cfg.batch_size, "block_size": cfg.block_size,
        "matmul_peak_gflops": matmul_peak(dev, peak_dtype), "matmul_dtype": str(peak_dtype),
        "gpt": {}}
    published = published_peak(dev)
    if dev.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(dev)
        result["published_peak_tflops"] = published[0] if published else None
        result["published_peak_dtype"] = published[1] if published else None
    budget = plan(cfg, data.vocab_size).budget_flops
    for n_layer in (cfg.small_layers, cfg.small_layers * cfg.factor):
        torch.manual_seed(0)
        model = GPT(cfg.model_config(n_layer, data.vocab_size))
        course_tokens = budget / model.flops_per_token(cfg.block_size)  # its run alone, all of C
        result["gpt"][f"{n_layer}L-{cfg.n_embd}d"] = bench_model(
            model, data, cfg.batch_size, dev, rounds=rounds, steps=steps, course_tokens=course_tokens)
        if done is not None:
            done(result)
    return result


def report(result: dict[str, Any]) -> str:
    peak = result["matmul_peak_gflops"]
    published = result.get("published_peak_tflops")
    lines = [f"growkit bench: {result['device']}; torch {result['torch']}, {result['threads']} "
             f"threads; preset {result['preset']} (batch {result['batch_size']} x "
             f"{result['block_size']} tokens)",
             f"matmul peak, measured ({result['matmul_dtype'].removeprefix('torch.')} torch.mm): "
             f"{peak:,.0f} GFLOP/s"]
    if "gpu" in result:
        lines.append(f"published dense peak of {result['gpu']}: "
                     + (f"{published:,.0f} TFLOP/s {result['published_peak_dtype']}" if published
                        else "unknown (not in tools/bench.py's table): no MFU"))
    head = f"{'model':<9} {'runner':<17} {'tokens/s':>10} {'vs plain':>8} {'GFLOP/s':>8} {'% matmul':>8}"
    head += f" {'MFU':>6} {'peak MB':>8}" if "gpu" in result else ""
    lines.append(head + "  compile")
    for model, m in result["gpt"].items():
        for name, r in m["runners"].items():
            line = (f"{model:<9} {name:<17} {r['tokens_per_s']:>10,.0f} {r['vs_plain_eager']:>7.2f}x "
                    f"{r['gflops_per_s']:>8.1f} {100 * r['gflops_per_s'] / peak:>7.0f}%")
            if "gpu" in result:
                mfu = (f"{100 * r['gflops_per_s'] / (1000 * published):>5.1f}%" if published
                       else f"{'?':>6}")
                line += f" {mfu} {r['peak_memory_mb']:>8.0f}"
            if "compile_s" in r:
                line += f"  {r['compile_s']:.1f} s"
                if name == "growkit compiled":
                    line += " (the graph plain compiled built)"
            lines.append(line)
    lines.append("targets (this machine, this process):")
    for model, m in result["gpt"].items():
        r = m["runners"]
        ratio = r["growkit eager"]["vs_plain_eager"]
        comp = r["growkit compiled"]["tokens_per_s"] / r["plain compiled"]["tokens_per_s"]
        c = m["compile"]
        even = ("never" if c["break_even_tokens"] is None
                else f"after {c['break_even_tokens'] / 1e6:.2f}M tokens ({c['compile_s']:.1f} s to compile)")
        lo, hi = r["growkit eager"]["vs_plain_eager_rounds"]
        lines.append(
            f"  {model}: growkit eager / plain eager {ratio:.3f}x (rounds {lo:.2f}-{hi:.2f}): "
            f"{'PASS' if ratio >= 0.99 else 'BELOW'} (target >= 1.0x, 1% tolerance); growkit compiled / plain "
            f"compiled {comp:.2f}x; compiling pays {even}; the course's run of it "
            f"({c['course_run_tokens'] / 1e6:.1f}M tokens) takes {c['course_run_eager_s']:.0f} s "
            f"eager, {c['course_run_compiled_s']:.0f} s compiled with compile: "
            f"{'compile pays' if c['pays'] else 'eager wins'}")
    return "\n".join(lines)


def at_least_one(text: str) -> int:
    """An argparse type: a whole number >= 1 (a turn of 0 steps measures nothing, and a rate
    per step divides by it)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}: e.g. 8") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}: e.g. 8")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/bench.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="auto", help="model sizes: auto (this machine's), "
                        "cpu, gpu, t4 or smoke")
    parser.add_argument("--rounds", type=at_least_one, default=6, help="turns each runner takes")
    parser.add_argument("--steps", type=at_least_one, default=8, help="steps per turn")
    parser.add_argument("--out", default="runs/bench.json")
    parser.add_argument("--fresh-compile-cache", action="store_true",
                        help="compile into an empty inductor cache (a new machine's compile time)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)

    def save(result: dict[str, Any]) -> None:
        result["fresh_compile_cache"] = args.fresh_compile_cache
        out.write_text(json.dumps(result, indent=1))

    def progress(result: dict[str, Any]) -> None:  # the table so far, in case of a time limit
        save(result)
        if len(result["gpt"]) < 2:
            print(report(result) + "\n(more to come)\n", flush=True)

    result = run_bench(args.preset, rounds=args.rounds, steps=args.steps, done=progress)
    save(result)
    print(report(result))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
