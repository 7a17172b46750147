"""One registry of growth operators and the `grow` entry point.

An operator is a pure function from a trained model to a new, larger one; the input is
never modified. Each declares whether it claims to preserve the model's function, and
reports where every parameter of the new model came from (so optimizer moments can be
carried over for copied parameters).

Operators registered without a model class are the GPT's; one registered for a model
class (`register(..., model=CNN)`) serves that class and takes precedence for it, so the
same name (e.g. "zero" in width) can mean the analogous operation on each model family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

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


@dataclass(frozen=True)
class Operator:
    name: str
    dim: str
    fn: OperatorFn
    preserves_function: bool
    integer_factor: bool = True
    doc: str = ""
    model: type | None = None  # the model class it grows; None: the GPT (the default family)


OPERATORS: dict[tuple[str, str], Operator] = {}
# (name, dim, model class) -> operator, for model families other than the GPT.
MODEL_OPERATORS: dict[tuple[str, str, type], Operator] = {}
ALIASES: dict[str, str] = {"stack": "direct", "G_stack": "direct"}


def register(name: str, dim: str, *, preserves_function: bool, integer_factor: bool = True,
             model: type | None = None) -> Callable[[OperatorFn], OperatorFn]:
    def wrap(fn: OperatorFn) -> OperatorFn:
        operator = Operator(name, dim, fn, preserves_function, integer_factor,
                            (fn.__doc__ or "").strip(), model)
        if model is None:
            OPERATORS[(name, dim)] = operator
        else:
            MODEL_OPERATORS[(name, dim, model)] = operator
        return fn

    return wrap


def known_operators() -> list[str]:
    return ([f"{name} ({dim})" for name, dim in sorted(OPERATORS)]
            + sorted(f"{name} ({dim}, {cls.__name__})" for name, dim, cls in MODEL_OPERATORS))


def resolve(op: str, dim: str, model: object = None) -> Operator:
    """The operator named `op` in `dim`, the one registered for `model`'s class if any."""
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS}, got {dim!r}.")
    name = ALIASES.get(op, op)
    for (n, d, cls), operator in MODEL_OPERATORS.items():
        if n == name and d == dim and isinstance(model, cls):
            return operator
    if (name, dim) not in OPERATORS:
        raise ValueError(
            f"unknown growth operator {op!r} for dim={dim!r}"
            + (f" and a {type(model).__name__}" if model is not None else "")
            + f"; known operators: {', '.join(known_operators())}; aliases: {ALIASES}."
        )
    return OPERATORS[(name, dim)]


def grow_with_sources(model: nn.Module, op: str, *, dim: str = "depth", factor: float = 2,
                      **options: Any) -> Growth:
    """Like `grow`, but also returns where each new parameter came from."""
    operator = resolve(op, dim, model)
    if factor < 1:
        raise ValueError(f"growth factor must be >= 1, got {factor}: a model cannot grow smaller.")
    if operator.integer_factor and float(factor) != int(factor):
        raise ValueError(
            f"operator {operator.name!r} ({dim}) needs an integer factor, got {factor}: "
            f"use e.g. factor={max(1, round(factor))}."
        )
    return operator.fn(model, factor=int(factor) if operator.integer_factor else factor, **options)


def grow(model: nn.Module, op: str, *, dim: str = "depth", factor: float = 2,
         **options: Any) -> nn.Module:
    """Grow a trained model into a new, larger one with the named operator.

    `grow(small, "stack", dim="depth", factor=4)` is G_stack: the small model's blocks
    repeated four times in order. The input model is not modified.
    """
    return grow_with_sources(model, op, dim=dim, factor=factor, **options).model


def claims_preservation(op: str, dim: str = "depth", model: object = None) -> bool:
    return resolve(op, dim, model).preserves_function
