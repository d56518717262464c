# The README's commands. Each builds .venv first if it is absent (or pyproject.toml changed).
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
QUICK := --profile workflow/profiles/local --configfile config/quick.yaml
# The torch requirement of the install step (pip arguments). The default is the build this
# project is tested with (a CPU wheel); on a CUDA machine name the wheel that matches it, e.g.
#   make test TORCH="torch==2.5.1+cu121 --index-url https://download.pytorch.org/whl/cu121"
# It applies when .venv is built: remove .venv to switch builds.
TORCH ?= torch==2.13.0

.PHONY: help run test ui lint

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	# torch first, pinned (TORCH above): an exact version or index, never a range, which
	# would download a multi-GB CUDA build on a CPU machine.
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

run: $(INSTALLED)  ## the quick study end to end (minutes on a 2-core CPU)
	@date +%s > .run-started
	$(BIN)/snakemake $(QUICK)
	@echo
	@echo "Quick study: $$(( ($$(date +%s) - $$(cat .run-started)) / 60 )) min $$(( ($$(date +%s) - $$(cat .run-started)) % 60 )) s after setup (Snakemake only; jobs already done are skipped)"
	@rm -f .run-started
	@echo
	@echo "Claims (results/quick/tables/claims.md; a verdict only where the evidence covers the claim):"
	@$(BIN)/python -m csft.report.claims results/quick/tables/claims.csv
	@echo
	@echo "Tables:  results/quick/tables/ (forecast, classify, ablation, features, claims: .md and .csv)"
	@echo "Figures: results/quick/figures/ (png + pdf)"
	@echo "Report:  $(BIN)/snakemake --report results/quick/report.html --configfile config/quick.yaml"
	@echo "Runs:    make ui   # MLflow UI on http://127.0.0.1:5000"

test: $(INSTALLED)  ## the whole test suite
	$(BIN)/pytest

ui: $(INSTALLED)  ## MLflow UI, bound to loopback only
	$(BIN)/mlflow ui --backend-store-uri sqlite:///results/mlflow.db --host 127.0.0.1 --port 5000

lint: $(INSTALLED)  ## ruff, snakefmt and snakemake --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/snakemake --lint --cores 1

help:  ## this list (the default target stays the install step)
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-5s %s\n", $$1, $$2}' $(MAKEFILE_LIST)
