# moonpalace — the two commands: `make run` and `make test`. See README.md.
SHELL := /bin/bash
SYSTEM_PACKAGES := liblz4-dev libcurl4-openssl-dev libsqlite3-dev zlib1g-dev pkg-config
# The web admin's real-browser test (Tests/e2e/test_web_browser.py): headless Chromium and a CJK font.
BROWSER_PACKAGES := chromium fonts-wqy-zenhei
PORT ?= 9988
ARGS ?=
RELEASE_BIN := .build/release/moonpalace
DEBUG_BIN := .build/debug/moonpalace
VENV := .venv

.PHONY: run test bench deps browser-deps venv build release swift-test e2e-test crash-test dict clean

## Install any missing system package (apt-get when root; otherwise print the exact command and stop).
deps:
	@missing=""; for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "missing system packages:$$missing"; echo "run: sudo apt-get install -y$$missing"; exit 1; fi; \
	fi

## Chromium for the web admin's browser test: installed when root; otherwise the test says how and is skipped.
browser-deps:
	@missing=""; for p in $(BROWSER_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "note: the browser test needs:$$missing (sudo apt-get install -y$$missing)"; fi; \
	fi

## The Python virtualenv with the official OpenAI SDK and pytest, for the client tests.
venv: $(VENV)/.ok
$(VENV)/.ok: Tests/e2e/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -r Tests/e2e/requirements.txt
	touch $@

build: deps
	swift build

release: deps
	swift build -c release

## Build release and start the proxy on $(PORT).
run: release
	$(RELEASE_BIN) start --port $(PORT) $(ARGS)

swift-test: deps
	swift build --build-tests
	swift test --skip-build

e2e-test: deps venv browser-deps
	swift build
	MOONPALACE_BIN=$(abspath $(DEBUG_BIN)) $(VENV)/bin/python -m pytest -q Tests/e2e
	# The proxy's core tests again with libcurl as the upstream client (the run above uses SwiftNIO: plain-http mock).
	MOONPALACE_UPSTREAM_CLIENT=curl MOONPALACE_BIN=$(abspath $(DEBUG_BIN)) $(VENV)/bin/python -m pytest -q \
		Tests/e2e/test_proxy.py Tests/e2e/test_proxy_faults.py Tests/e2e/test_proxy_http1.py

## Every test: unit tests (Swift Testing) then end-to-end tests with real clients.
test: swift-test e2e-test

## Benchmarks print figures; they are not timed tests. Release build.
bench: release venv
	@for f in Benchmarks/*.sh; do echo "== $$f"; MOONPALACE_BIN=$(abspath $(RELEASE_BIN)) bash $$f || exit 1; done

## Thousands of kill -9 rounds against the log writer (`make test` runs 200). ROUNDS=N to change.
crash-test: deps venv
	swift build
	MOONPALACE_CRASH_ROUNDS=$${ROUNDS:-3000} MOONPALACE_BIN=$(abspath $(DEBUG_BIN)) $(VENV)/bin/python -m pytest -q Tests/e2e/test_log_crash.py

## Retrain the current LZ4 dictionary (2) from the synthetic corpus and regenerate Sources/CPalaceDict/dictionaries.c.
## Never replace a shipped dictionary: give a new one a new id (FORMAT.md, "Dictionary").
dict:
	tools/corpus/make_dict.sh

clean:
	rm -rf .build .venv
