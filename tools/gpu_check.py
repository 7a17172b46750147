"""The prepared GPU check (`make gpu-check`): on a machine with a CUDA GPU, one command that
measures what the course needs to know, in under 8 minutes, into one folder:

    1. tools/bench.py --preset gpu          growkit vs a plain PyTorch loop, eager and
                                            compiled: tokens/s, MFU, peak memory
    2. compare --preset gpu --seeds 0       notebook 00's three runs at the gpu preset
    3. notebook 00 at the t4 preset         via tools/run_course.py (papermill): the
                                            executed notebook, its HTML and results

Each step has its own time limit (the three sum to under 8 minutes); a step that runs out
is stopped and said so, and its finished runs stay: runs are cached and resumable, so
running the check again continues them. Everything lands in outputs/gpu-check/: a log per
step, bench.json, compare/ (summary, records), notebook00-t4/ (notebook00-smoke/ in a dry
run), env.json and summary.txt, whose last line is the verdict.

    python tools/gpu_check.py [--out outputs/gpu-check]
    GPU_CHECK_ALLOW_CPU=1 python tools/gpu_check.py    # dry run of the plumbing on a CPU,
                                                       # every step at the smoke preset

Without a GPU (and without GPU_CHECK_ALLOW_CPU=1) it stops at once with exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Seconds per step: 145 + 195 + 120 = 460 s, plus at most 5 s each to stop one that runs
# out: under the 8 minutes a borrowed GPU gives. The bench compiles two model shapes (the
# gpu preset's); compare reuses them from the compile cache; the notebook (t4) compiles two more.
LIMITS = {"bench": 145, "compare": 195, "notebook": 120}


@dataclass
class Step:
    name: str
    command: list[str]
    limit_s: int
    status: str = "not run"  # ok, failed (exit N), timed out
    wall_s: float = 0.0
    log: str = ""


def run_step(step: Step, out: Path) -> None:
    """Run one step under its time limit, output to <out>/<name>.log. Its own process group,
    so a timeout also stops what it started (papermill's kernel)."""
    log = out / f"{step.name}.log"
    step.log = log.name
    print(f"gpu-check: {step.name} (at most {step.limit_s} s): {' '.join(step.command)}", flush=True)
    start = time.perf_counter()
    with log.open("w") as f:
        proc = subprocess.Popen(step.command, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=step.limit_s)
            step.status = "ok" if rc == 0 else f"failed (exit {rc})"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)  # the group this step started, nothing else
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            step.status = "timed out"
    step.wall_s = time.perf_counter() - start
    print(f"gpu-check: {step.name}: {step.status} after {step.wall_s:.0f} s (log: {log})", flush=True)


def environment() -> dict[str, object]:
    import torch

    from growkit.device import choose

    env: dict[str, object] = {"python": sys.version.split()[0], "torch": torch.__version__,
                              "cuda": torch.version.cuda, "platform": platform.platform(),
                              "device": choose().describe(), "threads": torch.get_num_threads()}
    smi = shutil.which("nvidia-smi")
    if smi:
        env["nvidia_smi"] = subprocess.run([smi], capture_output=True, text=True, timeout=30).stdout
    return env


def runs_table(folder: Path) -> list[str]:
    """One line per run record in folder (finished or not): how far it got and how fast."""
    lines = []
    for path in sorted(folder.glob("*.json")):
        try:
            rec = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(rec, dict) or not rec.get("history"):
            continue
        last = rec["history"][-1]
        steps = sum(p["train"]["steps"] for p in rec.get("phases", []))
        done = "finished" if "cache_spec" in rec.get("meta", {}) else "unfinished"
        compiled = [p.get("compiled") for p in rec.get("phases", [])]
        compile_s = sum(p.get("compile_s", 0.0) for p in rec.get("phases", []))
        lines.append(f"  {rec.get('name', path.stem):<28} {done:<10} step {last['step']}/{steps}  "
                     f"val {last['val_loss']:.4f}  {last['wall_s']:.0f} s  "
                     f"{last['tokens'] / max(last['wall_s'], 1e-9):,.0f} tokens/s  "
                     f"compiled {compiled} ({compile_s:.0f} s)")
    return lines


def summarize(steps: list[Step], out: Path, presets: dict[str, str], dry_run: bool) -> str:
    lines = [f"growkit gpu-check{' (DRY RUN on a CPU at the smoke preset: numbers meaningless)' if dry_run else ''}",
             f"presets: {presets}"]
    for s in steps:
        lines.append(f"{s.name:<9} {s.status:<16} {s.wall_s:6.0f} s of {s.limit_s} s  log: {s.log}")
    bench_log = out / "bench.log"
    if bench_log.exists():
        text = bench_log.read_text().splitlines()
        # The last table it printed (it prints the table so far after each model).
        start = next((i for i in reversed(range(len(text))) if text[i].startswith("growkit bench")), None)
        if start is not None:
            lines += ["", "bench:", *text[start:]]
    compare = out / "compare"
    if (compare / "summary.txt").exists():
        lines += ["", "compare:", (compare / "summary.txt").read_text().rstrip()]
    if (compare / "runs").exists():
        lines += ["", "compare runs:", *runs_table(compare / "runs")]
    nb = out / f"notebook00-{presets['notebook']}"
    if nb.exists():
        results = sorted(nb.glob("results_00*.json"))
        lines += ["", f"notebook 00: {'results in ' + str(results[0]) if results else 'no results_00.json'}"]
        for runs in sorted(nb.glob("**/runs")):
            lines += runs_table(runs)
    total = sum(s.wall_s for s in steps)
    verdict = ", ".join(f"{s.name} {s.status} ({s.wall_s:.0f} s)" for s in steps)
    lines += ["", f"gpu-check: {verdict}; {total:.0f} s in all; everything in {out}/"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/gpu_check.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="outputs/gpu-check")
    args = parser.parse_args(argv)
    import torch

    dry_run = os.environ.get("GPU_CHECK_ALLOW_CPU") == "1"
    if not torch.cuda.is_available():
        if not dry_run:
            print("gpu-check: no CUDA GPU here (torch.cuda.is_available() is False, torch "
                  f"{torch.__version__}): this check is for a machine with one. To try its "
                  "plumbing on this CPU at the smoke preset: GPU_CHECK_ALLOW_CPU=1 make gpu-check",
                  file=sys.stderr)
            return 2
    else:
        dry_run = False  # a GPU is here: the real check
    presets = ({"bench": "smoke", "compare": "smoke", "notebook": "smoke"} if dry_run
               else {"bench": "gpu", "compare": "gpu", "notebook": "t4"})
    out = Path(args.out).resolve()  # the steps run from the repository root
    out.mkdir(parents=True, exist_ok=True)
    (out / "env.json").write_text(json.dumps(environment(), indent=1))
    py = sys.executable
    steps = [
        Step("bench", [py, "tools/bench.py", "--preset", presets["bench"],
                       "--out", str(out / "bench.json")], LIMITS["bench"]),
        # Resumable checkpoints every minute: a step cut short loses at most a minute.
        Step("compare", [py, "-m", "growkit", "compare", "--preset", presets["compare"],
                         "--seeds", "0", "--out", str(out / "compare"),
                         "--set", "checkpoint_minutes=1"], LIMITS["compare"]),
        Step("notebook", [py, "tools/run_course.py", "--preset", presets["notebook"], "--only",
                          "00", "--out", str(out / f"notebook00-{presets['notebook']}")],
             LIMITS["notebook"]),
    ]
    for step in steps:
        run_step(step, out)
    (out / "steps.json").write_text(json.dumps([asdict(s) for s in steps], indent=1))
    text = summarize(steps, out, presets, dry_run)
    (out / "summary.txt").write_text(text + "\n")
    print(text)
    return 0 if all(s.status == "ok" for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
