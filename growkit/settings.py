"""Typed settings: every config checks its fields at construction, and `--set key=value`
is parsed by the field's type.

A wrong value fails where it is made, with the field, the rule and a value that passes:

    TrainConfig(steps=3.7)     ValueError: steps must be a whole number, got 3.7: e.g. steps=4.
    parse_setting(StudyConfig, "fresh_optimizer", "False")   -> ("fresh_optimizer", False)
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import json
import math
import numbers
import types
import typing
from typing import Any, get_type_hints

TRUE = ("true", "1", "yes", "on")
FALSE = ("false", "0", "no", "off")
NONE = ("none", "null")


class SettingError(ValueError):
    """A setting of the wrong type or outside its range."""


@functools.cache
def _hints(config: type) -> dict[str, Any]:
    return get_type_hints(config)


def _optional(tp: Any) -> tuple[Any, bool]:
    """(the type inside Optional, whether None is allowed)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        allows_none = len(args) < len(typing.get_args(tp))
        return (args[0] if len(args) == 1 else tp), allows_none
    return tp, False


def type_name(tp: Any) -> str:
    inner, optional = _optional(tp)
    origin = typing.get_origin(inner)
    if origin is list:
        (arg,) = typing.get_args(inner) or (Any,)
        name = f"list of {getattr(arg, '__name__', str(arg))}"
    else:
        name = getattr(inner, "__name__", str(inner))
    name = {"bool": "true/false", "int": "whole number", "float": "number", "str": "text"}.get(name, name)
    return f"{name} or none" if optional else name


def _parse_scalar(tp: Any, raw: str) -> Any:
    text = raw.strip()
    if tp is bool:
        if text.lower() in TRUE:
            return True
        if text.lower() in FALSE:
            return False
        raise ValueError("use true or false (any case), or 1 or 0")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("use a whole number, e.g. 2") from None
    if tp is float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("use a number, e.g. 0.01") from None
        if not math.isfinite(value):
            raise ValueError("use a finite number")
        return value
    if tp is str:
        return text
    raise ValueError(f"settings of type {tp} cannot be given on the command line")


def parse_value(tp: Any, raw: str) -> Any:
    """`raw` (command-line text) as a value of type `tp`; ValueError says what to write."""
    inner, optional = _optional(tp)
    if optional and raw.strip().lower() in NONE:
        return None
    if typing.get_origin(inner) is list:
        (arg,) = typing.get_args(inner) or (str,)
        text = raw.strip()
        if text.startswith("["):
            try:
                items = json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("use a JSON list like [0,1] or a comma-separated list like 0,1") from None
            if not isinstance(items, list):
                raise ValueError("use a list like 0,1")
            items = [str(i) for i in items]
        else:
            items = [t for t in text.split(",") if t.strip()]
        return [_parse_scalar(arg, t) for t in items]
    return _parse_scalar(inner, raw)


def parse_setting(config: type, key: str, raw: str) -> tuple[str, Any]:
    """`key=raw` on the dataclass `config`, parsed by the field's type. SettingError names
    the field, its type and the value."""
    hints = {f.name: _hints(config)[f.name] for f in dataclasses.fields(config)}
    if key not in hints:
        raise SettingError(f"unknown setting {key!r} for {config.__name__}; settings are: "
                           f"{', '.join(sorted(hints))}.")
    try:
        return key, parse_value(hints[key], raw)
    except ValueError as e:
        raise SettingError(f"setting {key} ({config.__name__}.{key}, a {type_name(hints[key])}) "
                           f"cannot be {raw!r}: {e}.") from None


# ---- checks at construction -------------------------------------------------------------

def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _type_ok(tp: Any, v: Any) -> bool:
    inner, optional = _optional(tp)
    if v is None:
        return optional
    if inner is bool:
        return isinstance(v, bool)
    if inner is int:
        return _is_int(v)
    if inner is float:
        return _is_real(v) and math.isfinite(float(v))
    if inner is str:
        return isinstance(v, str)
    if typing.get_origin(inner) is list:
        (arg,) = typing.get_args(inner) or (Any,)
        return isinstance(v, (list, tuple)) and all(arg is Any or _type_ok(arg, x) for x in v)
    return True  # a type these checks do not know: left to the config


def _example(tp: Any, v: Any) -> str:
    """A value of type `tp` near `v`, as Python writes it."""
    inner, _ = _optional(tp)
    if typing.get_origin(inner) is list:
        return "[0]"
    if inner is int:
        return str(max(0, round(float(v)))) if _is_real(v) and math.isfinite(float(v)) else "1"
    if inner is bool:
        if isinstance(v, str):
            return "True" if v.strip().lower() in TRUE else "False"
        return "True" if _is_real(v) and v else "False"
    if inner is float:
        return "1.0"
    return "'...'"


def check_types(obj: Any) -> None:
    """Every field of the dataclass `obj` holds a value of its declared type (an int passes
    for a float; a bool is no number; a float is no int)."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        tp = hints[f.name]
        if not _type_ok(tp, v):
            raise SettingError(f"{type(obj).__name__}.{f.name} must be a {type_name(tp)}, got {v!r} "
                               f"({type(v).__name__}): e.g. {f.name}={_working_example(obj, f, tp, v)}.")


def _working_example(obj: Any, f: dataclasses.Field, tp: Any, v: Any) -> str:
    """A value near `v` if the config accepts it there, else the field's default: a hint
    must work when pasted (1 is a whole number, but not a growth factor)."""
    near = _example(tp, v)
    try:
        dataclasses.replace(obj, **{f.name: ast.literal_eval(near)})
        return near
    except Exception:  # refused there (a range rule), or another field is wrong too
        pass
    if f.default is not dataclasses.MISSING and _type_ok(tp, f.default):
        return repr(f.default)
    return near


def require(obj: Any, name: str, ok: bool, rule: str, fix: Any) -> None:
    """Raise SettingError unless `ok`: '<Class>.<name> must be <rule>, got <value>: e.g.
    <name>=<fix>.'"""
    if not ok:
        raise SettingError(f"{type(obj).__name__}.{name} must be {rule}, got {getattr(obj, name)!r}: "
                           f"e.g. {name}={fix!r}.")


def at_least(obj: Any, minimum: float, *names: str) -> None:
    for n in names:
        v = getattr(obj, n)
        if v is not None:
            require(obj, n, v >= minimum, f">= {minimum}", minimum if minimum > 0 else 0)


def positive(obj: Any, *names: str, fix: float = 1.0) -> None:
    for n in names:
        v = getattr(obj, n)
        if v is not None:
            require(obj, n, v > 0, "> 0", fix)


def within(obj: Any, name: str, lo: float, hi: float, fix: float, *, open_lo: bool = False,
           open_hi: bool = False) -> None:
    v = getattr(obj, name)
    ok = (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
    rule = f"in {'(' if open_lo else '['}{lo:g}, {hi:g}{')' if open_hi else ']'}"
    require(obj, name, ok, rule, fix)
