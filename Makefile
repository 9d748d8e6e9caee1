# Two commands set everything up, no root needed:
#   make run    create .venv, install kinod (pinned), start the daemon on ./footage
#   make test   install the test extras and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench clean redis-server

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p footage kino-out var
	$(BIN)/kinod --config config.toml run

test: $(STAMP) redis-server
	$(BIN)/python -m pytest -q

# issue 17: the distributed-executor tests start their own redis-server on a free loopback
# port; install Debian's when missing (as root, e.g. CI). Without it those tests skip.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
		|| echo "redis-server not installed: the dramatiq tests will be skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check kinod tests benchmarks exporters

bench: $(STAMP)
	$(BIN)/python benchmarks/decode_once.py

clean:
	rm -rf $(VENV) build *.egg-info
