"""A learning-rate screen: one model of a study trained alone on the study's whole FLOPs
budget at several learning rates and seeds, the final validation loss of each. It is how
the presets' rates were chosen (README, "Regimes"), and how to check them at new settings:

    python tools/lr_screen.py --preset cpu-x2 --lr 0.012 0.018 0.02           # the target
    python tools/lr_screen.py --preset cpu-x2 --layers 2 --lr 0.012 0.015 0.02  # 2 blocks
    python tools/lr_screen.py --preset cpu-x2 --narrow 2 --lr 0.02 0.04         # half the width
    python tools/lr_screen.py --preset cpu --set batch_size=32 --lr 0.008 --workers 2

The runs train in `--workers` one-thread processes (growkit.runs' reasoning) and are cached
in `--out`, the same cache a Study uses, so a study at the same settings reuses them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from growkit.gpt import GPTConfig
from growkit.runs import one_thread_pool
from growkit.settings import SettingError, parse_setting
from growkit.study import Study, StudyConfig, model_name, preset, small_config


def study_setting(text: str) -> tuple[str, Any]:
    """`--set key=value` on a StudyConfig field, parsed by the field's type."""
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--set takes key=value, got {text!r}.")
    key, raw = text.split("=", 1)
    try:
        return parse_setting(StudyConfig, key.strip(), raw)
    except SettingError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def model_of(study: Study, layers: int | None, narrow: int | None) -> GPTConfig:
    """The target, with `layers` blocks and/or 1/`narrow` of its width (width growth's small model)."""
    model = study.target
    if narrow:
        model = small_config(model, "width", narrow)
    if layers:
        model = dataclasses.replace(model, n_layer=layers)
    return model


def train_one(name: str, overrides: dict[str, Any], seed: int, layers: int | None, narrow: int | None,
              lr: float, out: str) -> tuple[int, float, float]:
    study = Study(preset(name, **overrides), seed, progress=False, cache_dir=out, preset=name)
    record = study.train_alone(model_of(study, layers, narrow), lr=lr)
    return seed, lr, record.final_val_loss


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/lr_screen.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--set", type=study_setting, action="append", default=[],
                        metavar="KEY=VALUE", help="a StudyConfig field, as `python -m growkit compare --set`")
    parser.add_argument("--layers", type=int, default=None, help="blocks (default: the target's)")
    parser.add_argument("--narrow", type=int, default=None, help="1/N of the target's width")
    parser.add_argument("--lr", type=float, nargs="+", required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="runs/lr-screen")
    args = parser.parse_args(argv)
    overrides = dict(args.set)
    study = Study(preset(args.preset, **overrides), progress=False, preset=args.preset)
    model = model_of(study, args.layers, args.narrow)
    print(f"{model_name(model)} alone on the {args.preset} budget ({study.describe()})", flush=True)
    jobs = [(args.preset, overrides, s, args.layers, args.narrow, lr, args.out) for lr in args.lr for s in args.seeds]
    with one_thread_pool(args.workers) as pool:
        for seed, lr, loss in pool.map(train_one, *zip(*jobs)):
            print(f"lr {lr:g}  seed {seed}  final val loss {loss:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
