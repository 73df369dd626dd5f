# SPDX-License-Identifier: GPL-2.0
#
# kvmem top-level build.
#
#   make             kvmem.ko for KDIR, and the user-space programs
#   make check       install what is missing, build, run every test (unit,
#                    style, both kernels' W=1 builds, the in-VM suite on 6.1
#                    and 6.12); last line: "N passed, N failed"
#   make bench       benchmarks in the VM, figures in build/bench/results.json
#   make demo        boot a test kernel and run tools/accel-example in it:
#                    sequences decoded through libaccel, attention checked
#
# Everything is built under build/.

BUILD     := build
CC        ?= gcc
CSTD      := -std=c11 -D_GNU_SOURCE
CWARN     := -Wall -Wextra -Werror
SAN       := -fsanitize=address,undefined -fno-sanitize-recover=all -g
INC       := -Iuapi -Ikmod

# Test kernels: Debian 12's 6.1 and 6.12 (installed by tools/install-deps.sh).
K61       := $(lastword $(sort $(notdir $(wildcard /lib/modules/6.1.*-amd64))))
K612      := $(lastword $(sort $(notdir $(wildcard /lib/modules/6.12.*-amd64))))
KVERS     := $(K61) $(K612)
KDIR      ?= $(firstword $(wildcard /lib/modules/$(shell uname -r)/build) \
		$(wildcard /lib/modules/$(K61)/build))

KSRC      := Kbuild $(wildcard kmod/*.c kmod/*.h) uapi/linux/kvmem.h
UNIT      := frame_alloc validate
VMTEST_SRC := $(wildcard tests/vm/*.c)
VMTEST_HDR := $(wildcard tests/vm/*.h)
BENCH_SRC  := $(wildcard tools/bench/*.c)
ACCEL_SRC  := $(wildcard libaccel/*.c)
ACCEL_HDR  := $(wildcard libaccel/*.h) uapi/linux/kvmem.h
ACCEL_CFLAGS := $(CSTD) $(CWARN) -Iuapi -Ilibaccel -pthread
ACCEL_VERSION := 1.0.0
KERNEL_SRC := kernels/attention_ref.c
KERNEL_HDR := kernels/attention_ref.h
EXAMPLE_SRC := tools/accel-example.c $(KERNEL_SRC)
EXAMPLE_CFLAGS := $(ACCEL_CFLAGS) -Ikernels
VM_PARAMS  := reserve_mib=16
BENCH_PARAMS := reserve_mib=96

# The demo's kernel: 6.12, else 6.1.
DEMO_KVER  := $(firstword $(K612) $(K61))

.PHONY: all module modules-all unit vm-bins libaccel example check check-run \
	deps bench bench-run demo demo-run clean help

all: module vm-bins libaccel example

help:
	@sed -n '3,14p' Makefile

deps:
	@tools/install-deps.sh

# ---- kernel module ---------------------------------------------------------

module:
	@test -n "$(KDIR)" || { echo "no kernel build dir: make deps, or KDIR=..."; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# One copy of the sources per kernel, so both builds can coexist.
$(BUILD)/kmod-%/kvmem.ko: $(KSRC)
	@rm -rf $(@D) && mkdir -p $(@D)
	@cp -r Kbuild kmod uapi $(@D)/
	$(MAKE) -C /lib/modules/$*/build M=$(CURDIR)/$(@D) W=1 modules \
		> $(@D)/build.log 2>&1 || { cat $(@D)/build.log; exit 1; }

modules-all: $(foreach k,$(KVERS),$(BUILD)/kmod-$(k)/kvmem.ko)

# ---- user space --------------------------------------------------------------

# A unit test tests/unit/test_X.c runs the kernel module's plain-C file
# kmod/X.c in user space, plainly and under ASan+UBSan.
UNIT_DEPS := tests/unit/unit.h kmod/plain.h uapi/linux/kvmem.h

$(BUILD)/unit/%: tests/unit/test_%.c kmod/%.c kmod/%.h $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CWARN) -O2 $(INC) -o $@ $< kmod/$*.c

$(BUILD)/unit-san/%: tests/unit/test_%.c kmod/%.c kmod/%.h $(UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CWARN) -O1 $(SAN) $(INC) -o $@ $< kmod/$*.c

# libaccel's unit tests (tests/accel/test_X.c -> accel_X) link all of it,
# and the reference kernels.
ACCEL_UNIT_DEPS := $(ACCEL_SRC) $(ACCEL_HDR) $(KERNEL_SRC) $(KERNEL_HDR) \
	tests/unit/unit.h

$(BUILD)/unit/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -o $@ $< $(ACCEL_SRC) $(KERNEL_SRC) -ldl -lm

$(BUILD)/unit-san/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O1 $(SAN) -o $@ $< $(ACCEL_SRC) $(KERNEL_SRC) \
		-ldl -lm

unit: $(addprefix $(BUILD)/unit/,$(UNIT)) $(addprefix $(BUILD)/unit-san/,$(UNIT))

# Statically linked: the guest has busybox and nothing else.
$(BUILD)/vm/kvmem-vmtest: $(VMTEST_SRC) $(VMTEST_HDR) $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -static -o $@ $(VMTEST_SRC) $(ACCEL_SRC)

$(BUILD)/vm/kvmem-bench: $(BENCH_SRC) uapi/linux/kvmem.h
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CWARN) -O2 -Iuapi -static -o $@ $(BENCH_SRC)

vm-bins: $(BUILD)/vm/kvmem-vmtest $(BUILD)/vm/accel-example

# ---- libaccel ----------------------------------------------------------------

# Shared (SONAME libaccel.so.1, symbols versioned by libaccel.map), static,
# and a static copy for the guest, which has no libc to link against.
$(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION): $(ACCEL_SRC) $(ACCEL_HDR) libaccel/libaccel.map
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -fPIC -fvisibility=hidden -shared \
		-Wl,-soname,libaccel.so.1 -Wl,--version-script=libaccel/libaccel.map \
		-Wl,-z,defs -o $@ $(ACCEL_SRC) -ldl
	ln -sf libaccel.so.$(ACCEL_VERSION) $(@D)/libaccel.so.1
	ln -sf libaccel.so.1 $(@D)/libaccel.so

$(BUILD)/libaccel/libaccel.a: $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)/obj
	@set -e; for f in $(ACCEL_SRC); do \
		$(CC) $(ACCEL_CFLAGS) -O2 -fvisibility=hidden -c $$f \
			-o $(@D)/obj/$$(basename $$f .c).o; done
	rm -f $@ && ar rcs $@ $(@D)/obj/*.o

$(BUILD)/libaccel/libaccel.pc: libaccel/libaccel.pc.in
	@mkdir -p $(@D)
	sed 's|@VERSION@|$(ACCEL_VERSION)|; s|@PREFIX@|$(PREFIX)|' $< > $@

PREFIX ?= /usr/local

libaccel: $(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION) \
	$(BUILD)/libaccel/libaccel.a $(BUILD)/libaccel/libaccel.pc

# ---- the example ---------------------------------------------------------------

# Linked as an engine links libaccel: statically (libaccel.a) for the guest,
# which has no libc; against libaccel.so for the host, found next to it.
$(BUILD)/vm/accel-example: $(EXAMPLE_SRC) $(KERNEL_HDR) $(BUILD)/libaccel/libaccel.a
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -O2 -static -o $@ $(EXAMPLE_SRC) \
		$(BUILD)/libaccel/libaccel.a -lm

$(BUILD)/accel-example: $(EXAMPLE_SRC) $(KERNEL_HDR) \
		$(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION)
	$(CC) $(EXAMPLE_CFLAGS) -O2 -o $@ $(EXAMPLE_SRC) -L$(BUILD)/libaccel \
		-laccel -Wl,-rpath,'$$ORIGIN/libaccel' -lm

example: $(BUILD)/accel-example $(BUILD)/vm/accel-example

# ---- tests -------------------------------------------------------------------

check: deps
	@$(MAKE) --no-print-directory check-run

check-run:
	@tools/check.sh "$(K61)" "$(K612)" "$(VM_PARAMS)"

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: modules-all $(BUILD)/vm/kvmem-bench
	@tools/bench.sh "$(BENCH_PARAMS)" $(KVERS)

demo: deps
	@$(MAKE) --no-print-directory demo-run

demo-run: $(BUILD)/kmod-$(DEMO_KVER)/kvmem.ko $(BUILD)/vm/accel-example
	@tests/vm/run.sh --kernel /boot/vmlinuz-$(DEMO_KVER) \
		--module $(BUILD)/kmod-$(DEMO_KVER)/kvmem.ko --params "$(VM_PARAMS)" \
		--mode demo --out $(BUILD)/demo $(BUILD)/vm/accel-example

clean:
	rm -rf $(BUILD) *.o *.ko *.mod *.mod.c modules.order Module.symvers \
		.*.cmd kmod/*.o kmod/.*.cmd
