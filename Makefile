# Two targets a newcomer needs: `make serve` and `make test`. Both set everything up first.
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
HOST ?= 127.0.0.1
PORT ?= 8000
# npm packages that mint real NextAuth/Auth.js tokens for the tests; reinstalled when the
# lock changes (npm ci empties node_modules, so the stamp goes with it).
NEXTAUTH_STAMP := tests/nextauth/node_modules/.installed

.PHONY: setup serve test lint audit

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

setup: $(UV)
	$(UV) sync --frozen

serve: setup
	$(UV) run ticketing seed
	$(UV) run ticketing serve --host $(HOST) --port $(PORT)

$(NEXTAUTH_STAMP): tests/nextauth/package-lock.json tests/nextauth/package.json
	npm ci --prefix tests/nextauth --no-audit --no-fund
	touch $@

test: setup $(NEXTAUTH_STAMP)
	$(UV) run pytest

# lint-imports checks the import contracts in pyproject.toml ([tool.importlinter]);
# mypy type-checks the kernel and the SDK ([tool.mypy]).
lint: setup
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run lint-imports
	$(UV) run mypy

# Fails on a known vulnerability in a package uv.lock pins (scripts/audit_dependencies.py).
audit: setup
	$(UV) export --frozen --no-hashes --format requirements-txt --no-emit-workspace --quiet \
		> $(TOOLS)/audit-requirements.txt
	$(UV) run python scripts/audit_dependencies.py $(TOOLS)/audit-requirements.txt
