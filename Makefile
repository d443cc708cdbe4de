# heygen-kit: `make run` executes the notebooks, `make test` runs the tests, `make lab` opens JupyterLab.
# Each target first creates or updates the virtual environment in .venv (quick when pyproject.toml is unchanged).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.heygen-installed

# torch: a wheel in pip's find-links (as on the kit's CI machines) is taken as it is; otherwise a machine without an
# NVIDIA driver gets the CPU build from PyTorch's index, never PyPI's multi-GB CUDA build.
LOCAL_TORCH := $(firstword $(wildcard $(addsuffix /torch-*.whl,$(PIP_FIND_LINKS))))
ifneq ($(LOCAL_TORCH),)
TORCH_ARGS := torch==$(word 2,$(subst -, ,$(notdir $(LOCAL_TORCH))))
else ifeq ($(shell command -v nvidia-smi),)
TORCH_ARGS := torch --index-url https://download.pytorch.org/whl/cpu
else
TORCH_ARGS := torch
endif

# WordNet 3.0 for the synonym augmenters: Debian's packages, assembled into .nltk_data/ for NLTK (see
# heygen_lib/augment/wordnet.py). Installed here only when running as root with apt-get; otherwise set-up says how.
WORDNET_DEBS := wordnet-base wordnet-sense-index
# Apertium, a rule-based translation engine, and its English-Spanish pair: offline back-translation for the smoke
# profile (see heygen_lib/augment/apertium.py). Installed the same way; without it back-translation says how to get it.
APERTIUM_DEBS := apertium apertium-eng-spa
# Both lists go through one apt-get update and install, run when any of their packages is missing.
SYSTEM_DEBS := $(WORDNET_DEBS) $(APERTIUM_DEBS)
# Colab's ipywidgets, for the widget tests' second pass (tests/test_colab_ipywidgets7.py): put in front of .venv's
# ipywidgets 8 through PYTHONPATH, so the one venv serves both versions.
IPYWIDGETS7 := .ipywidgets7

.PHONY: run test lab setup
run: $(STAMP)
	$(BIN)/heygen-run-notebooks

# One pytest worker per core, each on one torch thread (two threads per process on two cores would oversubscribe
# them); conftest.py groups what must run together and in order (a notebook's cells, the notebooks that read each
# other's artifacts, a test module). `.venv/bin/python -m pytest` alone runs the same tests serially.
test: $(STAMP) $(IPYWIDGETS7)/.installed
	HEYGEN_PROFILE=smoke HEYGEN_LESSONS=strict OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --durations=15

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

setup: $(STAMP)

$(IPYWIDGETS7)/.installed:
	$(BIN)/python -m pip install -q --no-deps --target $(IPYWIDGETS7) ipywidgets==7.7.1 ipython-genutils==0.2.0
	touch $@

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q $(TORCH_ARGS)
	$(BIN)/python -m pip install -q -e '.[dev]'
	@if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && ! dpkg -s $(SYSTEM_DEBS) >/dev/null 2>&1; then \
		apt-get update -q && apt-get install -y -q --no-install-recommends $(SYSTEM_DEBS); fi
	@command -v apertium >/dev/null || echo "Apertium is missing: back-translation in notebook 02 needs" \
		"'sudo apt-get install $(APERTIUM_DEBS)' (run 'make setup' as root to install it)"
	-$(BIN)/python -m heygen_lib.augment.wordnet
	touch $@
