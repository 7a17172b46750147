"""`python -m build`: a wheel and an sdist that carry what the notebooks need, named by the
version and repository the Colab install cells use (pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from colab import Release  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    pytest.importorskip("build", reason="the `build` package is in the dev extras: pip install -e '.[dev]'")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: setuptools from this environment, no download (seconds, offline).
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                           "--outdir", str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # setuptools' license-table deprecation block (and its like) must be gone.
    assert "SetuptoolsDeprecationWarning" not in done.stdout + done.stderr
    return out


def test_the_wheel_carries_every_module_and_names_the_release(built):
    release = Release.from_pyproject()
    wheels = list(built.glob(f"growkit-{release.version}-py3-none-any.whl"))
    assert len(wheels) == 1, list(built.iterdir())
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    package = {str(p.relative_to(ROOT)) for p in (ROOT / "growkit").rglob("*.py")}
    assert package <= names, f"missing from the wheel: {sorted(package - names)}"
    # Every module a notebook imports is there.
    for module in ("growkit/course.py", "growkit/explorer.py", "growkit/plots.py", "growkit/device.py",
                   "growkit/mixture_study.py", "growkit/grow/mixture.py"):
        assert module in names
    metadata = zipfile.ZipFile(wheels[0]).read(f"growkit-{release.version}.dist-info/METADATA").decode()
    assert f"Version: {release.version}" in metadata
    assert f"Project-URL: Repository, {release.repository}" in metadata
    assert "License-Expression: MIT" in metadata


def test_the_sdist_is_the_course(built):
    release = Release.from_pyproject()
    sdist = built / f"growkit-{release.version}.tar.gz"
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    notebooks = {str(p.relative_to(ROOT)) for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.*")}
    assert notebooks and notebooks <= names
    assert {"pyproject.toml", "README.md", "growkit/study.py", "tools/run_course.py", "Makefile"} <= names
    docs = {str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")}
    assert "docs/glossary.md" in docs and docs <= names, f"missing from the sdist: {sorted(docs - names)}"


def test_environment_yml_takes_pytorch_from_conda_forge():
    # Not solved here (no conda channel reachable): only what can be checked offline.
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]  # the pytorch channel has no PyTorch after 2.5
    names = {d.split(">")[0].split("=")[0] for d in env["dependencies"] if isinstance(d, str)}
    assert {"python", "pytorch", "jupyterlab", "ipywidgets", "papermill", "jupytext", "pip"} <= names
    assert "torch" not in names  # conda-forge calls it pytorch
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-e .[dev]"]
