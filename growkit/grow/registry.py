"""One registry of growth operators, the `grow` entry point, and the helpers operators share.

An operator is a pure function from a trained model to a new, larger one; the input is
never modified. Each declares whether it claims to preserve the model's function, and
reports where every parameter of the new model came from (so optimizer moments can be
carried over for copied parameters). `measure_preservation` checks the claim.

Operators are registered per model class: the table is keyed by (name, dim, model class),
so the same name (e.g. "zero" in width) means the analogous operation on each model family,
and asking for an operator a model's class does not have is one error that lists the ones
it does have.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from ..gpt import GPT

DIMS = ("depth", "width")


@dataclass
class Growth:
    """What an operator returns: the new model and the provenance of its parameters."""

    model: nn.Module
    # new parameter name -> name of the small-model parameter it was copied from.
    # Parameters absent here are new (zero, random or learned).
    sources: dict[str, str] = field(default_factory=dict)
    # Anything else an operator wants its caller to see, e.g. a learned operator's loss
    # at the start and end of its short training phase and the compute it spent there.
    info: dict[str, Any] = field(default_factory=dict)


OperatorFn = Callable[..., Growth]
# (operator options, the run's batch size, sequence length) -> tokens the operator runs
# through the grown model itself (G_learn trains its map on them).
ExtraTokens = Callable[[dict[str, Any], int, int], int]


@dataclass(frozen=True)
class Operator:
    name: str
    dim: str
    model: type  # the model class it grows (subclasses included)
    fn: OperatorFn
    preserves_function: bool
    label: str  # how tables and figures name it, e.g. "G_stack"
    integer_factor: bool = True
    # True: the operator trains on data (pass data= and batch_size=, as the Trainer does).
    needs_data: bool = False
    # The tokens it spends through the grown model given (options, batch_size, seq_len);
    # None: it spends none. A study takes them out of its budget.
    extra_tokens: ExtraTokens | None = None
    doc: str = ""


OPERATORS: dict[tuple[str, str, type], Operator] = {}
# Another name for (name, dim): G_stack is G_direct in depth (and only in depth).
ALIASES: dict[str, tuple[str, str]] = {"stack": ("direct", "depth"), "G_stack": ("direct", "depth")}


def register(name: str, dim: str, model: type, *, label: str, preserves_function: bool,
             integer_factor: bool = True, needs_data: bool = False,
             extra_tokens: ExtraTokens | None = None, replace: bool = False
             ) -> Callable[[OperatorFn], OperatorFn]:
    """Add a growth operator: a decorator for a function `fn(small, *, factor, **options)`
    that returns a `Growth` (the new model, and which of its parameters were copied from
    which small-model parameter: `sources`) and never modifies `small`.

        @register("double_top", "depth", GPT, label="G_top", preserves_function=False)
        def double_top(small: GPT, *, factor: int) -> Growth:
            ...                                    # see docs/your_operator.md

    From then on `grow(model, "double_top", dim="depth", factor=2)`, the Trainer,
    `Variant("double_top", "depth", 2)` in a Study and the explorer offer it, under `label`
    in tables and figures. `preserves_function`: whether the grown model computes the
    small one's function (the Trainer measures it at every growth, so the claim is
    checked). `integer_factor`: factors must be whole. `needs_data`/`extra_tokens`: the
    operator trains on data (G_learn), and how many tokens that costs. A name already
    taken is refused unless `replace=True`."""
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS}, got {dim!r}: e.g. dim='depth'.")
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"an operator's name is a Python-style word, got {name!r}: e.g. 'double_top'.")
    taken = (name, dim, model) in OPERATORS or name in ALIASES

    def wrap(fn: OperatorFn) -> OperatorFn:
        if taken and not replace:
            raise ValueError(f"a {dim} operator {name!r} for a {model.__name__} exists already: "
                             "choose another name, or pass replace=True to replace it.")
        OPERATORS[(name, dim, model)] = Operator(
            name, dim, model, fn, preserves_function, label, integer_factor, needs_data,
            extra_tokens, (fn.__doc__ or "").strip())
        return fn

    return wrap


def unregister(name: str, dim: str, model: type) -> None:
    """Remove an operator `register` added (e.g. to try another version of it)."""
    OPERATORS.pop((name, dim, model), None)


def known_operators(model: object = None) -> list[str]:
    """'name (dim, Class)' for every operator, or for those that grow `model`."""
    ops = OPERATORS.values() if model is None else operators_for(model)
    return sorted(f"{o.name} ({o.dim}, {o.model.__name__})" for o in ops)


def operators_for(model: object) -> list[Operator]:
    """The operators that grow `model` (an instance or a class)."""
    cls = model if isinstance(model, type) else type(model)
    return [o for o in OPERATORS.values() if issubclass(cls, o.model)]


def aliases_of(operator: Operator) -> list[str]:
    return [a for a, target in ALIASES.items() if target == (operator.name, operator.dim)]


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _no_operator(op: str, dim: str, cls: type) -> Exception:
    """The one error for an operator that nothing registered grows a `cls` with: what the
    name grows instead, and every (dim, op) the class does have. A TypeError when nothing
    grows the class (the model is wrong), a ValueError when something does (the name is)."""
    mine = operators_for(cls)
    if not mine:
        families = sorted({o.model.__name__ for o in OPERATORS.values()})
        return TypeError(f"no growth operator grows a {cls.__name__}: growkit's operators grow a "
                         f"{_either(families)}; pass one of those (unwrapped).")
    owners = {d: sorted({o.model.__name__ for o in OPERATORS.values()
                         if o.dim == d and op in (o.name, *aliases_of(o))}) for d in DIMS}
    elsewhere = " and ".join(f"a {_either(names)} in {d}" for d, names in owners.items() if names)
    uses = []
    for d in (d for d in DIMS if any(o.dim == d for o in mine)):
        ops = [repr(o.name) + (f" (or {_either([repr(a) for a in aliases_of(o)])})"
                               if aliases_of(o) else "") for o in mine if o.dim == d]
        uses.append(f"dim={d!r} with op={_either(ops)}")
    return ValueError(f"no {dim} operator {op!r} for a {cls.__name__}"
                      + (f" ({op!r} grows {elsewhere})" if elsewhere else "")
                      + f": for a {cls.__name__} use {'; or '.join(uses)}.")


def resolve(op: str | Operator, dim: str = "depth", model: object = None) -> Operator:
    """The operator named `op` in `dim` for `model` (an instance or a class; None: the
    GPT). An Operator passes through, checked against the model's class."""
    model = GPT if model is None else model  # the default family
    cls = model if isinstance(model, type) else type(model)
    if isinstance(op, Operator):
        if not issubclass(cls, op.model):
            raise _no_operator(op.name, op.dim, cls)
        return op
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS}, got {dim!r}.")
    name, alias_dim = ALIASES.get(op, (op, dim))
    if alias_dim == dim:
        for base in cls.__mro__:
            if (name, dim, base) in OPERATORS:
                return OPERATORS[(name, dim, base)]
    raise _no_operator(op, dim, cls)


def grow_with_sources(model: nn.Module, op: str | Operator, *, dim: str = "depth",
                      factor: float = 2, **options: Any) -> Growth:
    """Like `grow`, but also returns where each new parameter came from. `op` is a name
    or an Operator from `resolve` (whose own dim then applies)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"grow() grows a model (an nn.Module such as a trained GPT), got "
                        f"{model!r} ({type(model).__name__}): e.g. grow(trainer.model, 'stack').")
    operator = resolve(op, dim, model)
    check_factor(model, operator, factor)
    check_options(operator, options)
    if factor < 1:
        raise ValueError(f"growth factor must be >= 1, got {factor}: a model cannot grow smaller.")
    if operator.integer_factor and float(factor) != int(factor):
        raise ValueError(
            f"operator {operator.name!r} ({operator.dim}) needs an integer factor, got {factor}: "
            f"use e.g. factor={max(1, round(factor))}."
        )
    return operator.fn(model, factor=int(factor) if operator.integer_factor else factor, **options)


def check_options(operator: Operator, options: dict[str, Any]) -> None:
    """Options the operator takes, of the right kind, named before anything is drawn (torch
    says only "manual_seed expected a long", Python "unexpected keyword argument")."""
    seed = options.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be a whole number or None, got {seed!r} ({type(seed).__name__}): "
                        "e.g. seed=0.")
    params = inspect.signature(operator.fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    takes = sorted(n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n != "factor")
    unknown = sorted(set(options) - set(takes))
    if unknown:
        raise TypeError(f"{operator.label} ({operator.name}, {operator.dim}) takes no option "
                        f"{', '.join(map(repr, unknown))}: its options are "
                        f"{', '.join(takes) or 'none'}.")


# The most parameters a growth may create: ~8 GB of float32 weights, more than any machine
# growkit targets trains (a factor of a million would otherwise allocate until memory runs out).
MAX_GROWN_PARAMS = 2_000_000_000


def check_factor(model: nn.Module, operator: Operator, factor: object) -> None:
    """A factor is a finite number (not a bool) whose grown model stays under
    MAX_GROWN_PARAMS: in depth about factor x the parameters, in width factor**2 x."""
    import math
    import numbers

    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not math.isfinite(factor):
        raise TypeError(f"growth factor must be a finite number such as 2, got {factor!r} "
                        f"({type(factor).__name__}).")
    if factor < 1:
        return  # the caller's own message
    n = sum(p.numel() for p in model.parameters())
    estimate = n * (factor if operator.dim == "depth" else factor ** 2)
    if estimate > MAX_GROWN_PARAMS:
        most = int(MAX_GROWN_PARAMS / n) if operator.dim == "depth" else int((MAX_GROWN_PARAMS / n) ** 0.5)
        raise ValueError(f"factor={factor} in {operator.dim} would grow this {n:,}-parameter model to "
                         f"about {estimate:.3g} parameters, more than growkit's limit of "
                         f"{MAX_GROWN_PARAMS:.3g} (MAX_GROWN_PARAMS): use a factor of at most "
                         f"{max(1, most)}, e.g. factor=2.")


def grow(model: nn.Module, op: str | Operator, *, dim: str = "depth", factor: float = 2,
         **options: Any) -> nn.Module:
    """Grow a trained model into a new, larger one with the named operator.

    `grow(small, "stack", dim="depth", factor=4)` is G_stack: the small model's blocks
    repeated four times in order. The input model is not modified.
    """
    return grow_with_sources(model, op, dim=dim, factor=factor, **options).model


# ---- what operators share -------------------------------------------------------------

def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Draw from a generator seeded with `seed` (the global RNG left as it was), or from
    the global RNG when seed is None. Tensors are drawn on the CPU, so forking and seeding
    the CPU generator is enough (and leaves any GPU generator alone)."""
    if seed is None:
        yield
        return
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(seed)
        yield


M = TypeVar("M", bound=nn.Module)


def fresh_model(cls: Callable[[Any], M], cfg: Any, like: nn.Module, seed: int | None = None) -> M:
    """A `cls(cfg)` with the model's own initialisation (applied at construction), on the
    same device as `like`.

    `seed` makes the draw independent of the global RNG (e.g. identical on every DDP
    rank); None draws from the global RNG like any `cls(cfg)`.
    """
    with seeded(seed):
        return cls(cfg).to(device_of(like))


def copy_into_corner(small: nn.Module, big: nn.Module) -> None:
    """Copy every small tensor into the leading corner of big's tensor of the same name
    (kept units first, new ones after); the rest of big keeps its own values."""
    state = big.state_dict()
    for name, t in small.state_dict().items():
        state[name][tuple(slice(0, n) for n in t.shape)] = t
    big.load_state_dict(state)


@torch.no_grad()
def measure_preservation(before: nn.Module, after: nn.Module, x: torch.Tensor,
                         y: torch.Tensor | None = None) -> dict[str, float]:
    """max |logits_after - logits_before| on a batch, and the change in loss when targets
    are given. Both models are evaluated in eval mode and restored afterwards."""
    modes = before.training, after.training
    before.eval()
    after.eval()
    try:
        logits_b, loss_b = before(x, y)
        logits_a, loss_a = after(x, y)
    finally:
        before.train(modes[0])
        after.train(modes[1])
    out = {"max_abs_logits": float((logits_a.float() - logits_b.float()).abs().max())}
    if y is not None:
        out["loss_before"] = float(loss_b)
        out["loss_after"] = float(loss_a)
        out["delta_loss"] = float(loss_a) - float(loss_b)
    return out
