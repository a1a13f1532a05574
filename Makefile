# `make test` and `make demo` each create .venv if it is missing, install qmarl with the pins in
# constraints.txt, and run. torch is installed first and alone so that nothing pulls a CUDA build.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.qmarl-installed
export SDL_VIDEODRIVER ?= dummy
export SDL_AUDIODRIVER ?= dummy
export PYTHONHASHSEED := 0

.PHONY: install test test-slow test-browser leaderboard demo bench lint clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e ".[agents,test]"
	touch $(STAMP)

install: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup
	$(BIN)/qmarl leaderboard validate

# headless-Chromium tests of the leaderboard page: Debian's chromium + chromedriver, selenium
test-browser: $(STAMP)
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium chromium-driver)
	$(BIN)/pip install --quiet -c constraints.txt -e ".[agents,test,browser]"
	$(BIN)/python -m pytest -q -m browser tests/leaderboard

# rebuild leaderboard/README.md and index.html from the committed submissions
leaderboard: $(STAMP)
	$(BIN)/qmarl leaderboard validate
	$(BIN)/qmarl leaderboard build

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

demo: $(STAMP)
	$(BIN)/qmarl demo

bench: $(STAMP)
	# magent2 is the reference point; --no-deps keeps its pygame-ce from clobbering pygame
	$(BIN)/pip install --quiet --no-deps magent2==0.3.4
	$(BIN)/python benchmarks/env_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache
