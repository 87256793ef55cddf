# Two commands for a fresh machine (Python >= 3.10, a package registry):
#   make demo   set up, then train the default model on MNIST-5k and write a report (< 10 min, 2 cores)
#   make test   set up, then run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN    ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint clean-venv

# torch is installed first and pinned: an unpinned torch would pull a multi-GB CUDA build, while
# torch==2.13.0 is a CPU build that satisfies the package's range.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/lae train vae-mnist5k-mlp --out $(RUN)
	$(BIN)/lae eval $(RUN) --metrics elbo,iwae,mse --k 1000
	$(BIN)/lae sample $(RUN) -n 64 --out $(RUN)/samples.png
	$(BIN)/lae report $(RUN) --out $(RUN)/report
	@echo "demo finished: see $(RUN)/report/report.md"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check lae tests

clean-venv:
	rm -rf $(VENV)
