"""The course in a real browser: JupyterLab on localhost, driven through headless Chromium
(Debian's `chromium` package, by Playwright's Python package pointed at it).

Notebook 00 is run to the end at the smoke preset, then the explorer (06) is opened on the
same run cache: it must show the cached runs at once, and its button must train a new run
and overlay it, ten presses in a row, each plot checked for drawn lines (a blank figure
fails); after a kernel restart one line says to run the cell again. Asserted too: the
figures and widgets render, and no "Error displaying widget" and no error output appears
anywhere. The summary page of `make demo` is checked too:
figures at full width, each a link, with a caption.

Skips, saying why, where Debian's chromium or Playwright is missing (`.ci/run` installs
both). Set GROWKIT_SCREENSHOTS=folder to keep the screenshots.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
TOKEN = "growkit-browser-test"


@pytest.fixture(scope="module")
def playwright_api():
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium; .ci/run does it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed "
                                   "(it is in the dev extras: pip install -e '.[dev]')")
    return sync_api


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = os.environ.get("GROWKIT_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(playwright_api):
    with playwright_api.sync_playwright() as p:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_copy(folder: Path, name: str) -> None:
    """A copy of a course notebook at the smoke preset, as `make lab` would hold it."""
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    params = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    params.source = params.source.replace('PRESET = "auto"', 'PRESET = "smoke"')
    nbformat.write(nb, folder / f"{name}.ipynb")


@pytest.fixture(scope="module")
def lab(playwright_api, tmp_path_factory):
    """JupyterLab on localhost over a folder of notebook copies, with this interpreter's kernel."""
    sys.path.insert(0, str(ROOT / "tools"))
    import run_course

    folder = tmp_path_factory.mktemp("lab")
    for name in ("00_quick_start", "06_explorer"):
        lab_copy(folder, name)
    settings = folder / ".settings"
    for plugin, value in [("@jupyterlab/apputils-extension/notification", {"fetchNews": "false",
                                                                           "checkForUpdates": False}),
                          ("@jupyter-widgets/jupyterlab-manager/plugin", {"saveState": True}),
                          # every cell in the page, so that its outputs can be read off the DOM
                          ("@jupyterlab/notebook-extension/tracker", {"windowingMode": "none"})]:
        path = settings / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port = free_port()
    with run_course.this_python_kernel():
        env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "OMP_NUM_THREADS": "1"}
        server = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={folder}", "--allow-root",
             "--LabApp.expose_app_in_browser=True", f"--LabApp.workspaces_dir={folder / '.workspaces'}"],
            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            url = f"http://127.0.0.1:{port}"
            for _ in range(120):
                try:
                    urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=1)
                    break
                except OSError:
                    if server.poll() is not None:
                        pytest.fail(f"jupyter lab exited: {server.stderr.read().decode()[-2000:]}")
                    time.sleep(0.25)
            yield url, folder
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()


def open_and_run_all(page, url: str, name: str) -> None:
    page.goto(f"{url}/lab/tree/{name}.ipynb?token={TOKEN}")
    # The notebook open and its kernel idle before "run all".
    try:
        wait_for_kernel(page, name)
    except Exception:
        state = page.evaluate("""() => {
            const app = window.jupyterapp, w = app && app.shell.currentWidget;
            return {app: !!app, widget: w && w.constructor.name, title: w && w.title.label,
                    session: !!(w && w.sessionContext && w.sessionContext.session),
                    kernel: w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel
                            && w.sessionContext.session.kernel.status};
        }""")
        page.screenshot(path=str(Path(os.environ.get("GROWKIT_SCREENSHOTS", "/tmp")) / f"failed-{name}.png"))
        raise AssertionError(f"{name} never got an idle kernel: {state}") from None
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")


def wait_for_kernel(page, name: str) -> None:
    page.wait_for_function(
        f"""() => {{
            const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
            const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle' && w.context.path === '{name}.ipynb';
        }}""", timeout=60_000)


def wait_until_done(page, timeout_s: float) -> None:
    """Every code cell has run: each shows an execution count, none is queued or running."""
    try:
        wait_for_prompts(page, timeout_s)
    except Exception:
        prompts = page.locator(f"{panel(page)} .jp-CodeCell .jp-InputPrompt:not(.jp-Placeholder-prompt)"
                               ).all_text_contents()
        page.screenshot(path=str(Path(os.environ.get("GROWKIT_SCREENSHOTS", "/tmp")) / "failed-run.png"),
                        full_page=True)
        raise AssertionError(f"not every cell ran: prompts {prompts}; outputs: {outputs(page)[-3000:]}") from None


def wait_for_prompts(page, timeout_s: float) -> None:
    page.wait_for_function(
        """() => {
            const id = window.jupyterapp.shell.currentWidget.id;
            // A collapsed cell (the install cell) shows a placeholder prompt without a count.
            const prompts = [...document.querySelectorAll(
                `#${id} .jp-CodeCell .jp-InputPrompt:not(.jp-Placeholder-prompt)`)];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""", timeout=timeout_s * 1000)


def panel(page) -> str:
    """A selector for the notebook on show (other tabs stay in the page, hidden)."""
    return "#" + page.evaluate("window.jupyterapp.shell.currentWidget.id")


def outputs(page) -> str:
    """The text of every output of the notebook on show (cell sources excluded)."""
    return "\n".join(page.locator(f"{panel(page)} .jp-OutputArea").all_text_contents())


def assert_clean(page) -> None:
    text = outputs(page)
    assert "Error displaying widget" not in page.locator(panel(page)).text_content()
    # An exception in a cell renders its traceback; a widget callback's error its "error:" line.
    assert "Traceback" not in text and "Error" not in text and "error:" not in text, text[-3000:]


def coloured_pixels(page, img) -> int:
    """Pixels of a saturated colour in the image on show (as tests/test_explorer.py counts
    them in the PNG): the grown runs' lines. A blank figure, title and axes alone, has none."""
    return img.evaluate("""img => {
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        const px = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) {
            const hi = Math.max(px[i], px[i + 1], px[i + 2]), lo = Math.min(px[i], px[i + 1], px[i + 2]);
            if (hi - lo > 64) n++;
        }
        return n;
    }""")


def test_notebook_00_and_the_explorer_in_jupyterlab(playwright_api, browser, lab, shots):
    url, folder = lab
    start = time.perf_counter()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)

    open_and_run_all(page, url, "00_quick_start")
    wait_until_done(page, 90)
    assert page.locator(f"{panel(page)} .jp-OutputArea-output img").count() >= 1  # loss vs FLOPs
    text = outputs(page)
    assert "SMOKE RUN" in text and "results_00.json" in text
    assert_clean(page)
    page.locator(f"{panel(page)} .jp-OutputArea-output img").first.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "lab-00-figure.png"))
    assert (folder / "results_00.json").exists()  # results land beside the copy, not in notebooks/

    open_and_run_all(page, url, "06_explorer")
    # The first explorer (the section "Your own operator" shows the controls a second time).
    explorer = page.locator(".growkit-explorer").first
    button = explorer.locator("button:has-text('train and overlay')")
    button.wait_for(timeout=120_000)
    readout = explorer.locator(".widget-html-content:has-text('From the cache')")
    readout.wait_for()  # 00's scratch and stack↑×4 are shown at once, nothing trained
    assert "stack↑×4" in readout.inner_text()
    wait_until_done(page, 120)
    assert "G_noisy" in page.locator(".growkit-explorer").last.locator("select").first.inner_text()
    plot = explorer.locator("img")
    assert coloured_pixels(page, plot) > 1000, "the explorer's first plot is blank"
    assert not explorer.locator(".growkit-rerun").is_visible()  # the restart line: only once the kernel is gone

    # Ten presses in a row, each image checked: the first trains zero↑×4, the others redraw.
    expect = playwright_api.expect
    operator = explorer.locator(".widget-dropdown select").first
    for press in range(10):
        operator.select_option(label=("G_zero", "G_stack")[press % 2])
        button.click()
        expect(button).to_be_disabled(timeout=10_000)  # while it trains or draws: no second click
        expect(button).to_be_enabled(timeout=120_000)  # the plot on show is final (drawn first)
        page.wait_for_function("() => { const i = document.querySelector('.growkit-explorer img');"
                               " return i.complete && i.naturalWidth > 0; }")
        count = coloured_pixels(page, plot)
        plot.scroll_into_view_if_needed()
        page.screenshot(path=str(shots / f"lab-06-press{press + 1:02d}.png"))
        assert count > 1000, f"press {press + 1}: a blank plot ({count} coloured pixels)"
    assert "zero↑×4" in explorer.locator(".widget-html-content pre").inner_text()
    assert_clean(page)

    # A kernel restart leaves the controls without a kernel: one line says to run the cell again.
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
    rerun = explorer.locator(".growkit-rerun")
    rerun.wait_for(state="visible", timeout=60_000)
    assert "run this cell again" in rerun.inner_text()
    rerun.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "lab-06-after-restart.png"))
    page.close()
    print(f"browser test: {time.perf_counter() - start:.1f} s (screenshots in {shots})")


def test_the_summary_page_shows_figures_full_width_with_captions(browser, tmp_path, shots):
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tools"))
    import run_course
    from test_course import GOOD, make_notebook

    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "00_good.ipynb", GOOD)
    make_notebook(folder / "01_broken.ipynb", 'raise RuntimeError("boom")')
    run_course.run_course(tmp_path / "out", preset="smoke", folder=folder)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((tmp_path / "out" / "index.html").as_uri())
    img = page.locator("figure img").first
    width = img.evaluate("i => i.getBoundingClientRect().width / document.body.clientWidth")
    assert width > 0.85 and img.evaluate("i => i.naturalWidth") > 0  # full width, and it loaded
    assert page.locator("figure a[target=_blank] img").count() == page.locator("figure img").count()
    assert "click to enlarge" in page.inner_text("figcaption")
    assert "Smoke run" in page.inner_text(".smoke")
    # Every link on the page leads somewhere.
    for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
        if not href.startswith("#"):
            assert (tmp_path / "out" / href).exists(), href
    page.screenshot(path=str(shots / "summary-page.png"), full_page=True)
    page.close()
    shutil.rmtree(tmp_path / "out" / "runs", ignore_errors=True)
