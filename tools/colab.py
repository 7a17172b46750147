"""The Colab entry path, made from one setting: pyproject.toml's `[project.urls] Repository`
and `version`. From them this writes, into every notebooks/NN_name.py (then syncs the .ipynb
with Jupytext) and into the README's notebook table:

- the "Open in Colab" badge, opening the notebook at the release tag (v<version>);
- the install cell, which installs that same release (git+<Repository>@v<version>) and, when
  it cannot, prints one paragraph saying what it tried and how to point it elsewhere;
- links to repository files in notebook texts (<Repository>/blob/v<version>/<path>).

    python tools/colab.py            # regenerate after changing the setting (or the version)
    python tools/colab.py --check    # exit 1 and name the stale files (tests/test_notebooks.py)

Until someone publishes their copy the Repository is a placeholder whose owner,
YOUR_GITHUB_USER, cannot be a GitHub account (underscores are not allowed there), so no one
else's code can ever be installed from it; the install cell then says what to change.
"""

from __future__ import annotations

import argparse
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
INSTALL_MARK = "# Colab: install growkit"
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

    def install_cell(self) -> str:
        """The install cell's source (percent format, without its `# %%` line)."""
        wheel = f"/content/growkit-{self.version}-py3-none-any.whl"
        return f'''{INSTALL_MARK} {self.version}, the release this notebook belongs to. Elsewhere (e.g. `make lab`
# in a clone) growkit is installed already and this cell does nothing. To install your fork or a
# wheel you uploaded instead, set GROWKIT to "git+https://github.com/<you>/growkit@{self.tag}"
# or "{wheel}". Written by tools/colab.py from pyproject.toml.
import importlib.metadata
import subprocess
import sys

GROWKIT = "{self.pip_source}"

if "google.colab" in sys.modules:
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
            said = [line for line in pip.stderr.splitlines() if line.strip()]
            tried = None if pip.returncode == 0 else (f"pip install {{GROWKIT}}, which failed"
                                                      + (f" ({{said[-1].strip()}})" if said else ""))
        if tried:
            print(f"growkit {self.version} is not installed, so the cells below will fail. Tried: {{tried}}. "
                  "To fix it, set GROWKIT at the top of this cell to where your copy of growkit lives and run "
                  "the cell again: your fork on GitHub (\\"git+https://github.com/<you>/growkit@{self.tag}\\", "
                  "after pushing the tag {self.tag}), or a wheel built with `python -m build` and uploaded "
                  "through Colab's Files panel (\\"{wheel}\\"). "
                  "The course's docs/gpu_and_colab.md, \\"Running on Colab\\", has the details.")'''


def cells(text: str) -> list[str]:
    """A percent-format source split before each `# %%` line (the header is the first part)."""
    return re.split(r"(?m)^(?=# %%)", text)


def render(text: str, notebook: str, release: Release) -> str:
    """A notebook source with its badge, install cell and file links made from `release`."""
    parts = cells(text)
    for i, part in enumerate(parts):
        if part.startswith("# %% [markdown]") and "colab-badge.svg" in part:
            parts[i] = re.sub(r"(?m)^# \[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)$",
                              lambda _: "# " + release.badge(notebook), part, count=1)
        elif part.startswith("# %%\n" + INSTALL_MARK) or part.startswith("# %%\n# On Colab, install growkit"):
            trailing = part[len(part.rstrip("\n")):]
            parts[i] = "# %%\n" + release.install_cell() + trailing
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
