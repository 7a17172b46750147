"""Small helpers the course notebooks share: what a notebook says first, and its verdicts in
words (at the smoke preset: marked as meaningless, with no tuning advice).

    begin(study.preset, study.describe())   # first output of every notebook
    text = words(study.verdict(row), study.preset)
"""

from __future__ import annotations

import re

from .device import choose

SMOKE_NOTE = ("SMOKE RUN: everything is shrunk to seconds to check that the notebook runs. The numbers "
              "below mean nothing about growth; run the cpu (or gpu, t4) preset for real ones.")
# Sentences that tell a person which setting to change: advice about a real budget, not a smoke run.
ADVICE = re.compile(r"(:\s*)?\b[Rr]aise tokens_per_param\.?")


def words(text: str, preset: str | None) -> str:
    """A verdict as a notebook prints and saves it: unchanged on a real preset; at smoke,
    prefixed so that no one mistakes it for a result, and without tuning advice."""
    if preset != "smoke":
        return text
    text = ADVICE.sub(".", text).replace("..", ".").replace(":.", ".")
    return f"[smoke run: meaningless numbers] {text}"


def begin(preset: str | None, description: str) -> None:
    """What every notebook prints first: its settings, and at smoke that they mean nothing."""
    print(description)
    chosen = choose()
    if chosen.device == "cuda":  # which GPU, and what "auto" and the trainer make of it
        print(chosen.describe())
    if preset == "smoke":
        print(SMOKE_NOTE)
