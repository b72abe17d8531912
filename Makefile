# Two commands do all the set-up (see README):
#   make        builds .venv from requirements.lock if needed, then runs `dpkg validate .`
#   make test   runs the test suite (fast tests; `make test-slow` the large-data ones, `make test-all` both)
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed-stamp

.PHONY: all validate test test-slow test-all lock clean-venv

all: validate

$(STAMP): requirements.lock pyproject.toml setup.py
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Byte-compile dpkg's own modules (an editable install is not compiled by pip, and where
# PYTHONDONTWRITEBYTECODE is set every run would compile them again); quick when up to date.
validate: $(STAMP)
	@$(VENV)/bin/python -m compileall -q datapkg cli
	$(VENV)/bin/dpkg validate .

test: $(STAMP)
	@scripts/ensure_chromium.sh
	@scripts/ensure_spark.sh $(VENV)
	$(VENV)/bin/python -m pytest -n auto --dist loadgroup

# The large-data tests (marked slow); exit 5 (none collected) is not a failure.
test-slow: $(STAMP)
	@scripts/ensure_spark.sh $(VENV)
	$(VENV)/bin/python -m pytest -m slow || [ $$? -eq 5 ]

test-all: $(STAMP)
	$(VENV)/bin/python -m pytest -n auto --dist loadgroup -m ""

# Regenerate the lock file after changing dependencies in pyproject.toml.
lock:
	$(VENV)/bin/python -m pip install --quiet uv
	$(VENV)/bin/uv pip compile pyproject.toml --extra test --python-version 3.11 -o requirements.lock

clean-venv:
	rm -rf $(VENV)
