"""One registry of growth operators and the `grow` entry point.

An operator is a pure function from a trained model to a new, larger one; the input is
never modified. Each declares whether it claims to preserve the model's function, and
reports where every parameter of the new model came from (so optimizer moments can be
carried over for copied parameters).
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


OPERATORS: dict[tuple[str, str], Operator] = {}
ALIASES: dict[str, str] = {"stack": "direct", "G_stack": "direct"}


def register(name: str, dim: str, *, preserves_function: bool, integer_factor: bool = True
             ) -> Callable[[OperatorFn], OperatorFn]:
    def wrap(fn: OperatorFn) -> OperatorFn:
        OPERATORS[(name, dim)] = Operator(name, dim, fn, preserves_function, integer_factor,
                                          (fn.__doc__ or "").strip())
        return fn

    return wrap


def known_operators() -> list[str]:
    return [f"{name} ({dim})" for name, dim in sorted(OPERATORS)]


def resolve(op: str, dim: str) -> Operator:
    if dim not in DIMS:
        raise ValueError(f"dim must be one of {DIMS}, got {dim!r}.")
    name = ALIASES.get(op, op)
    if (name, dim) not in OPERATORS:
        raise ValueError(
            f"unknown growth operator {op!r} for dim={dim!r}; known operators: "
            f"{', '.join(known_operators())}; aliases: {ALIASES}."
        )
    return OPERATORS[(name, dim)]


def grow_with_sources(model: nn.Module, op: str, *, dim: str = "depth", factor: float = 2,
                      **options: Any) -> Growth:
    """Like `grow`, but also returns where each new parameter came from."""
    operator = resolve(op, dim)
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


def claims_preservation(op: str, dim: str = "depth") -> bool:
    return resolve(op, dim).preserves_function
