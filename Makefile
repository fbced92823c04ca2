# dbx — build, test, install. `make` builds ./dbx; `make test` runs every test;
# `make demo` shows dbx at work. Missing Debian packages are installed first
# by scripts/setup.sh (as root), so both work on a fresh machine.

PREFIX  ?= /usr/local
CC      ?= cc
VERSION := 0.1.0
PKGS    := lua5.4 libuv libcurl libcrypto libcjson libarchive yaml-0.1
SAN     ?= 0

BUILD   := build$(if $(filter 1,$(SAN)),-san,)
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP \
           -DDBX_VERSION='"$(VERSION)"' $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libcurl and libarchive are opened at run time (dlopen) by core/engine.c and
# core/tarmem.c, only when they are used
LDLIBS  += $(shell pkg-config --libs $(filter-out libcurl libarchive,$(PKGS)) 2>/dev/null) -ldl -lm
ifeq ($(SAN),1)
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined \
           -DDBX_FREE_ALL
LDFLAGS += -fsanitize=address,undefined
endif

MODULES := util map envfile hash yaml statcache glob ignore graph key store proc sched term recipe graphcache sshbridge engine image imagebuild images plan build container execstream tarmem watch dev regauth push gen
LUA_SRC := $(wildcard lua/dbx/*.lua lua/dbx/*/*.lua) $(wildcard recipes/*.lua)
OBJS    := $(MODULES:%=$(BUILD)/%.o) $(BUILD)/embedded.o
UNIT    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))

.PHONY: all setup test test-unit test-e2e test-valgrind test-san soak demo install clean bench fuzz fuzz-setup
all: dbx dbx-init

# Installs missing Debian packages and Python test tools; quiet when all is there.
setup:
	@scripts/setup.sh

# copy then rename: a dbx still running keeps its old file, and this one lands anyway
dbx: $(BUILD)/dbx
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/dbx: $(BUILD)/main.o $(BUILD)/libdbx.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libdbx.a: $(OBJS)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/%.o: core/%.c | $(BUILD)
	$(CC) $(CFLAGS) -c -o $@ $<

# The PID 1 of dev images: static, so it runs in any base image.
dbx-init: $(BUILD)/dbx-init
	cp $< $@.tmp && mv -f $@.tmp $@

$(BUILD)/dbx-init: init/dbx-init.c | $(BUILD)
	$(CC) -O2 -std=c11 -Wall -Wextra -Werror -static -s -o $@ $<

$(BUILD)/embed: tools/embed.c | $(BUILD)
	$(CC) -O2 -o $@ $<

# dbx dev copies dbx-init and the zygote into dev containers, so dbx carries them
EMBED_INIT := $(wildcard init/zygote.py)
$(BUILD)/embedded.c: $(BUILD)/embed $(LUA_SRC) $(EMBED_INIT) $(BUILD)/dbx-init
	$(BUILD)/embed $@ $(foreach f,$(LUA_SRC) $(EMBED_INIT),$(f)=$(f)) init/dbx-init=$(BUILD)/dbx-init

$(BUILD)/embedded.o: $(BUILD)/embedded.c
	$(CC) $(CFLAGS) -Wno-overlength-strings -c -o $@ $<

$(BUILD):
	mkdir -p $(BUILD)/tests

# One cmocka program per module; the archive lets each link only what it uses.
$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libdbx.a
	$(CC) $(CFLAGS) -iquote core $(shell pkg-config --cflags cmocka) $(LDFLAGS) -o $@ $^ \
	  $(shell pkg-config --libs cmocka) $(LDLIBS)

# this test writes a hostile tar with libarchive itself
$(BUILD)/tests/test_tarmem: LDLIBS += -larchive

test-unit: setup $(UNIT) $(BUILD)/dbx-init
	@fail=0; for t in $(UNIT); do \
	  ( cd $(BUILD)/tests && ./$$(basename $$t) ) || fail=1; \
	done; exit $$fail

# The unit tests under valgrind's memcheck: any error or leak fails.
VALGRIND = valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible \
           --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99
test-valgrind: setup $(UNIT) $(BUILD)/dbx-init
	@command -v valgrind >/dev/null || { echo "valgrind is missing (apt-get install valgrind)"; exit 1; }
	@fail=0; for t in $(UNIT); do \
	  echo "valgrind $$(basename $$t)"; \
	  ( cd $(BUILD)/tests && $(VALGRIND) ./$$(basename $$t) >/dev/null ) || { echo "  FAILED: $$t"; fail=1; }; \
	done; exit $$fail

# The end-to-end tests need the container engine: scripts/with-engine.sh starts
# the private one when none answers (and stops it after), and builds the
# stand-in base images. Nothing is pulled (DBX_PULL=never).
test-e2e: setup $(BUILD)/dbx
	DBX=$(CURDIR)/$(BUILD)/dbx DBX_PULL=never scripts/with-engine.sh python3 -m pytest -q -p no:cacheprovider tests/e2e

# The unit tests and the end-to-end tests that need no image build, with dbx
# built with AddressSanitizer and UndefinedBehaviorSanitizer (build-san/).
SAN_E2E := test_cli.py test_bad_input.py test_quoting.py test_schedule.py test_incremental.py test_init.py \
           test_security.py test_ssh_engine.py
test-san: setup
	$(MAKE) SAN=1 test-unit build-san/dbx
	DBX=$(CURDIR)/build-san/dbx DBX_PULL=never scripts/with-engine.sh python3 -m pytest -q -p no:cacheprovider \
	  $(SAN_E2E:%=tests/e2e/%)

test: test-unit test-valgrind test-san test-e2e

# Long runs, not part of `make test`: SIGINT and SIGKILL at random moments of a
# two-service build, SOAK_TRIALS times each, with what each trial checks
# printed and a table at the end (tests/soak/interrupt.py).
SOAK_TRIALS ?= 20
soak: setup $(BUILD)/dbx
	DBX=$(CURDIR)/$(BUILD)/dbx scripts/with-engine.sh python3 tests/soak/interrupt.py --trials $(SOAK_TRIALS)

# Builds the LabLink example's prod image, starts it, asks it for /health and
# removes it; the engine is left running for more (scripts/engine.sh stop).
demo: setup dbx
	DBX_KEEP_ENGINE=1 DBX_PULL=never scripts/with-engine.sh scripts/demo.sh

# libFuzzer targets (clang, installed by `scripts/setup.sh fuzz`): each runs
# FUZZ_SECONDS from the seeds in tests/fuzz/corpus/NAME, growing a working
# corpus in build-fuzz/; a crash stops make and is left in build-fuzz/crash-*.
FUZZ_SECONDS ?= 30
FUZZERS := ignore store recipe graphcache engine
FUZZ_CFLAGS = -g -O1 -std=c11 -D_GNU_SOURCE -DDBX_FREE_ALL -fsanitize=fuzzer-no-link,address,undefined \
              $(shell pkg-config --cflags $(PKGS))
build-fuzz/%.o: core/%.c
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -c -o $@ $<
build-fuzz/embedded.o: $(BUILD)/embedded.c
	@mkdir -p build-fuzz
	clang $(FUZZ_CFLAGS) -c -o $@ $<
build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(MODULES:%=build-fuzz/%.o) build-fuzz/embedded.o
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer -iquote core -o $@ $^ $(LDLIBS)

.SECONDARY: $(MODULES:%=build-fuzz/%.o) build-fuzz/embedded.o
fuzz-setup:
	@scripts/setup.sh fuzz

fuzz: fuzz-setup $(FUZZERS:%=build-fuzz/fuzz_%)
	@for f in $(FUZZERS); do \
	  mkdir -p build-fuzz/corpus-$$f; \
	  echo "fuzz_$$f: $(FUZZ_SECONDS) s"; \
	  build-fuzz/fuzz_$$f -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    -artifact_prefix=$(CURDIR)/build-fuzz/crash-$$f- $(CURDIR)/build-fuzz/corpus-$$f \
	    $(CURDIR)/tests/fuzz/corpus/$$f 2>&1 \
	    | grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|==|SUMMARY|Done)' || true; \
	  ls build-fuzz/crash-$$f-* >/dev/null 2>&1 && { echo "fuzz_$$f found a crash: build-fuzz/crash-$$f-*"; exit 1; }; \
	done; true

bench: dbx
	bench/noop

install: dbx dbx-init
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 dbx $(DESTDIR)$(PREFIX)/bin/dbx
	install -m 755 dbx-init $(DESTDIR)$(PREFIX)/bin/dbx-init

clean:
	rm -rf build build-san build-fuzz dbx dbx-init

-include $(OBJS:.o=.d) $(BUILD)/main.d
