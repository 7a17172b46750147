"""The explorer (notebook 06) at the smoke preset: cached runs shown at start without
training, one colour per run whatever is overlaid, the other notebooks' run names."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from growkit import Study  # noqa: E402
from growkit import study as study_module  # noqa: E402
from growkit.explorer import Explorer  # noqa: E402

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
