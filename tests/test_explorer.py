"""The explorer (notebook 06) at the smoke preset: cached runs shown at start without
training, one colour per run whatever is overlaid, the other notebooks' run names, a plot
that is never blank, and an operator a student registers offered and trained."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from growkit import GPT, Study, Variant  # noqa: E402
from growkit import study as study_module  # noqa: E402
from growkit.explorer import RERUN, Explorer  # noqa: E402
from growkit.runs import RunOptions  # noqa: E402

STACK = {"op": "stack", "dim": "depth", "factor": 4}
ZERO = {"op": "zero", "dim": "width", "factor": 2}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A run cache holding scratch, stack↑×4 and its small model alone (as after notebook 00)."""
    folder = tmp_path_factory.mktemp("runs")
    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=folder))
    explorer.run(**STACK)
    return folder


def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the explorer trained a run at start")

    monkeypatch.setattr(study_module, "Trainer", refuse)


def line_colors(fig) -> dict[str, str]:
    return {str(line.get_label()).split(" (")[0]: line.get_color() for line in fig.axes[0].get_lines()
            if not str(line.get_label()).startswith("_")}


def test_cached_runs_are_shown_at_start_without_training(cache, monkeypatch):
    no_training(monkeypatch)
    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=cache))
    # zero→×2 was never trained: it is skipped, not trained.
    assert explorer.show_cached([STACK, ZERO]) == ["scratch", "stack↑×4"]
    assert [r.name for r in explorer.rows()] == ["stack↑×4"]
    fig = explorer.figure()
    assert {"scratch", "stack↑×4", "1L×16 alone"} <= set(line_colors(fig))
    plt.close(fig)
    import ipywidgets

    box = explorer.widget()  # builds without a person or a kernel, and says what it loaded
    readout = box.children[-1]
    assert isinstance(readout, ipywidgets.HTML) and "From the cache" in readout.value and "stack↑×4" in readout.value


def test_an_empty_cache_shows_nothing_and_trains_nothing(tmp_path, monkeypatch):
    no_training(monkeypatch)
    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=tmp_path))
    assert explorer.show_cached([STACK]) == []
    assert explorer.rows() == [] and list(tmp_path.iterdir()) == []
    plt.close(explorer.figure())


def test_a_run_keeps_its_colour_when_others_are_overlaid(cache):
    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=cache))
    explorer.run(**STACK)
    before = line_colors(explorer.figure())
    explorer.run(**ZERO)  # trains the width run and its own small model alone
    after = line_colors(explorer.figure())
    plt.close("all")
    assert after["stack↑×4"] == before["stack↑×4"] and after["zero→×2"] != after["stack↑×4"]
    assert after["scratch"] == before["scratch"]
    explorer.shown.clear()  # "clear overlay", then overlay again: the same colour
    explorer.run(**ZERO)
    assert line_colors(explorer.figure())["zero→×2"] == after["zero→×2"]
    plt.close("all")


def test_run_names_match_the_other_notebooks(cache):
    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=cache))
    cfg = explorer.study.cfg
    # The widget's "direct" in depth with the slider at the preset's growth point is 00's run.
    assert explorer.variant("direct", "depth", 4, cfg.grow_fraction).name == "stack↑×4"
    assert explorer.variant("stack", "depth", 4, None).name == "stack↑×4"
    assert explorer.variant("stack", "depth", 4, 0.5).name == "stack↑×4 @50%"


def coloured_pixels(png: bytes) -> int:
    """Pixels of a saturated colour: the grown runs' lines (scratch is black, the small models
    grey). A blank figure, even with its title and axes, has none; the legend's samples alone
    a few hundred."""
    import matplotlib.image

    rgb = matplotlib.image.imread(io.BytesIO(png))[..., :3]
    return int(((rgb.max(-1) - rgb.min(-1)) > 0.25).sum())


def test_the_widget_plot_is_drawn_never_blank(cache):
    from matplotlib.figure import Figure

    explorer = Explorer(Study.from_preset("smoke", progress=False, cache_dir=cache))
    explorer.show_cached([STACK])
    assert coloured_pixels(explorer.png()) > 1000  # stack↑×4's line, not only its legend sample
    blank = Figure(figsize=(8, 5))
    blank.subplots().set_title("zero↑×4 reaches scratch's final loss")
    buf = io.BytesIO()
    blank.savefig(buf, format="png")
    assert coloured_pixels(buf.getvalue()) == 0  # what the check tells apart
    import ipywidgets

    box = explorer.widget()
    plot = next(c for c in box.children if isinstance(c, ipywidgets.Image))
    assert coloured_pixels(plot.value) > 1000  # the widget holds the drawn image itself
    # Where no kernel drives the widget (a viewer, or its saved state): one line says what to do.
    assert box._repr_mimebundle_()["text/plain"] == RERUN and "run this cell again" in RERUN


def test_an_operator_you_register_is_offered_trained_by_a_study_and_overlaid(cache):
    from growkit.grow import register, unregister
    from growkit.grow.depth import from_layers

    @register("repeat_top", "depth", GPT, label="G_top", preserves_function=False)
    def repeat_top(small, *, factor):
        L = small.config.n_layer
        growth = from_layers(small, list(range(L)) + [L - 1] * (L * (factor - 1)))
        growth.info["layers"] = list(range(L)) + [L - 1] * (L * (factor - 1))
        return growth

    try:
        study = Study(study_module.preset("smoke"), preset="smoke",
                      options=RunOptions(cache_dir=cache, progress=False))
        explorer = Explorer(study)
        assert ("G_top", "repeat_top") in explorer.operators("depth")
        assert ("G_top", "repeat_top") not in explorer.operators("width")
        [row] = study.run([Variant("repeat_top", "depth", 2)], workers=1)
        assert row.name == "top↑×2" and row.speedup_flops is not None
        event = study.grown["top↑×2"].events[0]
        assert event["info"]["layers"] == [0, 1, 1, 1]  # its own layer order, not G_stack's
        explorer.run("repeat_top", "depth", 2)  # the cached run, overlaid
        assert "top↑×2" in line_colors(explorer.figure())
        plt.close("all")
    finally:
        unregister("repeat_top", "depth", GPT)
    assert ("G_top", "repeat_top") not in explorer.operators("depth")
