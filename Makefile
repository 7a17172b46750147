# Every target bootstraps the local virtual environment it needs (.venv), so a fresh
# clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed first, at a pin whose CPU wheel is cached on the course machines;
# an already-present torch (e.g. a CUDA build) is kept because pyproject asks for a range.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo lab test bench gpu-check assignments grade clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH_PIN)"
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

# The whole course executed headless at its CPU defaults, with a summary page:
# outputs/course/index.html. `make demo SMOKE=1` does the same in a couple of minutes
# (the smoke preset: numbers meaningless) into outputs/course-smoke; `make demo PRESET=gpu`
# on a GPU machine. Every data set the notebooks need is loaded first (a missing one stops it at
# once, saying how to get it). Course tooling lives in tools/, outside the package.
PRESET ?= cpu
demo: $(STAMP)
	$(PY) tools/run_course.py $(if $(SMOKE),--preset smoke --out outputs/course-smoke,--preset $(PRESET) --out outputs/course)

# JupyterLab on copies of the course in lab/ (git-ignored), so saving a notebook, its runs
# (lab/runs/course) and its results_NN.json never touch notebooks/. A copy already in lab/ is
# yours and is kept: delete it to get the course's version back. As root (containers) Jupyter
# needs --allow-root. Widget state is saved with the notebook, so a reopened explorer shows
# its last state instead of "Error displaying widget".
LAB ?= lab
LAB_SETTINGS := $(LAB)/.settings/@jupyter-widgets/jupyterlab-manager/plugin.jupyterlab-settings
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	mkdir -p $(LAB) $(dir $(LAB_SETTINGS))
	for nb in notebooks/[0-9][0-9]_*.ipynb; do test -e $(LAB)/$$(basename $$nb) || cp $$nb $(LAB)/; done
	test -e $(LAB_SETTINGS) || echo '{"saveState": true}' > $(LAB_SETTINGS)
	@echo "JupyterLab on copies of the notebooks in $(LAB)/ (git-ignored; notebooks/ stays as committed)."
	@$(if $(ROOT_FLAG),echo "Running as root: starting Jupyter with --allow-root (fine in a container; avoid it on a shared machine).")
	cd $(LAB) && JUPYTERLAB_SETTINGS_DIR=$(abspath $(LAB))/.settings $(abspath $(VENV))/bin/jupyter lab $(ROOT_FLAG) $(LAB_ARGS)

# The test files run in one process per core (pytest-xdist, each file whole in one process, so
# its session fixtures are built once; tests/conftest.py keeps every process at one thread).
# TEST_WORKERS=0: all in one process.
TEST_WORKERS ?= auto
test: $(STAMP)
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# growkit's Trainer beside a plain PyTorch loop, eager and compiled, on the course's model sizes
# (tokens/s, ratios, GFLOP/s against this machine's measured matmul peak) -> runs/bench.json.
bench: $(STAMP)
	$(PY) tools/bench.py

# On a machine with a CUDA GPU: the bench, one seed of `compare --preset gpu` and notebook 00 at
# the t4 preset, under 8 minutes, into outputs/gpu-check/ (summary.txt). Refuses without a GPU;
# GPU_CHECK_ALLOW_CPU=1 dry-runs its plumbing on a CPU at the smoke preset.
gpu-check: $(STAMP)
	$(PY) tools/gpu_check.py

# The graded assignments (assignments/, Otter-Grader; docs/grading.md): each one's student copy and
# autograder into dist/assignments/NN_name/, and dist/handout/, the folder to publish as the handout
# repository (student notebooks and the package, no solutions). HANDOUT=<GitHub folder URL> is where
# you publish it (the Colab badges and install cells point there).
assignments: $(STAMP)
	$(PY) tools/assignments.py build $(if $(HANDOUT),--handout $(HANDOUT))

# Grade submitted notebooks in the sandbox, WORKERS at once (default: one per core):
# `make grade SUBMISSIONS=folder` prints scores and a per-question summary, appends every grade to
# $(GRADES) as it comes in, and writes each submission's feedback beside it (docs/grading.md).
GRADES ?= dist/grades/grades.csv
WORKERS ?= $(shell nproc 2>/dev/null || echo 1)
grade: $(STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=<folder or .ipynb> [GRADES=grades.csv] [WORKERS=n]"; exit 2; }
	$(PY) tools/assignments.py grade $(SUBMISSIONS) --csv $(GRADES) --workers $(WORKERS)

# Removes what builds and runs wrote; never grades (dist/grades/) or collected submissions.
clean:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) tools/assignments.py clean
	rm -rf $(VENV) runs/ outputs/ build/ .pytest_cache dist/*.whl dist/*.tar.gz
	@echo "removed $(VENV)/ runs/ outputs/ build/ .pytest_cache and built wheels in dist/; kept dist/grades/ and anything build did not write"
	@echo "kept lab/ (your notebooks): rm -rf lab/ to drop it"
