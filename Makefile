# The two commands a newcomer needs are `make run` and `make test`; both install first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CONFIG ?= config/monitor.yaml

.PHONY: install run test bench lint demo install-service uninstall-service clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	@echo "monitor is installed in $(BIN)/ (not on your PATH): run $(BIN)/monitor COMMAND, or 'source $(BIN)/activate' first"
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
# The code goes in as a wheel built from this checkout into a new virtualenv each time, so an upgrade
# leaves no file of the last version behind. The example watch-lists go to /etc/monitor/examples/,
# which the daemon does not read: copy one into watchlists/ and edit it (a live example would search
# X for "acme" and spend the read budget). DESTDIR, PREFIX, ETC, UNITDIR and SYSTEMCTL let a test
# install into a temporary root; PIP_FLAGS and WHEEL_FLAGS are passed to pip (install and wheel).
DESTDIR   ?=
PREFIX    ?= /opt/monitor
ETC       ?= /etc/monitor
UNITDIR   ?= /etc/systemd/system
SYSTEMCTL ?= systemctl
PIP_FLAGS ?=
WHEEL_FLAGS ?=
WHEELS    := build/wheels

install-service:
	rm -rf $(WHEELS) && $(PYTHON) -m pip wheel --quiet --no-deps $(WHEEL_FLAGS) -w $(WHEELS) .
	install -d $(DESTDIR)$(PREFIX) $(DESTDIR)$(ETC)/watchlists $(DESTDIR)$(ETC)/credentials
	rm -rf $(DESTDIR)$(PREFIX)/.venv $(DESTDIR)$(PREFIX)/docs $(DESTDIR)$(PREFIX)/monitor \
	  $(DESTDIR)$(PREFIX)/README.md $(DESTDIR)$(PREFIX)/pyproject.toml
	$(PYTHON) -m venv $(DESTDIR)$(PREFIX)/.venv
	$(DESTDIR)$(PREFIX)/.venv/bin/python -m pip install --quiet $(PIP_FLAGS) $(WHEELS)/*.whl
	cp -r docs README.md $(DESTDIR)$(PREFIX)/
	test -e $(DESTDIR)$(ETC)/monitor.yaml || install -m 0644 systemd/monitor.yaml $(DESTDIR)$(ETC)/monitor.yaml
	rm -rf $(DESTDIR)$(ETC)/examples && install -d $(DESTDIR)$(ETC)/examples
	install -m 0644 config/watchlists/*.yaml $(DESTDIR)$(ETC)/examples/
	chmod 0700 $(DESTDIR)$(ETC)/credentials
	# LoadCredential= fails on a missing file; an empty one reads as "not set".
	touch $(DESTDIR)$(ETC)/credentials/X_BEARER_TOKEN $(DESTDIR)$(ETC)/credentials/SLACK_BOT_TOKEN
	chmod 0600 $(DESTDIR)$(ETC)/credentials/*
	install -d $(DESTDIR)$(UNITDIR)
	install -m 0644 systemd/monitor.service $(DESTDIR)$(UNITDIR)/monitor.service
	$(SYSTEMCTL) daemon-reload
	# On an upgrade, a running service restarts on the new code; a stopped one stays stopped.
	$(SYSTEMCTL) try-restart monitor.service
	@echo "Watch-lists: copy one of $(ETC)/examples/*.yaml into $(ETC)/watchlists/ and edit its terms."
	@echo "Put tokens in $(ETC)/credentials/X_BEARER_TOKEN and SLACK_BOT_TOKEN (mode 0600), then:"
	@echo "  $(PREFIX)/.venv/bin/monitor check-config --config $(ETC)/monitor.yaml"
	@echo "  systemctl enable --now monitor && journalctl -u monitor -f"

# Stops and removes the service and the code; keeps $(ETC) (settings, watch-lists, tokens) and the
# database in /var/lib/monitor, which it names so they can be removed by hand.
uninstall-service:
	-$(SYSTEMCTL) disable --now monitor.service
	rm -f $(DESTDIR)$(UNITDIR)/monitor.service
	$(SYSTEMCTL) daemon-reload
	rm -rf $(DESTDIR)$(PREFIX)
	@echo "Removed the service and $(PREFIX). Kept $(ETC) (settings, watch-lists, tokens) and"
	@echo "/var/lib/monitor (the database): remove them by hand if they should go too."

clean:
	rm -rf $(VENV) var/ .pytest_cache build *.egg-info
