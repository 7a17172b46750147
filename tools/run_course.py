"""The whole course, headless: every notebook executed with papermill into one folder, with
a summary page a person can open (what `make demo` runs). Course tooling, not part of the kit.

    python tools/run_course.py --preset cpu --out outputs/course   # the CPU defaults
    python tools/run_course.py --preset smoke --out /tmp/c         # seconds per notebook; numbers mean nothing
    python tools/run_course.py --only 00 05                        # some notebooks

The folder gets, per notebook: the executed notebook (`NN_name.ipynb`) and an HTML copy,
its key numbers (`results_NN.json`) and its figures (`figures/`); for the course:
`index.html` (the speedup tables, the verdicts and every figure), `course.json` (wall time
and status per notebook) and `runs/` (the finished runs, shared by the notebooks, so a
second call trains nothing). A notebook that fails does not stop the others; the page
says which failed and where its partial output is.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from growkit.speedup import pct

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@dataclass
class Executed:
    name: str
    title: str
    status: str  # "ok" or "failed"
    wall_s: float
    figures: list[str]
    error: str | None = None


def write_atomic(path: Path, text: str) -> None:
    """Temp file + rename: a kill mid-write keeps the previous page."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@contextmanager
def this_python_kernel() -> Iterator[str]:
    """A kernelspec named python3 that runs this very interpreter, first on JUPYTER_PATH
    while the context lasts: the notebooks run against this growkit whatever kernels the
    machine has (a user-level python3 kernel would otherwise shadow the venv's)."""
    with tempfile.TemporaryDirectory() as root:
        spec = Path(root) / "kernels" / "python3"
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
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


def save_figures(nb: Any, folder: Path, stem: str) -> list[str]:
    """Every PNG the notebook drew, as files (paths relative to the course folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            png = output.get("data", {}).get("image/png")
            if png:
                path = folder / f"{stem}-{len(paths) + 1}.png"
                path.write_bytes(base64.b64decode(png))
                paths.append(f"{folder.name}/{path.name}")
    return paths


def execute(notebook: Path, out: Path, preset: str, kernel: str | None = None) -> Executed:
    import nbformat
    import papermill as pm
    from nbconvert import HTMLExporter

    target = out / notebook.name
    start = time.perf_counter()
    status, error = "ok", None
    try:
        pm.execute_notebook(str(notebook), str(target), parameters=parameters(notebook.stem, out, preset),
                            kernel_name=kernel, cwd=str(out), progress_bar=False)
    except Exception as exc:  # papermill has written the partial notebook: keep going, say so
        status, error = "failed", "".join(traceback.format_exception_only(type(exc), exc))[-2000:]
    wall = time.perf_counter() - start
    figures: list[str] = []
    title = notebook.stem
    if target.exists():
        nb = nbformat.read(target, as_version=4)
        title = title_of(nb) or title
        figures = save_figures(nb, out / "figures", notebook.stem[:2])
        write_atomic(target.with_suffix(".html"), HTMLExporter().from_notebook_node(nb)[0])
    return Executed(notebook.stem, title, status, wall, figures, error)


# ---- the summary page -------------------------------------------------------------------------

def rows_table(results: dict[str, Any]) -> str:
    """The speedup table (GPT notebooks) or the accuracy table (notebook 05), as HTML."""
    rows = results.get("rows") or results.get("explored") or results.get("runs") or []
    if not rows or not isinstance(rows[0], dict):
        return ""
    if "speedup_flops" not in rows[0] and "val_loss" in rows[0]:  # models trained alone (01)
        head = ["run", "val loss", "tokens/param", "FLOPs"]
        body = [[r["name"], f"{r['val_loss']:.4f}", f"{r['tokens_per_param']:.0f}", f"{r['flops']:.3g}"]
                for r in rows]
    elif "test_acc_mean" in rows[0]:
        head = ["run", "test accuracy", "± (seeds)", "FLOPs / budget", "images/param"]
        body = [[r["run"], f"{100 * r['test_acc_mean']:.2f}%", f"{100 * r['test_acc_std']:.2f}",
                 f"{r['flops'] / r['budget_flops']:.3f}", f"{r['samples_per_param']:.1f}"] for r in rows]
    else:
        head = ["run", "val loss", "speedup (FLOPs)", "speedup (tokens)", "tokens/param",
                "small alone", "beats small alone"]
        body = [[r["name"], f"{r['val_loss']:.4f}",
                 pct(r["speedup_flops"], 0, r.get("reached_before_growth", False)),
                 pct(r["speedup_tokens"]),
                 f"{r['tokens_per_param']:.0f}", f"{r['small']} {r['small_val_loss']:.4f}",
                 "yes" if r["beats_small"] else "NO"] for r in rows]
        scratch = results.get("scratch")
        if scratch:
            body.insert(0, ["scratch", f"{scratch['val_loss']:.4f}", "", "", f"{scratch['tokens_per_param']:.0f}",
                            "", ""])
    cells = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    lines = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in body)
    return f"<table><tr>{cells}</tr>{lines}</table>"


def verdicts(results: dict[str, Any]) -> list[str]:
    """The sentences the notebooks conclude with, where they saved one."""
    found = []
    for value in results.values():
        if isinstance(value, dict) and isinstance(value.get("text"), str):
            found.append(value["text"])
    if results.get("description"):
        found.insert(0, results["description"])
    return found


def page(executed: list[Executed], out: Path, preset: str) -> str:
    parts = [f"<h1>growkit course, executed headless</h1><p>preset <b>{html.escape(preset)}</b>"
             f"{' (numbers mean nothing at this size)' if preset == 'smoke' else ''}; total wall time "
             f"{sum(e.wall_s for e in executed) / 60:.1f} min. Each speedup is C_scratch / C_run − 1 in "
             "FLOPs to reach scratch's final validation loss; 'small alone' is the small model trained "
             "on the same budget, which growth has to beat too; * marks a speedup the small phase earned alone, "
             "before growth.</p><ul>"]
    for e in executed:
        parts.append(f"<li><a href='#{e.name}'>{html.escape(e.name)}</a>: {e.status}, {e.wall_s:.0f} s</li>")
    parts.append("</ul>")
    for e in executed:
        results_path = out / f"results_{e.name[:2]}.json"
        results = json.loads(results_path.read_text()) if results_path.exists() else {}
        parts.append(f"<h2 id='{e.name}'>{html.escape(e.name)}: {html.escape(e.title)}</h2>"
                     f"<p>{e.status}, {e.wall_s:.0f} s. <a href='{e.name}.html'>the executed notebook</a>"
                     f" · <a href='{results_path.name}'>its numbers</a></p>")
        if e.error:
            parts.append(f"<pre class='error'>{html.escape(e.error)}</pre>")
        parts += [f"<p>{html.escape(t)}</p>" for t in verdicts(results)]
        parts.append(rows_table(results))
        parts += [f"<img src='{f}' alt='{html.escape(e.name)} figure'>" for f in e.figures]
    style = ("body{font-family:sans-serif;max-width:70em;margin:auto;padding:1em}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px 8px;"
             "text-align:right}img{max-width:48%;margin:4px}.error{color:#a00}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>growkit course</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def run_course(out: str | Path = "outputs/course", preset: str = "cpu", only: list[str] | None = None,
               folder: Path = NOTEBOOKS) -> list[Executed]:
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    executed: list[Executed] = []
    with this_python_kernel() as kernel:
        for notebook in course_notebooks(folder, only):
            print(f"{notebook.stem} ...", flush=True)
            e = execute(notebook, out, preset, kernel)
            print(f"{notebook.stem}: {e.status} in {e.wall_s:.0f} s", flush=True)
            executed.append(e)
            # After every notebook: a kill keeps the page of what finished.
            write_atomic(out / "course.json", json.dumps(
                {"preset": preset, "notebooks": [asdict(x) for x in executed]}, indent=1))
            write_atomic(out / "index.html", page(executed, out, preset))
    return executed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/run_course.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="cpu", help="smoke, cpu, gpu, t4 or auto")
    parser.add_argument("--smoke", action="store_true", help="the same as --preset smoke")
    parser.add_argument("--only", nargs="+", default=None, metavar="NN", help="notebooks whose names start so")
    parser.add_argument("--out", default="outputs/course")
    args = parser.parse_args(argv)
    preset = "smoke" if args.smoke else args.preset
    t0 = time.perf_counter()
    executed = run_course(args.out, preset=preset, only=args.only)
    failed = [e.name for e in executed if e.status != "ok"]
    print(f"\nwall time {time.perf_counter() - t0:.0f} s; open {Path(args.out) / 'index.html'}")
    if failed:
        print(f"FAILED: {failed} (their partial notebooks are in {args.out}/)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
