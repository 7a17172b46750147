"""The interactive explorer: choose an operator, a direction, a factor and a growth point,
train, and watch the run's loss-versus-FLOPs curve appear over the earlier ones, with the
scratch run and the small model alone as references and a speedup readout.

    explorer = Explorer(Study.from_preset("cpu"))
    display(explorer.widget())             # a person is there: widgets
    explorer.run("zero", "width", 2, 0.25) # headless (papermill): the same, from parameters

Widgets only when a person is there: `widget()` builds buttons and never blocks, and
headless runs call `run()` directly, so papermill never waits on an interaction.
"""

from __future__ import annotations

import html
from typing import Any

import matplotlib.pyplot as plt

from .gpt import GPT
from .grow import resolve
from .plots import plot_records
from .record import Record
from .study import Row, Study, Variant, valid_factors

# The paper's four atomic operators; each one's label (G_stack in depth) comes from the registry.
OPERATORS = ("direct", "zero", "random", "learn")


class Explorer:
    def __init__(self, study: Study) -> None:
        self.study = study
        self.shown: list[Variant] = []

    def variant(self, op: str, dim: str, factor: float, grow_fraction: float | None) -> Variant:
        return self.study._variant(op, dim, factor, grow_fraction)

    def run(self, op: str = "stack", dim: str = "depth", factor: float = 4,
            grow_fraction: float | None = None, on_eval=None) -> Row:
        """Train one variant (the scratch run and its small model alone first, if needed),
        add it to the overlay, and return its row of numbers."""
        v = self.variant(op, dim, factor, grow_fraction)
        self.study.add(v, on_eval=on_eval)
        if v.name not in [s.name for s in self.shown]:
            self.shown.append(v)
        return self.study.row(v)

    def rows(self) -> list[Row]:
        return self.study.rows(self.shown)

    def table(self) -> str:
        return self.study.table(self.rows())

    def figure(self, live: Record | None = None):
        """Everything finished so far (never trains), plus `live`, a run in progress."""
        study = self.study
        records = list(study.alone.values()) + [study.grown[v.name] for v in self.shown]
        if live is not None and all(r is not live and r.name != live.name for r in records):
            records.append(live)
        records = [r for r in records if len(r.history) > 1]
        if not records:
            fig, ax = plt.subplots(figsize=(8, 5))
            ax.text(0.5, 0.5, "nothing trained yet", ha="center", transform=ax.transAxes)
            return fig
        scratch = study.alone.get("scratch")
        last = study.grown.get(self.shown[-1].name) if self.shown else None
        return plot_records(records, scratch, last if scratch is not None else None)

    def widget(self):
        """The controls, the live plot and the readout (ipywidgets; needs a live kernel)."""
        import ipywidgets as w
        from IPython.display import display

        cfg = self.study.cfg
        def choices(direction: str) -> list[tuple[str, str]]:
            return [(resolve(name, direction, GPT).label, name) for name in OPERATORS]

        op = w.Dropdown(options=choices("depth"), value="direct", description="operator")
        dim = w.ToggleButtons(options=["depth", "width"], value="depth", description="direction")
        factor = w.Dropdown(options=valid_factors(cfg, "depth"), description="factor")
        factor.value = cfg.factor if cfg.factor in factor.options else factor.options[-1]
        when = w.FloatSlider(value=cfg.grow_fraction, min=0.05, max=0.8, step=0.05,
                             description="grow at", readout_format=".0%")
        go = w.Button(description="train and overlay", button_style="primary")
        clear = w.Button(description="clear overlay")
        plot_out, readout = w.Output(), w.HTML()

        def on_dim(change: dict) -> None:
            factor.options = valid_factors(cfg, change["new"])
            chosen = op.value
            op.options = choices(change["new"])
            op.value = chosen

        def draw(live: Record | None = None) -> None:
            with plot_out:
                plot_out.clear_output(wait=True)
                fig = self.figure(live)
                display(fig)
                plt.close(fig)

        def on_go(_: Any) -> None:
            go.disabled = True
            readout.value = "<i>training… (scratch and the small model alone first, once)</i>"
            try:
                self.run(op.value, dim.value, factor.value, when.value, on_eval=draw)
                readout.value = f"<pre>{html.escape(self.table())}</pre>"
            except Exception as err:  # shown to the person, not raised into a callback
                readout.value = f"<b>error:</b> {html.escape(str(err))}"
            finally:
                go.disabled = False
                draw()

        def on_clear(_: Any) -> None:
            self.shown.clear()
            readout.value = ""
            draw()

        dim.observe(on_dim, names="value")
        go.on_click(on_go)
        clear.on_click(on_clear)
        draw()
        return w.VBox([w.HBox([op, dim]), w.HBox([factor, when]), w.HBox([go, clear]),
                       plot_out, readout])
