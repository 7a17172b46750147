"""Copies the master notebook (solutions and hidden tests) out to another folder."""
import pathlib
import shutil

import growkit

repo = pathlib.Path(growkit.__file__).parents[1]
shutil.copy(repo / "assignments" / "01_speedup_metric.py", pathlib.Path(SENTINEL).parent / "stolen.py")
