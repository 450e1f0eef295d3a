# SPDX-License-Identifier: GPL-2.0
# Build with Debian bookworm packages: clang, bpftool, libbpf-dev, libelf-dev, zlib1g-dev.
# SANITIZE=1: an ASan+UBSan build, ./gcbpf-asan from .output-asan (the normal build untouched).
# make fuzz FUZZ_TIME=SECONDS: every libFuzzer target in fuzz/ (clang, libfuzzer-14-dev).
ifeq ($(SANITIZE),1)
OUTPUT := .output-asan
BIN := gcbpf-asan
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer
else
OUTPUT := .output
BIN := gcbpf
SAN_FLAGS :=
endif
CLANG ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL ?= $(or $(shell command -v bpftool 2>/dev/null),/usr/sbin/bpftool)
ARCH ?= $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VMLINUX_H ?= vmlinux/$(ARCH)/vmlinux.h
PREFIX ?= /usr/local
DESTDIR ?=

LIBBPF_CFLAGS ?= $(shell pkg-config --cflags libbpf 2>/dev/null)
LIBBPF_LIBS ?= $(or $(shell pkg-config --libs libbpf 2>/dev/null),-lbpf)
LIBS := $(LIBBPF_LIBS) -lelf -lz -lcapstone -llzma
# --prometheus: libmicrohttpd (Debian libmicrohttpd-dev); percentiles: libm.
LIBS += -lmicrohttpd -lpthread -lm
# gcbpf top: ncurses (Debian libncurses-dev).
LIBS += -lncursesw
# gcbpf report and compare read saved traces: json-c (Debian libjson-c-dev).
LIBS += -ljson-c

CFLAGS ?= -g -O2
# Needed whatever CFLAGS says (make CFLAGS=... keeps them).
REQ_CFLAGS := -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wundef \
	      -Wno-unused-parameter -Wno-format-truncation -std=gnu11 -D_GNU_SOURCE -MMD -MP \
	      $(SAN_FLAGS)
ALL_CFLAGS = $(CFLAGS) $(REQ_CFLAGS)
INCLUDES := -I$(OUTPUT) -Ibpf -Iuser $(LIBBPF_CFLAGS)
BPF_CFLAGS := $(BPF_EXTRA) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_$(ARCH) \
	      -I$(dir $(VMLINUX_H)) -Ibpf

# user/: main() (gcbpf.c) and one folder per layer (docs/layout.md).
USER_SRCS := $(wildcard user/*.c user/*/*.c)
USER_OBJS := $(patsubst user/%.c,$(OUTPUT)/%.o,$(USER_SRCS))
# Everything but main(): the unit tests link against it.
LIB_OBJS := $(filter-out $(OUTPUT)/gcbpf.o,$(USER_OBJS))
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
ifeq ($(V),1)
Q =
msg =
else
Q = @
endif
MAKEFLAGS += --no-print-directory

.PHONY: all clean install test check bench vmlinux format fuzz fuzz-build
all: $(BIN)

$(OUTPUT) $(OUTPUT)/tests:
	$(Q)mkdir -p $@

$(OUTPUT)/gcbpf.bpf.o: bpf/gcbpf.bpf.c $(wildcard bpf/*.h) $(VMLINUX_H) | $(OUTPUT)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@ && $(LLVM_STRIP) -g $@

$(OUTPUT)/gcbpf.skel.h: $(OUTPUT)/gcbpf.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)test -x "$(BPFTOOL)" || { echo "make: bpftool not found: apt-get install bpftool, or pass BPFTOOL=PATH" >&2; exit 1; }
	$(Q)$(BPFTOOL) gen skeleton $< name gcbpf_bpf > $@

# The skeleton is generated before any user object is compiled.
$(USER_OBJS): | $(OUTPUT)/gcbpf.skel.h

$(OUTPUT)/%.o: user/%.c | $(OUTPUT)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(ALL_CFLAGS) $(INCLUDES) -c $< -o $@

$(BIN): $(USER_OBJS)
	$(call msg,BINARY,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $^ $(LIBS) -o $@

$(OUTPUT)/tests/%: tests/unit/%.c $(LIB_OBJS) | $(OUTPUT)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) $(INCLUDES) $(filter %.c %.o,$^) $(LIBS) -o $@

# Unit tests: no root, no BPF.
test: $(UNIT_BINS)
	$(Q)bash tests/unit/run.sh $(UNIT_BINS)

# Everything, as CI runs it (installs its own dependencies, needs root).
check:
	$(Q)bash tests/run.sh

bench: gcbpf
	$(Q)bash scripts/bench.sh

# libFuzzer targets: the library objects again, instrumented (clang only).
FUZZ_OUT := .output/fuzz
FUZZ_TIME ?= 60
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	       -fno-omit-frame-pointer \
	       $(filter-out -MMD -MP -Wno-format-truncation $(SAN_FLAGS),$(REQ_CFLAGS))
FUZZ_SRCS := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(FUZZ_OUT)/obj/%.o,$(filter-out user/gcbpf.c,$(USER_SRCS)))

$(FUZZ_OUT)/obj:
	$(Q)mkdir -p $@

$(FUZZ_OUT)/obj/%.o: user/%.c $(wildcard user/*/*.h) $(OUTPUT)/gcbpf.skel.h | $(FUZZ_OUT)/obj
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(INCLUDES) -c $< -o $@

$(FUZZ_OUT)/fuzz_%: fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZ,$@)
	$(Q)$(CLANG) $(subst fuzzer-no-link,fuzzer,$(FUZZ_CFLAGS)) $(INCLUDES) $^ $(LIBS) -o $@

fuzz-build: $(FUZZ_BINS)

# Each target FUZZ_TIME seconds, two at a time; fails on any finding.
fuzz: fuzz-build
	$(Q)bash fuzz/run.sh $(FUZZ_OUT) $(FUZZ_TIME)

vmlinux:
	$(call msg,GEN,$(VMLINUX_H))
	$(Q)mkdir -p $(dir $(VMLINUX_H))
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

# Debian's layout (policy, FHS): a daemon in sbin, the unit in the systemd
# system unit directory (bookworm: /lib), data in share/gcbpf, the service's
# options in /etc/default.  debian/rules runs `make install PREFIX=/usr`.
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMD_UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
install: gcbpf
	install -D -m 0755 gcbpf $(DESTDIR)$(PREFIX)/sbin/gcbpf
	install -D -m 0644 gcbpf.8 $(DESTDIR)$(PREFIX)/share/man/man8/gcbpf.8
	install -D -m 0644 completion/gcbpf.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/gcbpf
	install -d $(DESTDIR)$(PREFIX)/share/gcbpf/scripts
	install -m 0755 scripts/*.bt $(DESTDIR)$(PREFIX)/share/gcbpf/scripts/
	install -m 0644 contrib/prometheus/gcbpf.rules.yml contrib/grafana/gcbpf-dashboard.json \
		$(DESTDIR)$(PREFIX)/share/gcbpf/
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSCONFDIR)/default
	sed 's|/usr/sbin/gcbpf|$(PREFIX)/sbin/gcbpf|' contrib/systemd/gcbpf-exporter.service \
		> $(DESTDIR)$(SYSTEMD_UNITDIR)/gcbpf-exporter.service
	install -m 0644 contrib/systemd/gcbpf-exporter.default $(DESTDIR)$(SYSCONFDIR)/default/gcbpf-exporter

format:
	clang-format -i user/*.c user/*/*.[ch] bpf/*.c bpf/*.h

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf .output .output-asan gcbpf gcbpf-asan

-include $(wildcard $(OUTPUT)/*.d $(OUTPUT)/*/*.d $(OUTPUT)/tests/*.d)

.DELETE_ON_ERROR:
.SECONDARY:
