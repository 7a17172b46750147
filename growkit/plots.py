"""Every figure of the kit: loss (or accuracy) against training FLOPs, speedup bars, the
speedup surface, the growth-timing guideline, the image runs.

Every speedup figure carries its honest reference: the small model trained alone on the
same budget (its own "speedup" over scratch), and each run's tokens per parameter.
Figures read records and rows; no experiment module imports this one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import Normalize
from matplotlib.ticker import NullFormatter, PercentFormatter

from .record import Record
from .speedup import PAPER_POINT, PAPER_SPEEDUPS, guideline_fraction, speedup

if TYPE_CHECKING:
    from .stages import TimingRule
    from .study import Row, Study, Variant


# Below this many tokens per parameter a run is smoke-sized: its "speedup" says nothing about
# growth (the papers' runs sit at 40-90), and a figure saved from it must say so itself.
SMOKE_TOKENS_PER_PARAM = 10.0


def smoke_mark(title: str, tokens_per_param: Iterable[float]) -> str:
    """`title`, prefixed with a warning when any run is smoke-sized."""
    if min(tokens_per_param, default=SMOKE_TOKENS_PER_PARAM) < SMOKE_TOKENS_PER_PARAM:
        return f"[smoke-sized: under {SMOKE_TOKENS_PER_PARAM:.0f} tokens/param, not a result] {title}"
    return title


def label(record: Record) -> str:
    return f"{record.name} ({record.n_params / 1e3:.0f}k params, {record.tokens_per_param:.0f} tok/param)"


def image_label(rec: Record) -> str:
    return (f"{rec.meta.get('run', rec.name)} ({rec.n_params / 1e3:.0f}k params, "
            f"{rec.final['samples'] / rec.n_params:.1f} images/param)")


def plot_curves(records: Iterable[Record], ax=None, key: str = "val_loss", labels=label,
                styles: dict[str, dict[str, Any]] | None = None):
    """`key` (validation loss or accuracy) against cumulative FLOPs on a log axis, one line
    per record, growth events dotted in the line's colour."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    for rec in records:
        points = [(h["flops"], h[key]) for h in rec.history if h["flops"] > 0]
        style = (styles or {}).get(rec.meta.get("run", ""), {})
        line, = ax.plot(*zip(*points), marker=".", markersize=3, label=labels(rec), **style)
        for ev in rec.events:
            ax.axvline(ev["flops"], color=line.get_color(), linestyle=":", alpha=0.6)
    ax.set_xscale("log")
    ax.grid(True, which="both", alpha=0.3)
    return ax


def mark_speedup(ax, scratch: Record, grown: Record) -> None:
    """Scratch's final loss as a line, and an arrow from where scratch reaches it to where
    the grown run does."""
    sp = speedup(scratch, grown)
    ax.axhline(sp.target_loss, color="grey", linewidth=0.8, linestyle="--")
    if sp.reached:
        ax.annotate("", xy=(sp.grown_flops, sp.target_loss), xytext=(sp.scratch_flops, sp.target_loss),
                    arrowprops=dict(arrowstyle="->", color="black"))
        ax.set_title(smoke_mark(f"{grown.name} reaches scratch's final loss with {sp.flops:+.0%} "
                                "speedup (FLOPs)", [scratch.tokens_per_param, grown.tokens_per_param]),
                     fontsize=10)
    else:
        ax.set_title(f"{grown.name} never reaches scratch's final loss", fontsize=10)


def style_references(ax) -> None:
    """Scratch black, small models alone grey and dashed, so the growth runs stand out."""
    smalls = 0
    for line in ax.get_lines():
        name = str(line.get_label())
        if name.startswith("scratch"):
            line.set(color="black", linewidth=2)
        elif " alone" in name:  # several small models alone: one dash pattern each
            line.set(color=("grey", "darkgrey", "dimgrey")[smalls % 3],
                     linestyle=("--", ":", "-.")[smalls % 3])
            smalls += 1


def zoom(ax, records: list[Record]) -> None:
    """Skip the early losses near ln(vocab), which flatten everything else."""
    lo = min(min(r.series("val_loss")) for r in records)
    hi = max(h["val_loss"] for r in records for h in r.history[len(r.history) // 5:])
    ax.set_ylim(lo - 0.02, hi + 0.05)


def plot_records(records: list[Record], scratch: Record | None = None, grown: Record | None = None,
                 title: str | None = None, ax=None, references: bool = True):
    """Loss against FLOPs for these records, the speedup of `grown` over `scratch` marked
    when both are given; with `references`, scratch and the small models alone styled as such."""
    ax = plot_curves(records, ax)
    if scratch is not None and grown is not None:
        mark_speedup(ax, scratch, grown)
    if references:
        style_references(ax)
    zoom(ax, records)
    ax.set(xlabel="training FLOPs (small model's included)", ylabel="validation loss (nats/char)")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title + ("\n" + ax.get_title() if ax.get_title() else ""), fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def plot_study(study: Study, variants: list[Variant] | None = None, mark: Variant | None = None,
               title: str | None = None, ax=None):
    """Scratch, the small model(s) alone and the grown runs of `variants`, loss against
    FLOPs; the speedup of `mark` (default: the first variant) marked."""
    chosen = list(study.variants.values()) if variants is None else variants
    mark = mark or (chosen[0] if chosen else None)
    return plot_records(study.records(chosen), study.scratch, study.add(mark) if mark else None, title, ax)


def plot_compare(records: dict[int, list[Record]], path: str | Path | None = None):
    """`python -m growkit compare`'s figure: scratch, grown and small alone of the first
    seed in full, the other seeds' final points faint. `records`: seed -> [scratch, grown, small]."""
    seeds = sorted(records)
    first = records[seeds[0]]
    fig = plot_records(first, first[0], first[1])
    ax = fig.axes[0]
    for seed in seeds[1:]:
        for rec in records[seed]:
            ax.plot(rec.total_flops, rec.final_val_loss, "k.", alpha=0.4)
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_speedups(rows: list[Row], title: str | None = None, paper: bool = True, ax=None):
    """One bar per grown run (its FLOPs speedup over scratch) and, hatched grey, each small
    model alone on the same budget; tokens per parameter written at each bar. With
    `paper`, the paper's number for the same operator (at ~1.1B parameters) as a diamond."""
    entries = [dict(name=r.name, value=r.speedup_flops, tpp=r.tokens_per_param, small=False,
                    key=(r.op, r.dim), early=r.reached_before_growth,
                    plain=r.options.get("order", "stack") == "stack") for r in rows]
    seen: set[str] = set()
    for r in rows:
        if r.small not in seen:
            seen.add(r.small)
            entries.append(dict(name=r.small, value=r.small_speedup_flops, tpp=r.small_tokens_per_param,
                                small=True, key=None, plain=False, early=False))
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(entries) + 1.5))
    values = [e["value"] for e in entries if e["value"] is not None]
    span = max([abs(v) for v in values] + [0.1])
    paper_drawn = False
    for i, e in enumerate(entries):
        y = len(entries) - 1 - i
        v = e["value"]
        if e["small"]:
            ax.barh(y, v or 0.0, color="lightgrey", hatch="//", edgecolor="grey")
        else:
            ax.barh(y, v or 0.0, color="tab:green" if (v or 0) > 0 else "tab:red")
        text = ("never reached scratch's loss" if v is None else f"{v:+.0%}") + f"  ({e['tpp']:.0f} tok/param)"
        if e["early"]:  # the small phase got there alone: not growth's doing
            text += "  reached before growth"
        x = 0.0 if v is None else v
        ax.text(x + (0.02 * span if x >= 0 else -0.02 * span), y, text, va="center",
                ha="left" if x >= 0 else "right", fontsize=8)
        if paper and e["plain"] and e["key"] in PAPER_SPEEDUPS:
            ax.plot(PAPER_SPEEDUPS[e["key"]], y, "kD", markersize=5,
                    label=None if paper_drawn else "paper, ~1.1B params")
            paper_drawn = True
    ax.set_yticks(range(len(entries)), [e["name"] for e in reversed(entries)], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    lim = 1.9 * max(span, 0.5 if paper_drawn else 0.0)
    ax.set_xlim(-lim, lim)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))  # as the bars' labels say it
    ax.set_xlabel("speedup over scratch in FLOPs  (C_scratch / C_run − 1)")
    ax.set_title(smoke_mark(title or "speedup over scratch; hatched: the small model alone, same budget",
                            [e["tpp"] for e in entries]), fontsize=10)
    if paper_drawn:
        ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


def plot_surface(rows: list[Row], title: str | None = None, ax=None):
    """The speedup surface: growth factor (rows) by growth point (columns, share of the
    budget before growth), each cell the FLOPs speedup and tokens per parameter; the last
    column is each factor's small model alone on the whole budget."""
    fractions = sorted({r.grow_fraction for r in rows if r.grow_fraction is not None})
    factors = sorted({r.factor for r in rows})
    cells = {(r.factor, r.grow_fraction): r for r in rows}
    grid = np.full((len(factors), len(fractions) + 1), np.nan)
    labels = [["" for _ in range(len(fractions) + 1)] for _ in factors]

    def cell(value: float | None, tpp: float) -> tuple[float, str]:
        return (np.nan if value is None else value), ("never" if value is None else f"{value:+.0%}") + \
            f"\n{tpp:.0f} tok/p"

    for i, g in enumerate(factors):
        for j, f in enumerate(fractions):
            r = cells.get((g, f))
            if r is not None:
                grid[i, j], labels[i][j] = cell(r.speedup_flops, r.tokens_per_param)
        r = next(r for r in rows if r.factor == g)
        grid[i, -1], labels[i][-1] = cell(r.small_speedup_flops, r.small_tokens_per_param)
    if ax is None:
        _, ax = plt.subplots(figsize=(1.6 * (len(fractions) + 1) + 2, 1.1 * len(factors) + 1.8))
    finite = grid[np.isfinite(grid)]
    m = max(float(np.abs(finite).max()) if finite.size else 0.0, 0.05)
    cmap = plt.get_cmap("RdYlGn").copy()
    cmap.set_bad("lightgrey")
    im = ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=Normalize(-m, m), aspect="auto")
    for i in range(len(factors)):
        for j in range(len(fractions) + 1):
            ax.text(j, i, labels[i][j], ha="center", va="center", fontsize=8)
    ax.axvline(len(fractions) - 0.5, color="black", linewidth=2)
    ax.set_xticks(range(len(fractions) + 1), [f"{f:.0%}" for f in fractions] + ["small alone"])
    ax.set_yticks(range(len(factors)), [f"g = {g:g}" for g in factors])
    ax.set_xlabel("share of the FLOPs budget spent before growth")
    ax.figure.colorbar(im, ax=ax, label="speedup over scratch (FLOPs)", format=PercentFormatter(1.0))
    ax.set_title(smoke_mark(title or "speedup surface (grey: never reached scratch's final loss)",
                            [r.tokens_per_param for r in rows]), fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def plot_guideline(points: list[dict[str, Any]], tokens_per_param: float = 80.0, factor: float = 4,
                   ax=None):
    """The paper's growth-timing guideline as a share of the whole FLOPs budget, against
    target size (C = 6 N x tokens_per_param x N); above 1 it asks for more than the budget.
    `points`: dicts with name, params, guideline_fraction."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    n = np.logspace(4, 11, 200)
    frac = [guideline_fraction(x, 6 * x * tokens_per_param * x, factor) for x in n]
    ax.plot(n, frac, label=f"guideline at {tokens_per_param:.0f} tokens/param, g = {factor:g}")
    ax.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    ax.text(n[0], 1.3, "the whole budget", fontsize=8)
    paper = guideline_fraction(PAPER_POINT["params"], PAPER_POINT["flops"], factor)
    for i, (p, marker) in enumerate([*((p, "o") for p in points),
                                     (dict(PAPER_POINT, guideline_fraction=paper), "kD")]):
        ax.plot(p["params"], p["guideline_fraction"], marker)
        # Labels alternate above and below their points: neighbours' names never overlap.
        ax.annotate(p["name"], (p["params"], p["guideline_fraction"]), fontsize=8,
                    xytext=(5, 5 if i % 2 == 0 else -12), textcoords="offset points")
    ax.set(xscale="log", yscale="log", xlabel="target parameters N",
           ylabel="guideline's small-model phase / FLOPs budget")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.figure.tight_layout()
    return ax.figure


def plot_timing(sweeps: list[dict[str, Any]], rule: TimingRule, paper: Callable[[float, float], float],
                paper_label: str = "paper's formula"):
    """When to grow, measured and fitted (growkit.stages.fit_timing). Left: each sweep's mean
    speedup over scratch (bars: the seeds' spread) against the growth fraction, with the
    fitted rule's curve and its peak. Right: where the peak lies against the budget (tokens
    per target parameter) for each factor: the rule solid where sweeps of that factor were
    measured and dashed beyond them, each sweep's fitted peak, and the paper's formula,
    `paper(tokens_per_param, factor)` as a share of the budget (growkit.stages.paper_fraction;
    above the line at 1 it asks for more than the whole budget)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.6))
    factors = sorted({s["factor"] for s in sweeps})
    for i, s in enumerate(sweeps):
        color = f"C{i}"
        rows = [(f, v) for f, v in sorted(s["speedups"].items()) if all(x is not None for x in v)]
        fs = np.array([f for f, _ in rows])
        spread = [np.std(v, ddof=1) if len(v) > 1 else 0 for _, v in rows]
        left.errorbar(fs, [np.mean(v) for _, v in rows], yerr=spread, fmt="o", color=color, capsize=3,
                      label=f"{s['setting']} ({len(rows[0][1])} seed(s))")
        top = rule.predict(s["tokens_per_param"], s["factor"])
        grid = np.logspace(np.log10(min(fs.min(), top) / 1.5), np.log10(fs.max() * 1.2), 100)
        left.plot(grid, rule.heights[i] + rule.curvature * (np.log10(grid) - np.log10(top)) ** 2, color=color)
        left.axvline(top, color=color, linestyle=":", alpha=0.7)
    left.set(xscale="log", xlabel="share of the FLOPs budget before growth", ylabel="FLOPs speedup over scratch",
             title=f"fitted rule (lines), measured means (points); rms residual {rule.rms:.1%}")
    left.yaxis.set_major_formatter(PercentFormatter(1.0))
    left.xaxis.set_major_formatter(PercentFormatter(1.0))
    left.xaxis.set_minor_formatter(NullFormatter())
    left.legend(fontsize=7)
    budgets = np.logspace(np.log10(10), np.log10(1000), 100)
    for g in factors:
        measured = [s["tokens_per_param"] for s in sweeps if s["factor"] == g]
        inside = (budgets >= min(measured)) & (budgets <= max(measured))
        line, = right.plot(budgets[inside], [rule.predict(t, g) for t in budgets[inside]],
                           label=f"fitted rule, g = {g:g}")
        right.plot(budgets, [rule.predict(t, g) for t in budgets], color=line.get_color(), linestyle="--", alpha=0.6)
        right.plot(budgets, [paper(t, g) for t in budgets], color=line.get_color(), linestyle="-.",
                   label=f"{paper_label}, g = {g:g}")
        for s in sweeps:
            if s["factor"] == g:
                right.plot(s["tokens_per_param"], rule.predict(s["tokens_per_param"], g), "o", color=line.get_color())
    right.axhline(1.0, color="black", linestyle="--", linewidth=0.8)
    right.text(budgets[0], 1.3, "the whole budget", fontsize=8)
    right.set(xscale="log", yscale="log", xlabel="tokens per target parameter (the budget)",
              ylabel="share of the budget before growth",
              title="where growth pays most (dashed: extrapolated)")
    right.grid(True, which="both", alpha=0.3)
    right.legend(fontsize=7)
    fig.tight_layout()
    return fig


# ---- image classifiers (MixtureGrowth) --------------------------------------------------------

IMAGE_STYLES = {"scratch": dict(color="black", linewidth=2), "small": dict(color="grey", linestyle="--")}


def plot_image_runs(records: dict[str, Record], title: str | None = None, key: str = "val_acc"):
    """Validation accuracy (or `key`) against FLOPs, one line per run: scratch black, the
    half-width net alone grey and dashed, growth events dotted."""
    ax = plot_curves(records.values(), key=key, labels=image_label, styles=IMAGE_STYLES)
    ax.set_xlabel("training FLOPs (members and small net included)")
    ax.set_ylabel({"val_acc": "validation accuracy", "val_loss": "validation loss"}.get(key, key))
    finals = [rec.final[key] for rec in records.values()]
    if key == "val_acc":  # the interesting part is the top: early accuracies flatten it
        ax.set_ylim(max(0.0, min(finals) - 0.1), min(1.0, max(finals) + 0.02))
    ax.legend(fontsize=7)
    ax.set_title(title or "one FLOPs budget; dotted: growth (and the switch between members)", fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


def plot_accuracy_bars(summary: dict[str, Any], title: str | None = None):
    """Test accuracy per run (mean, and the spread over seeds): scratch black, the half-width
    net alone hatched grey, growth runs coloured; images seen per parameter at each bar."""
    rows = summary["rows"]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5))
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        style = (dict(color="black") if r["run"] == "scratch" else
                 dict(color="lightgrey", hatch="//", edgecolor="grey") if r["run"] == "small" else
                 dict(color="tab:purple" if r["run"].startswith("mixture") else "tab:blue"))
        ax.barh(y, 100 * r["test_acc_mean"], xerr=100 * r["test_acc_std"], **style)
        ax.text(100 * r["test_acc_mean"] + 0.1, y + 0.25,
                f"{100 * r['test_acc_mean']:.2f}%  ({r['samples_per_param']:.1f} img/param)", fontsize=7)
    accs = [100 * r["test_acc_mean"] for r in rows]
    ax.set_xlim(min(accs) - 3, min(100.5, max(accs) + 2.5))
    ax.set_yticks(range(len(rows)), [r["run"] for r in reversed(rows)], fontsize=9)
    ax.set_xlabel(f"test accuracy (%), mean over seeds {rows[0]['seeds']}")
    ax.set_title(title or "one FLOPs budget; hatched: the half-width net alone", fontsize=10)
    fig.tight_layout()
    return fig
