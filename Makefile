# Two commands for a fresh machine (Python >= 3.10, a package registry):
#   make demo   set up, then train the Langevin autoencoder and the VAE on MNIST-5k and write a
#               side-by-side report (< 10 min on 2 cores)
#   make test   set up, then run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN    ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
EPOCHS ?= 40
DEMO   := --train.epochs=$(EPOCHS) --train.eval_k=20
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
	$(BIN)/lae train lae-mnist5k-mlp --out $(RUN)/lae $(DEMO)
	$(BIN)/lae train vae-mnist5k-mlp --out $(RUN)/vae $(DEMO)
	$(BIN)/lae eval $(RUN)/lae --metrics elbo,iwae,mse --k 1000
	$(BIN)/lae eval $(RUN)/vae --metrics elbo,iwae,mse --k 1000
	$(BIN)/lae report $(RUN)/lae $(RUN)/vae --out $(RUN)/report
	@echo "demo finished: see $(RUN)/report/report.md"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check lae tests

clean-venv:
	rm -rf $(VENV)
