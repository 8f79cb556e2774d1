# The two commands a newcomer needs are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/monitor.yaml

.PHONY: install run test bench lint demo install-service clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/monitor run --config $(CONFIG)

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check monitor tests bench devkit
	$(BIN)/mypy monitor
	$(BIN)/lint-imports

demo: install
	$(BIN)/python -m devkit.demo

# Installs the code in /opt/monitor, the config in /etc/monitor, and the unit; run as root.
install-service:
	install -d /opt/monitor /etc/monitor/watchlists /etc/monitor/credentials
	cp -r monitor docs pyproject.toml README.md /opt/monitor/
	cd /opt/monitor && $(PYTHON) -m venv .venv && .venv/bin/python -m pip install --quiet .
	test -e /etc/monitor/monitor.yaml || install -m 0644 systemd/monitor.yaml /etc/monitor/monitor.yaml
	test -n "$$(ls /etc/monitor/watchlists)" || install -m 0644 config/watchlists/*.yaml /etc/monitor/watchlists/
	chmod 0700 /etc/monitor/credentials
	# LoadCredential= fails on a missing file; an empty one reads as "not set".
	touch /etc/monitor/credentials/X_BEARER_TOKEN /etc/monitor/credentials/SLACK_BOT_TOKEN
	chmod 0600 /etc/monitor/credentials/*
	install -m 0644 systemd/monitor.service /etc/systemd/system/monitor.service
	systemctl daemon-reload
	# On an upgrade, a running service restarts on the new code; a stopped one stays stopped.
	systemctl try-restart monitor.service
	@echo "Put tokens in /etc/monitor/credentials/X_BEARER_TOKEN and SLACK_BOT_TOKEN (mode 0600), then:"
	@echo "  systemctl enable --now monitor && journalctl -u monitor -f"

clean:
	rm -rf $(VENV) var/ .pytest_cache build *.egg-info
