"""Progress a student can read: one text line per run on stdout — the run, its phase, the
step, the latest training loss and the time left — refreshed at most once a second.

stdout, not stderr: JupyterLab shows stderr in a pink box that reads as an error. A text
line, not tqdm's widget: a saved notebook keeps plain text where the line was, never
"Error displaying widget". Off in logs and CI unless asked for (`interactive`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

from tqdm import tqdm

# run name, step count, the postfix (loss), then elapsed<remaining: the ETA.
FORMAT = "{desc}: step {n_fmt}/{total_fmt}{postfix} [{elapsed}<{remaining}]"


def interactive() -> bool:
    """True in a terminal or a Jupyter kernel, where a live progress line helps."""
    if sys.stdout.isatty():
        return True
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in shell.config


def progress_bar(total: int, desc: str, enabled: bool | None, done: int = 0) -> tqdm:
    """A live line for the `total` steps of the run `desc`, `done` of them already taken;
    `enabled` None: when interactive."""
    on = interactive() if enabled is None else enabled
    return tqdm(total=total, initial=done, desc=desc, disable=not on, mininterval=1.0, leave=False,
                dynamic_ncols=True, file=sys.stdout, bar_format=FORMAT)


def counter(items: Iterable[Any], desc: str, enabled: bool, total: int | None = None) -> tqdm:
    """A live line counting finished runs (of a study, or of parallel workers)."""
    return tqdm(items, desc=desc, total=total, disable=not enabled, leave=False, file=sys.stdout,
                dynamic_ncols=True, bar_format="{desc}: {n_fmt}/{total_fmt} done [{elapsed}<{remaining}]")
