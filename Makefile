# Two commands for a fresh machine (Python >= 3.10, a package registry):
#   make demo   set up, then train the Langevin autoencoder and the VAE on MNIST-5k, score both by
#               AIS and write a side-by-side report (about 6 min on 2 quiet cores; docs/cli.md)
#   make test   set up, then run the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
RUN    ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
EPOCHS ?= 20
# per epoch: a small AIS NLL on 100 test images (the curve that compares the two models)
DEMO   := --train.epochs=$(EPOCHS) --train.eval_k=20 --train.eval_size=100 \
          --train.eval_ais_temps=100 --train.eval_ais_chains=2
# the final scores: AIS on 200 test images, 4 chains x 300 temperatures, and reconstructions
EVAL   := --metrics nll-ais,mse --n-examples 200 --ais-chains 4 --ais-temps 300
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
	$(BIN)/lae eval $(RUN)/lae $(EVAL)
	$(BIN)/lae eval $(RUN)/vae $(EVAL)
	$(BIN)/lae report $(RUN)/lae $(RUN)/vae --out $(RUN)/report
	@echo "demo finished: see $(RUN)/report/report.md"

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check lae tests

clean-venv:
	rm -rf $(VENV)
