"""The interactive explorer: choose an operator, a direction, a factor and a growth point,
train, and watch the run's loss-versus-FLOPs curve appear over the earlier ones, with the
scratch run and the small model alone as references and a speedup readout.

    explorer = Explorer(Study.from_preset("cpu"))
    display(explorer.widget())             # a person is there: widgets
    explorer.run("zero", "width", 2, 0.25) # headless (papermill): the same, from parameters

Widgets only when a person is there: `widget()` builds buttons and never blocks, and
headless runs call `run()` directly, so papermill never waits on an interaction.

Runs already in the study's cache are shown at once (`show_cached`, training nothing), and
each run keeps one colour for as long as the explorer lives, whatever else is overlaid. A
run's name is the one the other notebooks give it (`stack↑×4`; `@30%` only when the growth
point is not the preset's).
"""

from __future__ import annotations

import html
import io
import math
from collections.abc import Iterable
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from .gpt import GPT
from .grow.registry import operators_for
from .plots import mark_speedup, plot_curves, style_references, zoom
from .record import Record
from .runs import NotCached
from .study import Row, Study, Variant, valid_factors

# One line the saved notebook shows where the controls were, once no kernel drives them: in the
# widget's text form (a viewer without widgets) and above the controls (JupyterLab marks each
# control of a dead kernel with a broken-link icon and nothing more).
RERUN = ("The explorer needs its kernel: run this cell again to use it (after a kernel restart, "
         "or when the notebook is reopened, the controls are only a picture of the last state).")
# Shown only while JupyterLab marks the widgets disconnected (jupyter-widgets-disconnected):
# one broken-link icon beside the line instead of one per control, and the controls dimmed.
RERUN_HTML = f"""<style>
.growkit-rerun {{ display: none; }}
.jupyter-widgets-disconnected .growkit-rerun {{ display: block; font-weight: bold; }}
.growkit-explorer .jupyter-widgets-disconnected::before {{ display: none; }}
.growkit-explorer .jupyter-widgets-disconnected:not(.growkit-hint, .widget-box, .widget-image) {{ opacity: 0.5; }}
</style><div class="growkit-rerun">{html.escape(RERUN)}</div>"""
# Colours for grown runs, in order of first appearance (grey is left to the references).
PALETTE = ("C0", "C1", "C2", "C3", "C4", "C5", "C6", "C8", "C9")


def plain_log_ticks(ax: Any) -> None:
    """Plain-text labels ("1e+09") on log axes instead of mathtext ("$10^{9}$"). This figure
    is drawn from widget callbacks, and there matplotlib's mathtext parser (pyparsing 3.3.3)
    failed now and then on its own tick labels ("Expected end of text, found '$'"), leaving
    a traceback where the plot should be (tests/test_browser.py, about one run in two)."""
    from matplotlib.ticker import LogFormatter

    for axis in (ax.xaxis, ax.yaxis):
        if axis.get_scale() == "log":
            axis.set_major_formatter(LogFormatter())
            # Minor labels only where the axis spans about a decade: across two they crowd.
            axis.set_minor_formatter(LogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


class Explorer:
    def __init__(self, study: Study) -> None:
        self.study = study
        self.shown: list[Variant] = []
        self.colors: dict[str, str] = {}  # run name -> its colour, kept for the explorer's life

    def variant(self, op: str, dim: str, factor: float, grow_fraction: float | None) -> Variant:
        # The preset's own growth point is not spelled out in the name: `stack↑×4` here is
        # the `stack↑×4` of notebook 00, and one cached run.
        if grow_fraction is not None and math.isclose(grow_fraction, self.study.cfg.grow_fraction,
                                                      abs_tol=1e-6):
            grow_fraction = None
        return self.study.variant(op, dim, factor, grow_fraction)

    def color(self, name: str) -> str:
        if name not in self.colors:
            grown = [n for n in self.colors if n != "scratch" and not n.endswith(" alone")]
            self.colors[name] = PALETTE[len(grown) % len(PALETTE)]
        return self.colors[name]

    def show_cached(self, runs: Iterable[dict[str, Any]] = ()) -> list[str]:
        """Show, without training anything, the scratch run and whichever of `runs` (each
        Variant fields: op, dim, factor, grow_fraction) are already in the cache, with their
        small models alone. Returns the names shown."""
        reader = self.study.reader()  # finds what it reads in self.study too
        found: list[str] = []
        try:
            reader.train_alone(reader.target)  # scratch, if it is there
            found.append("scratch")
        except NotCached:
            return found
        for run in runs:
            v = self.variant(run.get("op", "stack"), run.get("dim", "depth"), run.get("factor", 4),
                             run.get("grow_fraction"))
            try:
                reader.add(v)
            except NotCached:
                continue
            if v.name not in [s.name for s in self.shown]:
                self.shown.append(v)
            found.append(v.name)
        return found

    def run(self, op: str = "stack", dim: str = "depth", factor: float = 4,
            grow_fraction: float | None = None, on_eval=None) -> Row:
        """Train one variant (the scratch run and its small model alone first, if needed),
        add it to the overlay, and return its row of numbers."""
        v = self.variant(op, dim, factor, grow_fraction)
        self.study.add(v, on_eval=on_eval)
        # Last in the overlay, whether shown already or not: the figure marks its speedup.
        self.shown = [s for s in self.shown if s.name != v.name] + [v]
        return self.study.row(v)

    def rows(self) -> list[Row]:
        return self.study.rows(self.shown)

    def table(self) -> str:
        return self.study.table(self.rows())

    def figure(self, live: Record | None = None, pyplot: bool = True):
        """Everything finished so far (never trains), plus `live`, a run in progress.
        `pyplot` False: a figure pyplot never sees (the widget renders it to PNG itself)."""
        study = self.study
        records = list(study.alone.values()) + [study.grown[v.name] for v in self.shown]
        if live is not None and all(r is not live and r.name != live.name for r in records):
            records.append(live)
        records = [r for r in records if len(r.history) > 1]
        fig = plt.figure(figsize=(8, 5)) if pyplot else Figure(figsize=(8, 5))
        ax = fig.subplots()
        if not records:
            ax.text(0.5, 0.5, "nothing trained yet: press 'train and overlay'", ha="center",
                    transform=ax.transAxes)
            return fig
        for rec in records:  # one call per run: its colour (and its growth line's) is its own
            plot_curves([rec], ax, styles={rec.meta.get("run", ""): {"color": self.color(rec.name)}})
        scratch = study.alone.get("scratch")
        last = study.grown.get(self.shown[-1].name) if self.shown else None
        if scratch is not None and last is not None:
            mark_speedup(ax, scratch, last)
        style_references(ax)
        zoom(ax, records)
        ax.set(xlabel="training FLOPs (small model's included)", ylabel="validation loss (nats/char)")
        plain_log_ticks(ax)
        ax.legend(fontsize=8)
        fig.tight_layout()
        return fig

    def png(self, live: Record | None = None) -> bytes:
        """The figure as PNG bytes, drawn off pyplot: what the widget shows."""
        buf = io.BytesIO()
        self.figure(live, pyplot=False).savefig(buf, format="png", dpi=110, bbox_inches="tight")
        return buf.getvalue()

    def operators(self, dim: str) -> list[tuple[str, str]]:
        """(label, name) of every operator that grows the GPT in `dim`, yours included
        (growkit.grow.register): what the widget offers."""
        return [(o.label, o.name) for o in operators_for(GPT) if o.dim == dim]

    def cached_note(self) -> str:
        """The readout before anything trains: what `show_cached` found, as HTML."""
        if self.shown:
            names = ", ".join(v.name for v in self.shown)
            return (f"<p>From the cache (nothing trained): {html.escape(names)}</p>"
                    f"<pre>{html.escape(self.table())}</pre>")
        if "scratch" in self.study.alone:
            return "<p>From the cache (nothing trained): scratch.</p>"
        return ""

    def widget(self):
        """The controls, the live plot and the readout (ipywidgets; needs a live kernel).

        The plot is an Image widget holding PNG bytes rendered here, off pyplot, set as one
        value: not a pyplot figure displayed into an Output widget, whose capture follows the
        message a click came in on, whose clear_output(wait=True) is answered by whatever
        output comes next (the training's progress lines share that message), and which the
        inline backend and ipykernel 7 also handle. Drawn that way a student saw, in one
        press of two, a saved image blank but for a clipped title."""
        import ipywidgets as w

        cfg = self.study.cfg
        op = w.Dropdown(options=self.operators("depth"), value="direct", description="operator")
        dim = w.ToggleButtons(options=["depth", "width"], value="depth", description="direction")
        factor = w.Dropdown(options=valid_factors(cfg, "depth"), description="factor")
        factor.value = cfg.factor if cfg.factor in factor.options else factor.options[-1]
        when = w.FloatSlider(value=cfg.grow_fraction, min=0.05, max=0.8, step=0.05,
                             description="grow at", readout_format=".0%")
        go = w.Button(description="train and overlay", button_style="primary")
        clear = w.Button(description="clear overlay")
        plot = w.Image(format="png", layout=w.Layout(width="100%", max_width="900px"))
        readout = w.HTML(value=self.cached_note())

        def on_dim(change: dict) -> None:
            factor.options = valid_factors(cfg, change["new"])
            chosen = op.value
            op.options = self.operators(change["new"])
            if chosen in [name for _, name in op.options]:  # yours may grow in one direction only
                op.value = chosen

        def draw(live: Record | None = None) -> None:
            plot.value = self.png(live)

        def on_go(_: Any) -> None:
            go.disabled = True
            readout.value = "<i>training… (scratch and the small model alone first, once)</i>"
            try:
                self.run(op.value, dim.value, factor.value, when.value, on_eval=draw)
                readout.value = f"<pre>{html.escape(self.table())}</pre>"
            except Exception as err:  # shown to the person, not raised into a callback
                readout.value = f"<b>error:</b> {html.escape(str(err))}"
            finally:
                # Draw before re-enabling: an enabled button means the plot on show is final.
                draw()
                go.disabled = False

        def on_clear(_: Any) -> None:
            self.shown.clear()
            readout.value = ""
            draw()

        dim.observe(on_dim, names="value")
        go.on_click(on_go)
        clear.on_click(on_clear)
        draw()
        hint = w.HTML(value=RERUN_HTML)
        hint.add_class("growkit-hint")
        return explorer_box(w, [hint, w.HBox([op, dim]), w.HBox([factor, when]), w.HBox([go, clear]), plot,
                                readout])


def explorer_box(w: Any, children: list) -> Any:
    """A VBox of `children` whose text form (what a viewer without widgets shows) is RERUN."""

    class ExplorerBox(w.VBox):
        def _repr_mimebundle_(self, **kwargs: Any) -> dict:
            return {**super()._repr_mimebundle_(**kwargs), "text/plain": RERUN}

    box = ExplorerBox(children)
    box.add_class("growkit-explorer")
    return box
