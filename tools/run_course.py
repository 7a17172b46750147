"""The whole course, headless: every notebook executed with papermill into one folder, with
a summary page a person can open (what `make demo` runs). Course tooling, not part of the kit.

    python tools/run_course.py --preset cpu --out outputs/course   # the CPU defaults
    python tools/run_course.py --preset smoke --out /tmp/c         # seconds per notebook; numbers mean nothing
    python tools/run_course.py --only 00 05                        # some notebooks

The folder gets, per notebook: the executed notebook (`NN_name.ipynb`) and an HTML copy,
its key numbers (`results_NN.json`) and its figures (`figures/`); for the course:
`index.html` (the speedup tables, the verdicts and every figure), `course.json` (wall time
and status per notebook) and `runs/` (the finished runs, shared by the notebooks, so a
second call trains nothing). Every data set the notebooks need is loaded first: a missing one
stops the run before any notebook starts, saying how to get it. A notebook that fails does
not stop the others; the page says which failed and where its partial output is.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from growkit.record import atomic_write_text
from growkit.speedup import pct

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
# The kernel, started by this interpreter: figures at 150 dpi (legible at full page width), and
# without the log lines a course run does not need: ipykernel's warning that its local TCP
# sockets are unencrypted, and the "KeyboardInterrupt caught in kernel" it logs when it is shut
# down after a successful run. Errors in cells still reach the notebooks (and the page).
KERNEL_QUIET = ("without encryption", "KeyboardInterrupt caught")
KERNEL_BOOT = (
    "import logging; from traitlets.config import Config; c = Config(); "
    "c.InlineBackend.rc = {'figure.dpi': 150}; "
    f"logging.getLogger('IPKernelApp').addFilter(lambda r: not any(q in r.getMessage() for q in {KERNEL_QUIET!r})); "
    "from ipykernel.kernelapp import launch_new_instance; launch_new_instance(config=c)"
)


@dataclass
class Executed:
    name: str
    title: str
    status: str  # "ok" or "failed"
    wall_s: float
    figures: list[str]
    error: str | None = None
    captions: list[str] | None = None  # one per figure


@contextmanager
def this_python_kernel() -> Iterator[str]:
    """A kernelspec named python3 that runs this very interpreter, first on JUPYTER_PATH
    while the context lasts: the notebooks run against this growkit whatever kernels the
    machine has (a user-level python3 kernel would otherwise shadow the venv's)."""
    with tempfile.TemporaryDirectory() as root:
        spec = Path(root) / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-c", KERNEL_BOOT, "-f", "{connection_file}"],
            "display_name": "Python 3 (growkit)", "language": "python"}))
        before = os.environ.get("JUPYTER_PATH")
        os.environ["JUPYTER_PATH"] = os.pathsep.join([root, *([before] if before else [])])
        try:
            yield "python3"
        finally:
            if before is None:
                os.environ.pop("JUPYTER_PATH", None)
            else:
                os.environ["JUPYTER_PATH"] = before


def check_preset(preset: str) -> str:
    """The preset, if every notebook knows it; a ValueError before anything runs otherwise."""
    from growkit.mixture_study import PRESETS as IMAGE_PRESETS
    from growkit.study import PRESETS

    known = sorted(set(PRESETS) & set(IMAGE_PRESETS)) + ["auto"]
    if preset not in known:
        raise ValueError(f"unknown preset {preset!r}: the course runs at one of {', '.join(known)} "
                         "(lower case; 'auto' picks from the hardware).")
    return preset


def course_notebooks(folder: Path = NOTEBOOKS, only: list[str] | None = None) -> list[Path]:
    if not folder.is_dir():
        raise FileNotFoundError(
            f"no notebooks at {folder}: the course runs from a clone of the growkit repository "
            "(git clone ..., then `make demo`), not from an installed package.")
    found = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if only:
        found = [p for p in found if any(p.stem.startswith(o) for o in only)]
        if not found:
            raise ValueError(f"no notebook starts with any of {only}; there are "
                             f"{[p.stem for p in sorted(folder.glob('[0-9][0-9]_*.ipynb'))]}.")
    return found


class DataMissing(RuntimeError):
    """A data set a notebook of this course run needs is not on this machine (nor fetched)."""


# Data sets a notebook names in its code: load_text("kjv"), load_images("digits").
NAMED_DATA = re.compile(r"load_(text|images)\(\s*[\"']([\w-]+)[\"']")


def data_needed(notebooks: list[Path], preset: str) -> dict[str, Callable[[], object]]:
    """What these notebooks load at `preset`, by name, each with the loader that finds it (it
    knows where to look, downloads what may be downloaded, and says how to get the rest):
    the GPT study's corpus, the MixtureGrowth study's image set where a notebook runs that
    study (notebook 05: fashion-mnist at the cpu preset), and any data set a notebook names."""
    from growkit import mixture_study, study
    from growkit.data import load_text
    from growkit.images import load_images

    chosen = study.pick_preset(preset)  # 'auto': from the hardware, as the notebooks pick it
    needed: dict[str, Callable[[], object]] = {}
    for notebook in notebooks:
        source = notebook.read_text()
        corpus = study.preset(chosen).corpus
        needed[f"text corpus {corpus!r}"] = partial(load_text, corpus)
        if "mixture_study" in source:
            images = mixture_study.preset(chosen).data
            needed[f"image data set {images!r}"] = partial(load_images, images)
        for kind, name in NAMED_DATA.findall(source):
            loader = load_text if kind == "text" else load_images
            needed[f"{'text corpus' if kind == 'text' else 'image data set'} {name!r}"] = partial(loader, name)
    return needed


def check_data(notebooks: list[Path], preset: str) -> None:
    """Load every data set the notebooks will need, before the first one starts (a missing
    one would otherwise fail its notebook, maybe 45 minutes in): DataMissing says which are
    missing and how to get each."""
    from growkit.data import DatasetUnavailable

    missing = []
    for what, load in data_needed(notebooks, preset).items():
        try:
            load()
        except DatasetUnavailable as err:
            missing.append(f"- {what}: {err}")
        else:
            print(f"data: {what} is here", flush=True)
    if missing:
        raise DataMissing("the course needs data sets this machine does not have; get them first, "
                          "then run it again (no notebook has run):\n" + "\n".join(missing))


def parameters(name: str, out: Path, preset: str) -> dict[str, Any]:
    """Headless parameters: no widgets (they would wait for a person), no progress bars
    (they would fill the executed notebook), one run cache for the whole course."""
    params: dict[str, Any] = {"PRESET": preset, "PROGRESS": False,
                              "RUNS_DIR": str(out / "runs"), "RESULTS_DIR": str(out)}
    if name.startswith("06"):
        params["WIDGETS"] = False
    return params


def title_of(nb: Any) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return ""


# What each of growkit's figures shows, for its caption on the summary page.
FIGURES = {
    "plot_study": "Validation loss against training FLOPs: scratch (black), the small model alone (grey, "
                  "dashed) and the grown runs; the arrow runs from where scratch reaches its final loss to "
                  "where the grown run does (the speedup).",
    "plot_records": "Validation loss against training FLOPs, one line per model trained alone on the budget.",
    "plot_curves": "Validation loss against training FLOPs, one line per run on one budget (notebook 07: a "
                   "checkpoint trained on as imported, grown with G_stack, and grown with LLaMA-Pro training "
                   "only its new blocks; FLOPs counted from the import).",
    "plot_speedups": "Speedup over scratch in FLOPs, one bar per grown run, tokens per parameter at each bar; "
                     "hatched grey: the small model alone; diamonds: the paper's number (~1.1B parameters).",
    "plot_surface": "Speedup over scratch for each growth point (share of the budget before growth) and "
                    "growth factor.",
    "plot_guideline": "The paper's growth-timing guideline at this course's sizes: the share of the budget it "
                      "asks the small model to train for, against the target's size.",
    "plot_image_runs": "Validation accuracy against training FLOPs, every way of widening the CNN.",
    "plot_accuracy_bars": "Test accuracy of each run on one FLOPs budget.",
    "figure": "The explorer's overlay: validation loss against FLOPs of every run explored, with scratch "
              "and the small model alone.",
}
FIGURE_CALL = re.compile(r"\b(plot_\w+|\.figure)\(")


def captions_of(source: str) -> list[str]:
    """One caption per figure a cell's source draws, in order: what the figure shows, and the
    title the cell gave it."""
    calls = list(FIGURE_CALL.finditer(source))
    out = []
    for i, call in enumerate(calls):
        name = call.group(1).lstrip(".")
        if name not in FIGURES:
            continue
        rest = source[call.end(): calls[i + 1].start() if i + 1 < len(calls) else len(source)]
        title = re.search(r'title=f?"([^"{]*)(\{?)', rest)
        text = FIGURES[name]
        if title:
            # An f-string's title up to its first field, without the clause the field ends.
            words = title.group(1).rsplit(",", 1)[0] if title.group(2) else title.group(1)
            if words.strip(" ,"):
                text = f"“{words.strip(' ,')}”. {text}"
        out.append(text)
    return out


def save_figures(nb: Any, folder: Path, stem: str) -> tuple[list[str], list[str]]:
    """Every PNG the notebook drew, as files (paths relative to the course folder), and a
    caption for each."""
    folder.mkdir(parents=True, exist_ok=True)
    paths: list[str] = []
    captions: list[str] = []
    for cell in nb.cells:
        known = captions_of(cell.source) if cell.cell_type == "code" else []
        for k, output in enumerate(o for o in cell.get("outputs", []) if o.get("data", {}).get("image/png")):
            path = folder / f"{stem}-{len(paths) + 1}.png"
            path.write_bytes(base64.b64decode(output["data"]["image/png"]))
            paths.append(f"{folder.name}/{path.name}")
            captions.append(known[k] if k < len(known) else "A figure from the notebook.")
    return paths, captions


def execute(notebook: Path, out: Path, preset: str, kernel: str | None = None) -> Executed:
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    target = out / notebook.name
    # Nothing of an earlier run may pass for this one's: a failure leaves no stale numbers.
    for old in [target.with_suffix(".html"), *out.glob(f"results_{notebook.stem[:2]}*.json")]:
        old.unlink(missing_ok=True)
    start = time.perf_counter()
    status, error = "ok", None
    try:
        pm.execute_notebook(str(notebook), str(target), parameters=parameters(notebook.stem, out, preset),
                            kernel_name=kernel, cwd=str(out), progress_bar=False)
    except Exception as exc:  # papermill has written the partial notebook: keep going, say so
        status, error = "failed", "".join(traceback.format_exception_only(type(exc), exc))[-2000:]
    wall = time.perf_counter() - start
    figures: list[str] = []
    captions: list[str] = []
    title = notebook.stem
    if target.exists():
        nb = nbformat.read(target, as_version=4)
        title = title_of(nb) or title
        figures, captions = save_figures(nb, out / "figures", notebook.stem[:2])
        atomic_write_text(target.with_suffix(".html"), HTMLExporter().from_notebook_node(nb)[0])
    return Executed(notebook.stem, title, status, wall, figures, error, captions)


# ---- the summary page -------------------------------------------------------------------------

def rows_table(results: dict[str, Any]) -> str:
    """The speedup table (GPT notebooks) or the accuracy table (notebook 05), as HTML."""
    rows = results.get("rows") or results.get("explored") or results.get("runs") or []
    if not rows or not isinstance(rows[0], dict):
        return ""
    if "speedup_flops" not in rows[0] and "val_loss" in rows[0]:  # models trained alone (01)
        head = ["run", "val loss", "tokens/param", "FLOPs"]
        # (07's runs continue a checkpoint: well under one token per parameter since the import)
        body = [[r["name"], f"{r['val_loss']:.4f}", f"{r['tokens_per_param']:.0f}" if r["tokens_per_param"] >= 1
                 else f"{r['tokens_per_param']:.2g}", f"{r['flops']:.3g}"] for r in rows]
    elif "test_acc_mean" in rows[0]:
        seeds = max(len(r.get("seeds") or [0]) for r in rows)
        spread = seeds > 1  # one seed has no spread: no column of ± 0.00
        head = ["run", "test accuracy", *(["± (std over seeds)"] if spread else []), "FLOPs / budget",
                "images/param"]
        body = [[r["run"], f"{100 * r['test_acc_mean']:.2f}%",
                 *([f"{100 * r['test_acc_std']:.2f}"] if spread else []),
                 f"{r['flops'] / r['budget_flops']:.3f}", f"{r['samples_per_param']:.1f}"] for r in rows]
    else:
        head = ["run", "val loss (nats/char)", "speedup in FLOPs", "speedup in tokens", "tok/param",
                "small alone (val loss)", "beats small alone"]
        body = [[r["name"], f"{r['val_loss']:.4f}",
                 pct(r["speedup_flops"], 0, r.get("reached_before_growth", False)),
                 pct(r["speedup_tokens"]),
                 f"{r['tokens_per_param']:.0f}", f"{r['small']} {r['small_val_loss']:.4f}",
                 "yes" if r["beats_small"] else "no"] for r in rows]
        scratch = results.get("scratch")
        if scratch:
            body.insert(0, ["scratch", f"{scratch['val_loss']:.4f}", "", "", f"{scratch['tokens_per_param']:.0f}",
                            "", ""])
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    lines = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{cells}</tr>{lines}</table>"


def verdicts(results: dict[str, Any], preset: str) -> list[str]:
    """The sentences the notebooks conclude with (every course notebook saves one); at smoke
    marked as meaningless and without tuning advice, whatever wrote them."""
    from growkit.course import words

    found = []
    for value in results.values():
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            text = value["text"]
            found.append(text if text.startswith("[smoke run") else words(text, preset))
    if results.get("description"):
        found.insert(0, results["description"])
    return found


SMOKE_BANNER = ("<p class='smoke'><b>Smoke run: every number on this page is meaningless.</b> The smoke "
                "preset shrinks each notebook to seconds to check that the course runs; its models are far "
                "too small and too briefly trained to say anything about growth, so read no verdict below as "
                "a result, and tune nothing from it. Run <code>make demo</code> (the cpu preset) for real "
                "numbers.</p>")
GLOSSARY = ("<p class='words'>How to read it (docs/glossary.md has every word): each <b>speedup</b> is "
            "C_scratch / C_run − 1, the FLOPs scratch needs to reach its own final validation loss over "
            "what the run needs, minus one; <b>never</b>: the run never got there; <b>*</b> marks a speedup "
            "the small phase earned alone, before growth. <b>small alone</b> is the small model trained "
            "on the same budget, which growth has to beat too. <b>tok/param</b>: tokens trained on per "
            "parameter; losses are in <b>nats/char</b>; <b>1L×48</b> is 1 block of width 48.</p>")


def page(executed: list[Executed], out: Path, preset: str) -> str:
    smoke = preset == "smoke"
    parts = [f"<h1>growkit course, executed headless{' — SMOKE RUN' if smoke else ''}</h1>",
             SMOKE_BANNER if smoke else "",
             f"<p>preset <b>{html.escape(preset)}</b>; total wall time "
             f"{sum(e.wall_s for e in executed) / 60:.1f} min.</p>", GLOSSARY, "<ul>"]
    for e in executed:
        parts.append(f"<li><a href='#{e.name}'>{html.escape(e.name)}</a>: "
                     f"<span class='{e.status}'>{e.status}</span>, {e.wall_s:.0f} s</li>")
    parts.append("</ul>")
    for e in executed:
        results_path = out / f"results_{e.name[:2]}.json"
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
        links = []  # only to files that exist: a failed notebook may have neither
        if (out / f"{e.name}.html").exists():
            links.append(f"<a href='{e.name}.html'>the executed notebook</a>"
                         + (" (partial: where it stopped)" if e.status != "ok" else ""))
        if results_path.exists():
            links.append(f"<a href='{results_path.name}'>its numbers</a>")
        parts.append(f"<h2 id='{e.name}'>{html.escape(e.name)}: {html.escape(e.title)}</h2>"
                     f"<p><span class='{e.status}'>{e.status}</span>, {e.wall_s:.0f} s"
                     f"{'. ' + ' · '.join(links) if links else '. It left no notebook and no numbers.'}</p>")
        if e.error:
            parts.append(f"<pre class='error'>{html.escape(e.error)}</pre>")
        said = verdicts(results, preset)
        if said:
            parts.append("<div class='verdict'>" + "".join(f"<p>{html.escape(t)}</p>" for t in said) + "</div>")
        elif e.status == "ok":
            parts.append("<p class='verdict'>(This notebook saved no verdict in words.)</p>")
        parts.append(rows_table(results))
        captions = e.captions or []
        for k, f in enumerate(e.figures):
            caption = captions[k] if k < len(captions) else ""
            parts.append(f"<figure><a href='{f}' target='_blank' title='open full size'>"
                         f"<img src='{f}' alt='{html.escape(caption or e.name)}'></a><figcaption>"
                         f"<b>Figure {e.name[:2]}.{k + 1}</b> {html.escape(caption)} "
                         "<i>(click to enlarge)</i></figcaption></figure>")
    style = ("body{font-family:sans-serif;font-size:17px;line-height:1.45;max-width:64em;margin:auto;padding:1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;"
             "text-align:right}figure{margin:1.5em 0}img{width:100%;height:auto;border:1px solid #ddd}"
             "figcaption{font-size:15px;color:#333}.error,.failed{color:#a00}.ok{color:#070}"
             ".smoke{background:#fff3cd;border:2px solid #c90;padding:.6em 1em}"
             ".verdict{background:#f4f8ff;border-left:4px solid #48c;padding:.2em 1em}"
             ".words{font-size:15px;color:#333}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>growkit course</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def run_course(out: str | Path = "outputs/course", preset: str = "cpu", only: list[str] | None = None,
               folder: Path = NOTEBOOKS) -> list[Executed]:
    check_preset(preset)  # before any notebook starts
    notebooks = course_notebooks(folder, only)
    check_data(notebooks, preset)  # and its data sets, every one
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    executed: list[Executed] = []
    with this_python_kernel() as kernel:
        for notebook in notebooks:
            print(f"{notebook.stem} ...", flush=True)
            e = execute(notebook, out, preset, kernel)
            print(f"{notebook.stem}: {e.status} in {e.wall_s:.0f} s", flush=True)
            executed.append(e)
            # After every notebook: a kill keeps the page of what finished.
            atomic_write_text(out / "course.json", json.dumps(
                {"preset": preset, "notebooks": [asdict(x) for x in executed]}, indent=1))
            atomic_write_text(out / "index.html", page(executed, out, preset))
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/run_course.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", help="smoke, cpu, gpu, t4 or auto (checked before anything runs)")
    parser.add_argument("--smoke", action="store_true", help="the same as --preset smoke")
    parser.add_argument("--only", nargs="+", default=None, metavar="NN", help="notebooks whose names start so")
    parser.add_argument("--out", default="outputs/course")
    args = parser.parse_args(argv)
    preset = "smoke" if args.smoke else args.preset
    try:
        check_preset(preset)
    except ValueError as err:
        parser.error(str(err))  # exit 2, before any notebook starts
    t0 = time.perf_counter()
    try:
        executed = run_course(args.out, preset=preset, only=args.only)
    except DataMissing as err:
        print(f"python tools/run_course.py: {err}", file=sys.stderr)
        return 2
    failed = [e.name for e in executed if e.status != "ok"]
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; open {Path(args.out) / 'index.html'}")
    if failed:
        print(f"FAILED: {failed} (their partial notebooks are in {args.out}/)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
