"""What a study can build, and what its runs can mean: checked before anything trains.

Two kinds of setting pass every type and range check and still go wrong:

- sizes nothing here can build or hold: `factor=1000000` (a million blocks: building the
  model alone takes hours), `n_embd=65536` (about 2e11 parameters), `block_size=100000`
  (attention over 1e5 positions: hundreds of terabytes of activations). `check_gpt_study`
  and `check_cnn_study` estimate parameters and training memory by arithmetic (the models
  are built on the meta device, which allocates nothing) and refuse, with the estimate,
  what exceeds growkit's parameter limit or this machine's memory (RAM, or the GPU's).
- runs that train but cannot mean anything: a warmup longer than the run (it never reaches
  its learning rate), or a budget of a handful of steps (`tokens_per_param=1e-12`: one step
  per run, and a "+579%" speedup). `flags` names them; the study's table and verdict print
  them beside the numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Iterable
from typing import Any

import torch

from .device import auto_device
from .gpt import GPT, GPTConfig
from .settings import SettingError

MAX_PARAMS = 2_000_000_000  # as grow()'s MAX_GROWN_PARAMS: beyond it nothing here is a lesson
BYTES_PER_PARAM = 16  # fp32 weights, gradients and AdamW's two moments
MIN_STEPS = 10  # fewer steps in a run (or a phase of one) and its loss says nothing
# The data sets' image shapes (channels, height, width), to size a CNN's activations without
# loading them; any other is taken as CIFAR's.
IMAGE_SHAPES = {"digits": (1, 8, 8), "fashion-mnist": (1, 28, 28)}
GIB = 2**30

# ---- sizes ---------------------------------------------------------------------------------


def gpt_params(cfg: GPTConfig) -> int:
    """cfg's parameter count, exactly, without building its n_layer blocks: a 1- and a
    2-block model on the meta device (every block has the same parameters)."""
    one, two = _one_and_two_blocks(tuple(sorted({**cfg.to_dict(), "n_layer": 1}.items())))
    return one + (cfg.n_layer - 1) * (two - one)


@functools.lru_cache(maxsize=64)
def _one_and_two_blocks(fields: tuple[tuple[str, Any], ...]) -> tuple[int, int]:
    """Parameters of the 1- and 2-block models of these config fields (a config is checked
    each time one is made: once per shape is enough)."""
    cfg = GPTConfig(**dict(fields))
    with torch.device("meta"):
        return (GPT(cfg).n_params(), GPT(dataclasses.replace(cfg, n_layer=2)).n_params())


def gpt_activation_bytes(cfg: GPTConfig, batch_size: int) -> float:
    """What one training step keeps for its backward pass, in fp32: per block
    s*b*h*(34 + 5*a*s/h) bytes at 16 bits (Korthikanti et al. 2022, "Reducing activation
    recomputation", with the attention scores of a kernel that keeps them), doubled for
    32 bits; plus the logits, their softmax and its gradient."""
    s, b, h, a = cfg.block_size, batch_size, cfg.n_embd, cfg.n_head
    blocks = cfg.n_layer * s * b * h * (34 + 5 * a * s / h) * 2
    return blocks + 3 * 4 * s * b * cfg.vocab_size


def memory_limit() -> tuple[float, str]:
    """(bytes, in words) of the memory runs here train in: the GPU's, or this machine's RAM."""
    if auto_device().type == "cuda":
        try:
            props = torch.cuda.get_device_properties(0)
            return float(props.total_memory), f"the {props.name}'s {props.total_memory / GIB:.0f} GiB"
        except (AssertionError, RuntimeError):  # a GPU that cannot be queried: the RAM decides
            pass
    try:
        ram = float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return float("inf"), "this machine's RAM (unknown)"  # e.g. Windows: only MAX_PARAMS holds
    return ram, f"this machine's {ram / GIB:.0f} GiB of RAM"


def _over(params: int, need: float) -> str | None:
    """Why a model of `params` parameters needing `need` bytes to train cannot; None if it can."""
    memory, where = memory_limit()
    if params > MAX_PARAMS:
        return f"about {params:.3g} parameters, more than growkit's limit of {MAX_PARAMS:.0e} (MAX_PARAMS)"
    if need > memory:
        return (f"about {need / GIB:,.1f} GiB to train ({params:,} parameters at {BYTES_PER_PARAM} bytes "
                f"each, plus activations), more than {where}")
    return None


def gpt_problem(target: GPTConfig, batch_size: int) -> str | None:
    """Why the target `target` cannot train here at `batch_size`; None if it can."""
    params = gpt_params(target)
    return _over(params, params * BYTES_PER_PARAM + gpt_activation_bytes(target, batch_size))


# The StudyConfig fields that size its target, each with the rule a smaller value must keep.
GPT_SIZES = ("factor", "small_layers", "n_embd", "block_size", "batch_size")


def check_gpt_study(cfg: Any, cls: str = "StudyConfig") -> None:
    """Refuse a GPT study (a StudyConfig: its target is cfg.model_config(small_layers *
    factor)) whose target cannot be built or trained here, naming the estimate and the
    largest value of the field that made it so which fits, e.g. `factor=7`."""
    def problem(c: Any) -> str | None:
        return gpt_problem(c.model_config(c.small_layers * c.factor, 96), c.batch_size)

    found = problem(cfg)
    if found is None:
        return
    default = type(cfg)()
    key = max(GPT_SIZES, key=lambda k: getattr(cfg, k) / getattr(default, k))
    fix = _largest_fitting(cfg, key, lambda v: problem(_with(cfg, key, v)) is None)
    default_fits = problem(_with(cfg, key, getattr(default, key))) is None
    fixes = f"{key}={getattr(default, key)} ({key}={fix} would still fit here)" if default_fits else f"{key}={fix}"
    raise SettingError(f"{cls}({key}={getattr(cfg, key)}): its target model would need {found}: "
                       f"e.g. {fixes}.")


def _with(cfg: Any, key: str, value: int) -> Any:
    """cfg with one size changed, without running its checks (this one among them)."""
    out = object.__new__(type(cfg))
    out.__dict__.update({**vars(cfg), key: value})
    return out


def _largest_fitting(cfg: Any, key: str, fits: Any) -> int:
    """The largest value of `key`, halving from cfg's, that `fits` (the default if none)."""
    value, default = getattr(cfg, key), getattr(type(cfg)(), key)
    step = 2 * getattr(cfg, "n_head", 1) if key == "n_embd" else 1  # a width must split into heads
    floor = 2 if key == "factor" else step
    while value > floor:
        value = max(floor, value // 2 // step * step)
        if fits(value):
            return value
    return default


def check_cnn_study(cfg: Any, cls: str = "MixtureConfig") -> None:
    """Refuse a CNN study (a MixtureConfig) whose grown net cannot train here at its batch
    size: parameters from the net on the meta device, activations from a forward pass there."""
    from .cnn import CNN, TemplateCNN, preset_config  # the CNN track's, only when it is used

    shape = IMAGE_SHAPES.get(cfg.data, (3, 32, 32))
    io = dict(in_channels=shape[0], num_classes=100)
    with torch.device("meta"):  # the parameters grow with the templates: count 1 and 2
        one, two = (TemplateCNN(preset_config(cfg.shape, template=True, templates=t, grown=True, **io)).n_params()
                    for t in (1, 2))
        per_image = _activations(CNN(preset_config(cfg.shape, **io)), shape)
    params = one + (cfg.templates - 1) * (two - one)
    found = _over(params, params * BYTES_PER_PARAM + 4 * 2 * per_image * cfg.batch_size)
    if found is not None:
        raise SettingError(f"{cls}(shape={cfg.shape!r}, templates={cfg.templates}, batch_size="
                           f"{cfg.batch_size}): its grown net would need {found}: e.g. templates=2 "
                           f"and batch_size=128.")


def _activations(net: torch.nn.Module, shape: tuple[int, int, int]) -> int:
    """Values the leaf modules of `net` (on the meta device) output for one image."""
    total = 0

    def count(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor) and not list(module.children()):
            total += output.numel()

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    try:
        net(torch.zeros(1, *shape, device="meta"))
    finally:
        for h in hooks:
            h.remove()
    return total


# ---- runs that cannot mean anything --------------------------------------------------------


def study_flags(study: Any, variants: Iterable[Any]) -> list[str]:
    """Why runs of `study` (a growkit.study.Study) for `variants` cannot mean anything: scratch,
    each small model alone and each grown run, phase by phase; [] when every one can."""
    runs = {"scratch": [study.alone_config(study.target)]}
    for v in variants:
        small = study.small_of(v)
        runs.setdefault(study.alone_name(small), [study.alone_config(small)])
        plan = study.grown_plan(v)
        runs[v.name] = getattr(plan, "phases", None) or [plan.before, plan.after]
    return [flag for name, configs in runs.items() for flag in meaningless(name, configs)]


def flagged(study: Any, names: Iterable[str], sep: str = "\n") -> str:
    """`sep` and the flags of the study's variants called `names` (rows' names) in one
    paragraph, or '' when their runs can mean something: what a table or verdict appends."""
    text = flag_text(study_flags(study, [study.variants[n] for n in names if n in study.variants]))
    return sep + text if text else ""


def meaningless(name: str, configs: list[Any]) -> list[str]:
    """Why the run `name`, of these phases (TrainConfigs), cannot mean anything; [] if it can."""
    out = []
    for i, tc in enumerate(configs):
        schedule = tc.schedule_steps or tc.steps
        why = ([f"{tc.steps} step(s), fewer than {MIN_STEPS}"] if tc.steps < MIN_STEPS else []) + (
            [f"a warmup of {tc.warmup} steps it never leaves ({schedule}-step schedule)"]
            if tc.warmup >= schedule else [])
        if why:
            out.append(f"{name if len(configs) == 1 else f'{name} phase {i}'} ({', '.join(why)})")
    return out


def flag_text(flags: list[str]) -> str:
    """The flags in one paragraph, with the fix ('' for none)."""
    if not flags:
        return ""
    return ("These runs cannot mean anything, so neither can their comparison: " + "; ".join(flags)
            + ". Raise tokens_per_param (more steps) or lower warmup (and warmup_after_growth).")
