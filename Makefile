# Every target bootstraps the local virtual environment it needs (.venv), so a fresh
# clone needs only `make demo` or `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch is installed first, at a pin whose CPU wheel is cached on the course machines;
# an already-present torch (e.g. a CUDA build) is kept because pyproject asks for a range.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed

.PHONY: setup demo lab test bench clean

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
# on a GPU machine. Course tooling lives in tools/, outside the package.
PRESET ?= cpu
demo: $(STAMP)
	$(PY) tools/run_course.py $(if $(SMOKE),--preset smoke --out outputs/course-smoke,--preset $(PRESET) --out outputs/course)

lab: $(STAMP)
	$(VENV)/bin/jupyter lab notebooks/

test: $(STAMP)
	$(PY) -m pytest -q

bench: $(STAMP)
	$(PY) tools/bench.py

clean:
	rm -rf $(VENV) runs/ outputs/ .pytest_cache
