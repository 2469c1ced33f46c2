# lead_process: PGXS build.  PG_CONFIG=/path/to/pg_config make
EXTENSION  = lead_process
EXTVERSION = $(shell grep default_version $(EXTENSION).control | sed "s/.*'\(.*\)'/\1/")
MODULE_big = lead_process
OBJS = \
	src/lead_process.o \
	src/lp_cache.o \
	src/lp_calcore.o \
	src/lp_calendar.o \
	src/lp_condition.o \
	src/lp_metrics.o \
	src/lp_score.o \
	src/lp_sla.o \
	src/lp_route.o \
	src/lp_rowbuf.o \
	src/lp_stage.o \
	src/lp_worker.o

DATA = $(wildcard sql/lead_process--*.sql)
PGFILEDESC = "lead_process - lead scoring, stages, recycling and SLAs"

# Server headers as system headers: -Wextra then judges our code only.
PG_CPPFLAGS = -Isrc -isystem $(shell $(PG_CONFIG) --includedir-server)
# CI and developers add LP_CFLAGS="-Werror -DUSE_ASSERT_CHECKING"
PG_CFLAGS = -Wall -Wextra $(LP_CFLAGS)

REGRESS = install stage_machine statuses recycle errors privileges conditions fit_score scoring scoring_time scoring_deferred events routing row_security calendar sla metrics upgrade
REGRESS_OPTS = --temp-instance=./tmp_check_regress --temp-config=test/lead_process.conf
ISOLATION = stage_race config_cache events score_race deferred_score ingest_races handoff_race calendar_cache sla_sweep_race metrics_rollup
ISOLATION_OPTS = --inputdir=test --outputdir=test/output_iso \
	--temp-instance=./tmp_check_iso --temp-config=test/lead_process.conf
TAP_TESTS = 1
PROVE_TESTS = test/t/*.pl

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: a struct changed in a header must
# rebuild every object, or objects built against the old layout disagree
$(OBJS): $(wildcard src/*.h)

# The user documentation goes to its own directory under the shared
# extension doc directory, so that generic names cannot clash.
install: install-lp-docs
uninstall: uninstall-lp-docs
.PHONY: install-lp-docs uninstall-lp-docs
install-lp-docs:
	$(MKDIR_P) '$(DESTDIR)$(docdir)/extension/lead_process'
	$(INSTALL_DATA) README.md $(wildcard docs/*.md) '$(DESTDIR)$(docdir)/extension/lead_process/'
uninstall-lp-docs:
	rm -rf '$(DESTDIR)$(docdir)/extension/lead_process'

EXTRA_CLEAN = tmp_check_regress tmp_check_iso test/output_iso results regression.diffs regression.out

# pgTAP suites, against a running server (PG* environment variables)
.PHONY: pgtap
pgtap:
	pg_prove --failures test/pgtap/*.sql

# Benchmarks, against a running server (PG* environment variables)
.PHONY: bench-stage
bench-stage:
	bash bench/stage_machine.sh

# Scoring benchmark: starts its own throwaway server (bench/README.md)
.PHONY: bench-scoring
bench-scoring:
	bash bench/scoring.sh

# Server-side cost of one single-row activity INSERT and of scoring it later
# (bench/README.md)
.PHONY: bench-insert-cost
bench-insert-cost:
	bash bench/insert_cost.sh

# Business-time benchmark: starts its own throwaway server (bench/README.md)
.PHONY: bench-sla
bench-sla:
	bash bench/sla.sh

# The condition language under libFuzzer (through a throwaway server) and
# random SQL with sqlsmith: FUZZ_SECONDS (default 60), SQLSMITH_QUERIES
# (default 20000)
.PHONY: fuzz-conditions sqlsmith
fuzz-conditions:
	bash test/fuzz/conditions.sh $(or $(FUZZ_SECONDS),60)
sqlsmith:
	bash test/fuzz/sqlsmith.sh $(or $(SQLSMITH_QUERIES),20000)

# Mixed CRM soak with invariant checks: starts its own throwaway server;
# SOAK_SECONDS (default 180), SOAK_CLIENTS (default 8)
.PHONY: soak
soak:
	bash bench/soak.sh $(or $(SOAK_SECONDS),180) $(or $(SOAK_CLIENTS),8)

# Unit test and fuzzer of the business-time core (test/calendar/Makefile);
# the fuzzer needs clang with libFuzzer
.PHONY: check-calendar fuzz-calendar
check-calendar:
	$(MAKE) -C test/calendar check
fuzz-calendar:
	$(MAKE) -C test/calendar fuzz FUZZ_SECONDS=$(or $(FUZZ_SECONDS),60)

# Metrics benchmark: starts its own throwaway server (bench/README.md);
# LEADS=... sets the scale (default 10 million)
.PHONY: bench-metrics
bench-metrics:
	bash bench/metrics.sh
