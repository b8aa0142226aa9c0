# The two commands of the README: `make demo` and `make test`. Both set up everything they need first.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all
SNAKEMAKE_ARGS ?=
# A PyTorch wheel index, e.g. https://download.pytorch.org/whl/cu126 for an NVIDIA driver too old for the default
# wheel (README, "GPUs"). torch and torchvision (the pins of pyproject.toml) then come from it, as a matched pair.
TORCH_INDEX ?=
TORCH_PINS := $(shell sed -nE 's/^ *"(torch(vision)?==[^"]+)",?/\1/p' pyproject.toml)
TORCH_STAMP := $(VENV)/.torch-index

.PHONY: setup torch-wheel tex demo test test-fast lint format paper report clean

setup: $(STAMP) torch-wheel tex

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@if [ -n "$(TORCH_INDEX)" ]; then \
		$(BIN)/python -m pip install --quiet --index-url $(TORCH_INDEX) $(TORCH_PINS) && echo "$(TORCH_INDEX)" > $(TORCH_STAMP); \
	fi
	$(BIN)/python -m pip install --quiet -e '.[test,slurm]'
	@touch $@

# `make setup TORCH_INDEX=...` on an existing environment swaps torch/torchvision (and their CUDA libraries) for
# that index's build of the same versions; nothing else is reinstalled.
torch-wheel: $(STAMP)
	@if [ -n "$(TORCH_INDEX)" ] && [ "$$(cat $(TORCH_STAMP) 2>/dev/null)" != "$(TORCH_INDEX)" ]; then \
		$(BIN)/python -m pip uninstall --quiet -y torch torchvision && \
		$(BIN)/python -m pip install --quiet --index-url $(TORCH_INDEX) $(TORCH_PINS) && \
		echo "$(TORCH_INDEX)" > $(TORCH_STAMP); \
	fi

# TeX compiles the paper; installed from Debian packages when missing and we may (root + apt-get).
tex:
	@if command -v latexmk >/dev/null && command -v pdflatex >/dev/null && command -v pdftotext >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing TeX (latexmk, texlive, poppler-utils) from Debian packages..."; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			latexmk texlive-latex-recommended texlive-latex-extra texlive-fonts-recommended poppler-utils >/dev/null; \
	else \
		echo "WARNING: TeX not found; install latexmk, texlive-latex-extra and poppler-utils to compile paper/main.pdf"; \
	fi

demo: setup
	$(BIN)/snakemake --cores $(CORES) $(SNAKEMAKE_ARGS)

# Every test, slow and end-to-end ones included.
test: setup
	$(BIN)/pytest -q

# Every test except those marked slow (more than ~3 s: a model trained, the trained reference run used, Snakemake
# run) or e2e (the workflow end to end): about a minute of CPU time, spread over the cores by pytest-xdist (about
# 50 s wall on two cores). `make test` stays serial: its SLURM and Snakemake tests start daemons and whole runs.
test-fast: $(STAMP)
	$(BIN)/pytest -q -n auto -m "not slow and not e2e"

lint: $(STAMP)
	$(BIN)/ruff check radgen scripts tests bench
	$(BIN)/ruff format --check radgen scripts tests bench
	$(BIN)/snakefmt --check workflow/
	$(BIN)/snakemake --lint

format: $(STAMP)
	$(BIN)/ruff check --fix radgen scripts tests bench
	$(BIN)/ruff format radgen scripts tests bench
	$(BIN)/snakefmt workflow/

paper: setup
	$(BIN)/snakemake --cores $(CORES) paper/main.pdf

report: $(STAMP)
	$(BIN)/snakemake --report results/report.html

clean:
	rm -rf results/* .snakemake paper/tables.tex paper/variables.tex paper/main.pdf
	@touch results/.gitkeep
