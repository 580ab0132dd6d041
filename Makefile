# The single command surface. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
-include .env
export

UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
WAREHOUSE_DIR := $(or $(CROSSWIND_WAREHOUSE_DIR),$(CURDIR)/warehouse)
export DAGSTER_HOME ?= $(WAREHOUSE_DIR)/dagster_home
DG := $(UV) run --frozen dg
DBT := $(UV) run --frozen dbt

.PHONY: install run demo dev test lint manifest sample docs bench

$(UV):
	python3 -m pip install --quiet --user uv==0.13.8

install: $(UV)
	$(UV) sync --frozen --compile-bytecode
	@mkdir -p $(DAGSTER_HOME)
	@$(MAKE) --no-print-directory manifest

## dbt parse only when a dbt file is newer than the manifest (a parse costs ~5 s). The inputs
## are those of manifest_is_stale() in orchestration/defs/transform/project.py.
DBT_INPUTS := $(wildcard dbt_project/*.yml) $(shell cd dbt_project && find models macros tests \
	seeds snapshots analyses -type f -printf 'dbt_project/%p\n' 2>/dev/null)
manifest: dbt_project/target/manifest.json
dbt_project/target/manifest.json: $(DBT_INPUTS)
	cd dbt_project && CROSSWIND_WAREHOUSE_DIR=$(WAREHOUSE_DIR) $(DBT) parse --quiet --project-dir . --profiles-dir .
	@touch $@

## Materialize everything once (CROSSWIND_SOURCE picks live / replay / sample).
run: install
	$(DG) launch --job refresh_job

## The same job offline on the bundled synthetic sample (warehouse/sample/).
demo: export CROSSWIND_SOURCE = sample
demo: export DAGSTER_HOME = $(CURDIR)/warehouse/sample/dagster_home
demo: install
	@mkdir -p $(DAGSTER_HOME)
	$(DG) launch --job refresh_job

## The Dagster UI on http://127.0.0.1:3000
dev: install
	$(DG) dev --host 127.0.0.1 --port 3000

## Cold build, daily refresh, pandas baseline, 10x scale, BI latency (~15 min): bench/README.md
bench: install
	$(UV) run --frozen python -m bench.run

test: install
	$(UV) run --frozen pytest -q

## ruff, then sqlfluff on every dbt model (.sqlfluff: dbt templater, DuckDB dialect; ~20-40 s).
## The dbt templater lints compiled nodes (it skips macro files by design) and only compiles:
## it gets an empty throwaway warehouse folder, never yours.
lint: install
	$(UV) run --frozen ruff check orchestration tests bench
	$(UV) run --frozen ruff format --check orchestration tests bench
	@lint_dir=$$(mktemp -d) && trap 'rm -rf "$$lint_dir"' EXIT && \
	  CROSSWIND_WAREHOUSE_DIR=$$lint_dir DBT_TARGET_PATH=$$lint_dir/target DBT_LOG_PATH=$$lint_dir/logs \
	  $(UV) run --frozen --isolated --only-group lint sqlfluff lint dbt_project/models --processes 2

## Regenerate the synthetic sample (deterministic).
sample: install
	$(UV) run --frozen python -m orchestration.sample.generate

## dbt docs as one offline HTML file: docs/dbt/index.html (reads the build warehouse).
docs: install
	@mkdir -p docs/dbt
	cd dbt_project && CROSSWIND_WAREHOUSE_DIR=$(WAREHOUSE_DIR) $(DBT) docs generate --static \
	  --project-dir . --profiles-dir . --target-path $(CURDIR)/dbt_project/target/docs
	cp dbt_project/target/docs/static_index.html docs/dbt/index.html
