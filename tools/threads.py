"""How to spend this machine's cores on a study's runs: ms per training step of the cpu
preset's target GPT at 1 and 2 torch threads, alone, two at once, and beside a busy core.
The numbers behind growkit.runs' worker processes (run it on an otherwise idle machine).

    python tools/threads.py [--steps 40]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

TOOLS = str(Path(__file__).resolve().parent)

# The child times bench.PlainLoop (the loop a PyTorch user writes) at a given thread count.
STEP = """
import sys, time, torch
torch.set_num_threads(int(sys.argv[1]))
sys.path.insert(0, sys.argv[3])  # tools/
from bench import PlainLoop
from growkit import GPT, load_text
from growkit.study import preset
cfg = preset("cpu"); data = load_text(cfg.corpus); torch.manual_seed(0)
model = GPT(cfg.model_config(cfg.small_layers * cfg.factor, data.vocab_size))
loop = PlainLoop(model, data, cfg.batch_size, torch.device("cpu"), compile=False)
loop.train(3)  # warm-up: allocator, kernels
t = time.perf_counter()
loop.train(int(sys.argv[2]))
print(1000 * (time.perf_counter() - t) / int(sys.argv[2]))
"""


def runs_at_once(threads: int, copies: int, steps: int, busy: bool = False) -> list[float]:
    """ms per step of `copies` runs started together (beside a spinning process if `busy`)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        procs = [subprocess.Popen([sys.executable, "-c", STEP, str(threads), str(steps), TOOLS],
                                  stdout=subprocess.PIPE, text=True) for _ in range(copies)]
        return [float(p.communicate()[0]) for p in procs]
    finally:
        if spinner:
            spinner.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/threads.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    steps = parser.parse_args(argv).steps
    cases = [("one run, 2 threads", 2, 1, False), ("one run, 1 thread", 1, 1, False),
             ("two runs at once, 1 thread each", 1, 2, False), ("two runs at once, 2 threads each", 2, 2, False),
             ("one run at 2 threads beside a busy core", 2, 1, True),
             ("one run at 1 thread beside a busy core", 1, 1, True)]
    results = {}
    t0 = time.perf_counter()
    for label, threads, copies, busy in cases:
        ms = runs_at_once(threads, copies, steps, busy)
        results[label] = ms
        rate = sum(1000 / m for m in ms)
        print(f"{label:<42} {' / '.join(f'{m:.0f}' for m in ms):>11} ms per step   "
              f"{rate:5.2f} steps/s in all")
    print(json.dumps(results))
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
