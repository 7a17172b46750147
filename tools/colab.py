"""The Colab entry path, made from one setting: pyproject.toml's `[project.urls] Repository`
and `version`. From them this writes, into every notebooks/NN_name.py (then syncs the .ipynb
with Jupytext) and into the README's notebook table:

- the "Open in Colab" badge, opening the notebook at the release tag (v<version>);
- the install cell, which installs that same release (git+<Repository>@v<version>) and, when
  it cannot, stops "Run all" with one paragraph: what it tried, the underlying error (git's or
  pip's own lines) and how to point it elsewhere. It is collapsed to its one title line in
  Colab (a form) and JupyterLab (source hidden);
- links to repository files in notebook texts (<Repository>/blob/v<version>/<path>).

    python tools/colab.py            # regenerate after changing the setting (or the version)
    python tools/colab.py --check    # exit 1 and name the stale files (tests/test_notebooks.py)

Until someone publishes their copy the Repository is a placeholder whose owner,
YOUR_GITHUB_USER, cannot be a GitHub account (underscores are not allowed there), so no one
else's code can ever be installed from it; the install cell then says what to change.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PLACEHOLDER = "YOUR_GITHUB_USER"
BADGE_SVG = "https://colab.research.google.com/assets/colab-badge.svg"
# The install cell's first line: Colab shows it as the title of the collapsed cell (a form),
# JupyterLab hides the code under it (CELL_METADATA); `render` finds the cell by it.
INSTALL_TITLE = "# @title Install growkit (Colab only; elsewhere this cell does nothing)"
INSTALL_MARK = "# @title Install growkit"
OLD_MARKS = ("# Colab: install growkit", "# On Colab, install growkit")  # earlier versions' first lines
COLLAPSED = {"cellView": "form", "jupyter": {"source_hidden": True}}  # the install cell's metadata
CELL_METADATA = " ".join(f"{key}={json.dumps(value)}" for key, value in COLLAPSED.items())  # on its `# %%` line
# A link to a file of some growkit repository at some ref, in notebook text or the README.
# Only repositories named growkit: links to other projects' files are left alone.
FILE_LINK = re.compile(r"https://github\.com/[A-Za-z0-9_.-]+/growkit/blob/[^/\s)]+/")
COLAB_LINK = re.compile(r"https://colab\.research\.google\.com/github/[A-Za-z0-9_.-]+/growkit/blob/[^/\s)]+/")


@dataclass(frozen=True)
class Release:
    repository: str  # https://github.com/OWNER/NAME
    version: str

    @classmethod
    def from_pyproject(cls, path: Path = ROOT / "pyproject.toml") -> Release:
        project = tomllib.loads(path.read_text())["project"]
        repo = project.get("urls", {}).get("Repository", "")
        if not re.fullmatch(r"https://github\.com/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repo):
            raise ValueError(f"pyproject.toml [project.urls] Repository must be https://github.com/OWNER/NAME, "
                             f"got {repo!r}.")
        return cls(repo, project["version"])

    @property
    def tag(self) -> str:
        return f"v{self.version}"

    @property
    def slug(self) -> str:
        return self.repository.removeprefix("https://github.com/")

    @property
    def placeholder(self) -> bool:
        return PLACEHOLDER in self.repository

    @property
    def pip_source(self) -> str:
        return f"git+{self.repository}@{self.tag}"

    def file_url(self, path: str = "") -> str:
        return f"{self.repository}/blob/{self.tag}/{path}"

    def colab_url(self, notebook: str) -> str:
        return f"https://colab.research.google.com/github/{self.slug}/blob/{self.tag}/notebooks/{notebook}.ipynb"

    def badge(self, notebook: str) -> str:
        return f"[![Open In Colab]({BADGE_SVG})]({self.colab_url(notebook)})"

    def install_cell(self, growkit: str | None = None, title: str = INSTALL_TITLE) -> str:
        """The install cell's source (without its `# %%` line): on Colab, install `growkit`
        (pip's source; default: this release); where it cannot, raise one paragraph that says
        what it tried, the underlying error and how to point it elsewhere. Elsewhere nothing.
        Collapsed to its title line in Colab and JupyterLab (CELL_METADATA)."""
        wheel = f"/content/growkit-{self.version}-py3-none-any.whl"
        return f'''{title}
# Installs growkit {self.version}, the release this notebook belongs to; in a clone (`make lab`) it is
# installed already and this cell does nothing. Your fork or an uploaded wheel instead: set GROWKIT
# to "git+https://github.com/<you>/growkit@{self.tag}"
# or "{wheel}". Written by tools/colab.py.
import sys

GROWKIT = "{growkit or self.pip_source}"  # @param {{type:"string"}}

if "google.colab" in sys.modules:
    import importlib.metadata
    import re
    import subprocess

    class InstallFailed(Exception):
        def _render_traceback_(self):  # IPython shows this paragraph, not a traceback
            return [str(self)]

    try:
        installed = importlib.metadata.version("growkit")
    except importlib.metadata.PackageNotFoundError:
        installed = None
    if installed != "{self.version}":
        if "{PLACEHOLDER}" in GROWKIT:
            tried = ("nothing: this copy of the course does not name its repository yet (pyproject.toml's "
                     "[project.urls] Repository is still the placeholder {PLACEHOLDER})")
        else:
            pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", GROWKIT],
                                 capture_output=True, text=True)
            # git's and pip's own error lines, not pip's "This error originates from a subprocess".
            said = [line.strip() for line in pip.stderr.splitlines()
                    if re.match(r"\\s*(fatal|ERROR|error):", line) and "subprocess-exited" not in line]
            said = said or [line.strip() for line in pip.stderr.splitlines() if line.strip()][-1:]
            tried = None if pip.returncode == 0 else f"pip install {{GROWKIT}}, which failed: {{' '.join(said)}}"
        if tried:
            raise InstallFailed(
                f"growkit {self.version} is not installed, so the notebook stops here. Tried: {{tried}}. To fix it, "
                "set GROWKIT at the top of this cell to where your copy of growkit lives and run the cell again: "
                "your fork on GitHub ('git+https://github.com/<you>/growkit@{self.tag}', after pushing the tag "
                "{self.tag}), or a wheel built with `python -m build` and uploaded through Colab's Files panel "
                "('{wheel}'). The course's docs/gpu_and_colab.md, "
                "'Running on Colab', has the details.")'''


def cells(text: str) -> list[str]:
    """A percent-format source split before each `# %%` line (the header is the first part)."""
    return re.split(r"(?m)^(?=# %%)", text)


def is_install_cell(part: str) -> bool:
    """Whether a percent-format cell is the install cell (this version's or an earlier one's)."""
    header, _, body = part.partition("\n")
    return header.startswith("# %%") and "[markdown]" not in header and body.startswith((INSTALL_MARK, *OLD_MARKS))


def render(text: str, notebook: str, release: Release) -> str:
    """A notebook source with its badge, install cell and file links made from `release`."""
    parts = cells(text)
    for i, part in enumerate(parts):
        if part.startswith("# %% [markdown]") and "colab-badge.svg" in part:
            parts[i] = re.sub(r"(?m)^# \[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)$",
                              lambda _: "# " + release.badge(notebook), part, count=1)
        elif is_install_cell(part):
            trailing = part[len(part.rstrip("\n")):]
            parts[i] = f"# %% {CELL_METADATA}\n" + release.install_cell() + trailing
    return FILE_LINK.sub(lambda _: release.file_url(), "".join(parts))


def render_readme(text: str, release: Release) -> str:
    text = COLAB_LINK.sub(lambda _: f"https://colab.research.google.com/github/{release.slug}/blob/{release.tag}/",
                          text)
    return FILE_LINK.sub(lambda _: release.file_url(), text)


def targets(root: Path = ROOT) -> list[tuple[Path, str]]:
    """(file, its text as the setting makes it), for every file the setting writes into."""
    release = Release.from_pyproject(root / "pyproject.toml")
    out = [(p, render(p.read_text(), p.stem, release)) for p in sorted((root / "notebooks").glob("[0-9][0-9]_*.py"))]
    readme = root / "README.md"
    out.append((readme, render_readme(readme.read_text(), release)))
    return out


def stale(root: Path = ROOT) -> list[Path]:
    return [path for path, text in targets(root) if path.read_text() != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python tools/colab.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only say which files are stale")
    args = parser.parse_args(argv)
    changed = stale()
    if args.check:
        for path in changed:
            print(f"stale: {path.relative_to(ROOT)} (run `python tools/colab.py`)")
        return 1 if changed else 0
    for path, text in targets():
        if path in changed:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    notebooks = [str(p) for p in changed if p.suffix == ".py"]
    if notebooks:
        jupytext = Path(sys.executable).with_name("jupytext")
        subprocess.run([str(jupytext) if jupytext.exists() else "jupytext", "--sync", *notebooks], check=True)
    release = Release.from_pyproject()
    if release.placeholder:
        print(f"note: the Repository is still the placeholder ({release.repository}); set yours in pyproject.toml.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
