# SPDX-License-Identifier: GPL-2.0
#
# kvmem top-level build.
#
#   make             kvmem.ko for KDIR, and the user-space programs
#   make check       install what is missing, build, run every test (unit,
#                    style, both kernels' W=1 builds, the in-VM suite on 6.1
#                    and 6.12); last line: "N passed, N failed"
#   make bench       benchmarks in the VM, figures in build/bench/results.json
#   make libaccel    libaccel.so.1, libaccel.a and libaccel.pc
#   make install-libaccel [DESTDIR=...] [PREFIX=/usr/local]
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
ACCEL_CFLAGS := $(CSTD) $(CWARN) -Iuapi -Ilibaccel -I/usr/include/libdrm -pthread
ACCEL_VERSION := 1.0.0
# Fully static programs (the guest's) cannot dlopen: libaccel is built for
# them without its run-time loading (no cuda backend, no libdrm/libnuma).
ACCEL_STATIC := -DACCEL_NO_DLOPEN
KERNEL_SRC := kernels/attention_ref.c
KERNEL_HDR := kernels/attention_ref.h
EXAMPLE_SRC := tools/accel-example.c $(KERNEL_SRC)
EXAMPLE_CFLAGS := $(ACCEL_CFLAGS) -Ikernels
VM_PARAMS  := reserve_mib=16
BENCH_PARAMS := reserve_mib=96

# The demo's kernel: 6.12, else 6.1.
DEMO_KVER  := $(firstword $(K612) $(K61))

FORCE:

.PHONY: all module modules-all unit vm-bins libaccel install-libaccel \
	example cuda-emu check check-run deps bench bench-run demo demo-run \
	clean help FORCE

all: module vm-bins libaccel example

help:
	@sed -n '3,16p' Makefile

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

# cuda.h only for the test that checks libaccel/cuda_abi.h against it.
CUDA_INC  := /usr/local/cuda/include

$(BUILD)/unit/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -idirafter $(CUDA_INC) -O2 -o $@ $< $(ACCEL_SRC) \
		$(KERNEL_SRC) -ldl -lm

$(BUILD)/unit-san/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -idirafter $(CUDA_INC) -O1 $(SAN) -o $@ $< \
		$(ACCEL_SRC) $(KERNEL_SRC) -ldl -lm

unit: $(addprefix $(BUILD)/unit/,$(UNIT)) $(addprefix $(BUILD)/unit-san/,$(UNIT))

# The CUDA Driver API emulation, libcuda.so.1, and its tests (tests/cuda-emu/),
# plainly and with the emulation and the test under ASan+UBSan. Tests load it
# with dlopen("libcuda.so.1") and LD_LIBRARY_PATH=build/cuda-emu[-san].
CUDA_INC       ?= /usr/local/cuda/include
CUEMU_SRC      := $(wildcard tests/cuda-emu/emu_*.c)
CUEMU_DEPS     := $(CUEMU_SRC) tests/cuda-emu/emu_internal.h \
		  tests/cuda-emu/cuemu.h tests/cuda-emu/libcuda.map
CUEMU_TEST_SRC := $(wildcard tests/cuda-emu/test_*.c)
CUEMU_TEST_DEPS := $(CUEMU_TEST_SRC) tests/cuda-emu/test_cuemu.h \
		  tests/cuda-emu/cuemu.h
CUEMU_DIRS     := $(BUILD)/cuda-emu $(BUILD)/cuda-emu-san
CUEMU_CFLAGS_cuda-emu     := -O2
CUEMU_CFLAGS_cuda-emu-san := -O1 $(SAN) -fno-omit-frame-pointer

# cuGetErrorName's table: the CUresult enumerators of this cuda.h.
$(addsuffix /emu_errnames.h,$(CUEMU_DIRS)): $(CUDA_INC)/cuda.h
	@mkdir -p $(@D)
	sed -n '/^typedef enum cudaError_enum/,/} CUresult;/s/^[[:space:]]*\(CUDA_[A-Z0-9_]*\)[[:space:]]*=.*/EMU_ERR(\1)/p' \
		$< > $@.tmp && test -s $@.tmp && mv $@.tmp $@

$(addsuffix /libcuda.so.1,$(CUEMU_DIRS)): $(BUILD)/%/libcuda.so.1: \
		$(CUEMU_DEPS) $(BUILD)/%/emu_errnames.h
	$(CC) $(CSTD) $(CWARN) $(CUEMU_CFLAGS_$*) -fPIC -pthread -shared \
		-I$(CUDA_INC) -I$(@D) -Wl,-soname,libcuda.so.1 \
		-Wl,--version-script=tests/cuda-emu/libcuda.map \
		-Wl,--no-undefined-version -Wl,-z,defs \
		-o $@ $(CUEMU_SRC)

# The test does not link the emulation; it depends on it to build both.
$(addsuffix /test_cuemu,$(CUEMU_DIRS)): $(BUILD)/%/test_cuemu: \
		$(CUEMU_TEST_DEPS) $(BUILD)/%/libcuda.so.1
	$(CC) $(CSTD) $(CWARN) $(CUEMU_CFLAGS_$*) -pthread -I$(CUDA_INC) \
		-o $@ $(CUEMU_TEST_SRC) -ldl

cuda-emu: $(addsuffix /test_cuemu,$(CUEMU_DIRS))

# Statically linked: the guest has busybox and nothing else.
$(BUILD)/vm/kvmem-vmtest: $(VMTEST_SRC) $(VMTEST_HDR) $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) $(ACCEL_STATIC) -O2 -static -o $@ $(VMTEST_SRC) $(ACCEL_SRC)

# kvmem-bench measures libaccel too: linked in, as for kvmem-vmtest.
$(BUILD)/vm/kvmem-bench: $(BENCH_SRC) tools/bench/bench.h $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) $(ACCEL_STATIC) -O2 -static -o $@ $(BENCH_SRC) $(ACCEL_SRC)

# The backend scenarios, dynamically linked (so that libaccel can dlopen the
# CUDA emulation) and under ASan+UBSan; mkinitramfs.sh copies their libraries.
$(BUILD)/vm/accel-backend-test: tests/accel/backend_test.c $(ACCEL_SRC) $(ACCEL_HDR) tests/cuda-emu/cuemu.h
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O1 $(SAN) -o $@ $< $(ACCEL_SRC) -ldl

# Driver API calls per 1,000 tokens, counted by the CUDA emulation.
$(BUILD)/vm/accel-calls-bench: tools/bench/cuda/accel_calls.c $(ACCEL_SRC) $(ACCEL_HDR) tests/cuda-emu/cuemu.h
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -o $@ $< $(ACCEL_SRC) -ldl

# tools/gpu-check.sh's figures, against the driver or the emulation.
$(BUILD)/gpu/gpu-measure: tools/gpu/gpu_measure.c $(ACCEL_SRC) $(ACCEL_HDR) tests/cuda-emu/cuemu.h
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -o $@ $< $(ACCEL_SRC) -ldl

# The backend scenarios for tools/gpu-check.sh: without the sanitizers, whose
# shadow memory collides with a real driver's address space reservations.
$(BUILD)/gpu/accel-backend-test: tests/accel/backend_test.c $(ACCEL_SRC) $(ACCEL_HDR) tests/cuda-emu/cuemu.h
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -o $@ $< $(ACCEL_SRC) -ldl

# Attention over accel tensors vs cuMemAlloc'ed memory (runs only on a GPU).
$(BUILD)/gpu/gpu-attention: tools/gpu/gpu_attention.c $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -O2 -o $@ $< $(ACCEL_SRC) -ldl -lm

vm-bins: $(BUILD)/vm/kvmem-vmtest $(BUILD)/vm/accel-backend-test \
	$(BUILD)/vm/accel-example

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

# Rebuilt when PREFIX changes (the file records it).
$(BUILD)/libaccel/libaccel.pc: libaccel/libaccel.pc.in FORCE
	@mkdir -p $(@D)
	sed 's|@VERSION@|$(ACCEL_VERSION)|; s|@PREFIX@|$(PREFIX)|' $< > $@

PREFIX ?= /usr/local

# Installs libaccel under $(DESTDIR)$(PREFIX): library, header, pkg-config.
install-libaccel: libaccel
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libaccel.so.$(ACCEL_VERSION) $(DESTDIR)$(PREFIX)/lib/libaccel.so.1
	ln -sf libaccel.so.1 $(DESTDIR)$(PREFIX)/lib/libaccel.so
	install -m 0644 $(BUILD)/libaccel/libaccel.a $(DESTDIR)$(PREFIX)/lib/
	install -m 0644 libaccel/accel.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(BUILD)/libaccel/libaccel.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

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

bench-run: modules-all $(BUILD)/vm/kvmem-bench $(BUILD)/vm/accel-calls-bench \
	$(BUILD)/cuda-emu/libcuda.so.1
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
