"""Figures: validation loss against training FLOPs, with the speedup marked."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib.pyplot as plt

from .record import Record
from .speedup import speedup


def label(record: Record) -> str:
    return f"{record.name} ({record.n_params / 1e3:.0f}k params, {record.tokens_per_param:.0f} tok/param)"


def plot_loss_vs_flops(records: Iterable[Record], ax=None, scratch: Record | None = None,
                       grown: Record | None = None):
    """Validation loss against cumulative FLOPs (log axis), one line per record; growth
    events dotted; when scratch and grown are given, the speedup is marked."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    for rec in records:
        points = [(h["flops"], h["val_loss"]) for h in rec.history if h["flops"] > 0]
        line, = ax.plot(*zip(*points), marker=".", markersize=3, label=label(rec))
        for ev in rec.events:
            ax.axvline(ev["flops"], color=line.get_color(), linestyle=":", alpha=0.6)
    if scratch is not None and grown is not None:
        sp = speedup(scratch, grown)
        ax.axhline(sp.target_loss, color="grey", linewidth=0.8, linestyle="--")
        if sp.reached:
            ax.annotate("", xy=(sp.grown_flops, sp.target_loss),
                        xytext=(sp.scratch_flops, sp.target_loss),
                        arrowprops=dict(arrowstyle="->", color="black"))
            ax.set_title(f"grown reaches scratch's final loss with {sp.flops:+.0%} speedup "
                         f"(FLOPs)", fontsize=10)
        else:
            ax.set_title("grown never reaches scratch's final loss", fontsize=10)
    ax.set_xscale("log")
    ax.set_xlabel("training FLOPs (small model's included)")
    ax.set_ylabel("validation loss (nats/char)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return ax


def plot_compare(records: dict[str, dict[int, Record]], path: str | Path | None = None):
    """The comparison figure: the first seed's curves in full, later seeds' finals faint."""
    seeds = sorted(records["scratch"])
    fig, ax = plt.subplots(figsize=(8, 5))
    first = {run: recs[seeds[0]] for run, recs in records.items()}
    lo = min(min(r.series("val_loss")) for r in first.values())
    plot_loss_vs_flops(first.values(), ax=ax, scratch=first["scratch"], grown=first["grown"])
    for seed in seeds[1:]:
        for recs in records.values():
            ax.plot(recs[seed].total_flops, recs[seed].final_val_loss, "k.", alpha=0.4)
    # Zoom on the interesting part: the early losses near ln(vocab) flatten the rest.
    start = max(h["val_loss"] for r in first.values() for h in r.history[len(r.history) // 5:])
    ax.set_ylim(lo - 0.02, start + 0.05)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig
