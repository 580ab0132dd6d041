# The single command surface. `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
# `.env` is not read by make (its `include` cut `KEY=ab#cd$efg` at the `#`): targets that need
# the settings start through orchestration/lib/envfile.py, which parses it with python-dotenv as
# Dagster does, resolves the warehouse folder and DAGSTER_HOME, and creates the latter.
# Recipes never paste a path into the shell: they run in the repository root with relative
# paths (relative settings resolve there too), and the uv path travels quoted in the
# environment, so spaces and quotes in either are harmless.

UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
export CW_UV := $(UV)
RUN := "$$CW_UV" run --frozen
WITH_ENV := $(RUN) python -m orchestration.lib.envfile

.PHONY: install run demo dev dev-demo test lint manifest sample docs bench rehearse

## uv is fetched once when missing (not a make target: its path may hold spaces).
install:
	@command -v "$$CW_UV" >/dev/null || python3 -m pip install --quiet --user uv==0.13.8
	"$$CW_UV" sync --frozen --compile-bytecode
	@$(MAKE) --no-print-directory manifest

## dbt parse only when a dbt file is newer than the manifest (a parse costs ~5 s). The inputs
## are those of manifest_is_stale() in orchestration/defs/transform/project.py.
DBT_INPUTS := $(wildcard dbt_project/*.yml) $(shell cd dbt_project && find models macros tests \
	seeds snapshots analyses -type f -printf 'dbt_project/%p\n' 2>/dev/null)
manifest: dbt_project/target/manifest.json
dbt_project/target/manifest.json: $(DBT_INPUTS)
	$(WITH_ENV) -- dbt parse --quiet --project-dir dbt_project --profiles-dir dbt_project
	@touch dbt_project/target/manifest.json

## Materialize everything once (CROSSWIND_SOURCE picks live / replay / sample): one line per
## step, then a summary; the full log in <warehouse>/logs/ (orchestration/lib/launch.py).
run: install
	$(WITH_ENV) -- crosswind run

## The same job offline on the bundled synthetic sample (warehouse/sample/).
demo: install
	$(WITH_ENV) --set CROSSWIND_SOURCE=sample -- crosswind run

## The live job against loopback fakes of every service, answering recorded bodies (README,
## "Live mode"), into warehouse/rehearsal/; no internet needed. WIRE_DIR / SNAPSHOT_DIR choose.
export CW_WIRE_DIR := $(or $(WIRE_DIR),../shared/wire)
export CW_SNAPSHOT_DIR := $(or $(SNAPSHOT_DIR),../shared/snapshot)
rehearse: install
	$(RUN) crosswind rehearse --wire "$$CW_WIRE_DIR" --snapshot "$$CW_SNAPSHOT_DIR"

## The Dagster UI (+ daemon: schedule, failure sensor) on http://127.0.0.1:$(PORT), with .env
## applied; Ctrl-C or SIGTERM stops every process it started (orchestration/lib/devserver.py).
PORT ?= 3000
dev: install
	$(WITH_ENV) -- crosswind dev --host 127.0.0.1 --port "$(PORT)"

## The UI on the demo's warehouse (warehouse/sample/): browse what `make demo` built.
dev-demo: install
	$(WITH_ENV) --set CROSSWIND_SOURCE=sample -- crosswind dev --host 127.0.0.1 --port "$(PORT)"

## Cold build, daily refresh, pandas baseline, 10x scale, BI latency on both backends (~18 min):
## bench/README.md
bench: install
	$(WITH_ENV) -- python -m bench.run

## Tests set their own environment: .env is not applied.
test: install
	$(RUN) pytest -q

## ruff, then sqlfluff on every dbt model (.sqlfluff: dbt templater, DuckDB dialect; ~20-40 s).
## The dbt templater lints compiled nodes (it skips macro files by design) and only compiles:
## it gets an empty throwaway warehouse folder, never yours.
lint: install
	$(RUN) ruff check orchestration tests bench
	$(RUN) ruff format --check orchestration tests bench
	@lint_dir=$$(mktemp -d) && trap 'rm -rf "$$lint_dir"' EXIT && \
	  CROSSWIND_WAREHOUSE_DIR=$$lint_dir DBT_TARGET_PATH=$$lint_dir/target DBT_LOG_PATH=$$lint_dir/logs \
	  $(RUN) --isolated --only-group lint sqlfluff lint dbt_project/models --processes 2

## Regenerate the synthetic sample (deterministic).
sample: install
	$(RUN) python -m orchestration.sample.generate

## dbt docs as one offline HTML file: docs/dbt/index.html (reads the build warehouse).
docs: install
	@mkdir -p docs/dbt
	$(WITH_ENV) -- dbt docs generate --static --project-dir dbt_project \
	  --profiles-dir dbt_project --target-path target/docs
	cp dbt_project/target/docs/static_index.html docs/dbt/index.html
