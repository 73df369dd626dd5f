# SPDX-License-Identifier: GPL-2.0
#
# kvmem top-level build. Everything is built under build/.
#
#   make             (= make all) kvmem.ko for KDIR (build/module/), libaccel,
#                    the in-VM test programs, the example, kvmemd, kvmemctl
#   make module      kvmem.ko for KDIR into build/module/kvmem.ko; KDIR
#                    defaults to the running kernel's build dir, else the 6.1
#                    test kernel's (it says which it uses)
#   make modules-all kvmem.ko for both test kernels, W=1, build/kmod-KVER/
#   make libaccel    libaccel.so.1, libaccel.a and libaccel.pc (build/libaccel/)
#   make example     build/accel-example (host) and build/vm/accel-example
#   make cuda-emu    the CUDA Driver API emulation and its tests (needs cuda.h)
#   make check       install what is missing, build, run every test (unit,
#                    style, both kernels' W=1 builds, the in-VM suite on 6.1
#                    and 6.12); last line: "N passed, N failed"
#   make check-packages  the Debian packages (built, lintian, unpacked) and
#                    DKMS builds for both test kernels, loaded in the VM
#   make bench       benchmarks in the VM, figures in build/bench/results.json
#                    (with kvmem-serve's serving figures, plots and
#                    build/bench/serving-report.md)
#   make kvmemd      build/kvmemd, the scheduling daemon (daemon/)
#   make kvmemctl    build/kvmemctl, the admin tool (tools/kvmemctl/)
#   make kernels     kernels/: CUDA fatbin (built, not run here), the
#                    vectorization check, build/attn-bench (host bench)
#   make demo        boot a test kernel and run tools/accel-example in it:
#                    sequences decoded through libaccel, attention checked
#   make install     [DESTDIR=...] [PREFIX=/usr/local] libaccel, <linux/kvmem.h>,
#                    man pages, udev rule, modprobe.d/modules-load.d examples,
#                    the DKMS source tree (/usr/src), kvmemd/kvmemctl if built
#                    (and /etc/kvmem/kvmemd.conf unless present), the binding
#   make install-libaccel [DESTDIR=...] [PREFIX=/usr/local] libaccel only
#   make python      the Python binding (python/) into build/python/kvmem
#   make install-python [DESTDIR=...] [PYTHONDIR=...] the binding only
#   make deps        install the Debian packages the above need (root)
#   make clean       remove build/
#   make help        this text

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
# make module's kernel: KDIR, else the running kernel's, else 6.1's.
KDIR_RUNNING := $(wildcard /lib/modules/$(shell uname -r)/build)
KDIR      ?= $(firstword $(KDIR_RUNNING) $(wildcard /lib/modules/$(K61)/build))

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
KERNEL_SRC := kernels/attention_ref.c kernels/attention.c
KERNEL_HDR := kernels/attention_ref.h kernels/attention.h
EXAMPLE_SRC := tools/accel-example.c $(KERNEL_SRC)
EXAMPLE_CFLAGS := $(ACCEL_CFLAGS) -Ikernels
VM_PARAMS  := reserve_mib=16
BENCH_PARAMS := reserve_mib=96

# The demo's kernel: 6.12, else 6.1.
DEMO_KVER  := $(firstword $(K612) $(K61))

.PHONY: check-packages install install-uapi install-man install-dist install-dkms install-daemon
.PHONY: python python-san install-python
.PHONY: all module modules-all unit vm-bins libaccel install-libaccel kvmemd \
	example kernels cuda-emu kvmemctl check check-run deps bench bench-run demo demo-run \
	clean help FORCE

all: module vm-bins libaccel example kvmemd kvmemctl

help:
	@sed -n '3,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

# Prerequisite of rules that must always run; after all: so that all is the
# default goal.
FORCE:

deps:
	@tools/install-deps.sh

# ---- kernel module ---------------------------------------------------------

# make module: a copy of the sources under build/module/, built there, so
# that nothing is written into the source tree.
MODULE_DIR := $(BUILD)/module

module:
	@test -n "$(KDIR)" || { echo "make module: no kernel build dir" \
		"(/lib/modules/$$(uname -r)/build missing): make deps, or" \
		"KDIR=/lib/modules/VERSION/build"; exit 1; }
	@test -d "$(KDIR)" || { echo "make module: KDIR=$(KDIR) does not exist"; exit 1; }
	@echo "make module: building kvmem.ko for kernel" \
		"$(patsubst /lib/modules/%/build,%,$(patsubst %/,%,$(KDIR)))" \
		"(KDIR=$(KDIR)$(if $(filter $(KDIR),$(KDIR_RUNNING)),, - not the running kernel $(shell uname -r))) into $(MODULE_DIR)/"
	@mkdir -p $(MODULE_DIR) && rm -rf $(MODULE_DIR)/kmod $(MODULE_DIR)/uapi
	@cp -r Kbuild kmod uapi $(MODULE_DIR)/
	$(MAKE) -C $(KDIR) M=$(CURDIR)/$(MODULE_DIR) modules

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

# cuda.h only for the test that checks libaccel/cuda_abi.h against it and
# for the emulation: NVIDIA's toolkit (/usr/local/cuda), else Debian's
# nvidia-cuda-dev (non-free, /usr/include); tools/install-deps.sh checks.
CUDA_INC  ?= $(firstword $(patsubst %/cuda.h,%,$(wildcard \
		/usr/local/cuda/include/cuda.h /usr/include/cuda.h)) \
		/usr/local/cuda/include)

$(BUILD)/unit/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -idirafter $(CUDA_INC) -O2 -o $@ $< $(ACCEL_SRC) \
		$(KERNEL_SRC) -ldl -lm

$(BUILD)/unit-san/accel_%: tests/accel/test_%.c $(ACCEL_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -idirafter $(CUDA_INC) -O1 $(SAN) -o $@ $< \
		$(ACCEL_SRC) $(KERNEL_SRC) -ldl -lm

# kvmemd's policy core (plain C, no I/O); tests/daemon/test_X.c -> daemon_X,
# plainly and under ASan+UBSan (below, with the daemon's files).
POLICY_SRC  := daemon/policy.c daemon/heap.c
POLICY_DEPS := $(POLICY_SRC) daemon/policy.h daemon/heap.h tests/daemon/sim.h \
	tests/unit/unit.h

# The policy's decision cost, on the host (make bench runs it).
$(BUILD)/policy-bench: daemon/policy_bench.c $(POLICY_SRC) daemon/policy.h daemon/heap.h
	$(CC) $(CSTD) $(CWARN) -O2 -Idaemon -o $@ $< $(POLICY_SRC) -lm

# kvmemd: the daemon. Its libraries (Debian: libsystemd-dev, libinih-dev,
# libjson-c-dev, libmicrohttpd-dev) through pkg-config.
KVMEMD_PKGS   := libsystemd inih json-c libmicrohttpd
KVMEMD_LIBSRC := $(POLICY_SRC) daemon/config.c daemon/ctl.c daemon/device.c \
	daemon/metrics.c daemon/ctl_sock.c daemon/log.c
KVMEMD_HDR    := $(wildcard daemon/*.h) uapi/linux/kvmem.h
KVMEMD_CFLAGS  = $(CSTD) $(CWARN) -Idaemon -Iuapi $(shell pkg-config --cflags $(KVMEMD_PKGS))
KVMEMD_LIBS    = $(shell pkg-config --libs $(KVMEMD_PKGS)) -lm

$(BUILD)/kvmemd: daemon/kvmemd.c $(KVMEMD_LIBSRC) $(KVMEMD_HDR)
	@mkdir -p $(@D)
	$(CC) $(KVMEMD_CFLAGS) -O2 -o $@ daemon/kvmemd.c $(KVMEMD_LIBSRC) $(KVMEMD_LIBS)

# The same daemon under ASan+UBSan, for the control-socket fuzz test.
$(BUILD)/kvmemd-san: daemon/kvmemd.c $(KVMEMD_LIBSRC) $(KVMEMD_HDR)
	@mkdir -p $(@D)
	$(CC) $(KVMEMD_CFLAGS) -O1 $(SAN) -o $@ daemon/kvmemd.c $(KVMEMD_LIBSRC) $(KVMEMD_LIBS)

kvmemd: $(BUILD)/kvmemd

# kvmemctl, the admin tool (tools/kvmemctl/): json-c as kvmemd, ncurses
# for top (Debian: libncurses-dev).
KVMEMCTL_SRC  := $(wildcard tools/kvmemctl/*.c)
KVMEMCTL_DEPS := $(KVMEMCTL_SRC) $(wildcard tools/kvmemctl/*.h) uapi/linux/kvmem.h
KVMEMCTL_CFLAGS = $(CSTD) $(CWARN) -Iuapi $(shell pkg-config --cflags json-c ncurses)
KVMEMCTL_LIBS   = $(shell pkg-config --libs json-c ncurses) -lm

$(BUILD)/kvmemctl: $(KVMEMCTL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(KVMEMCTL_CFLAGS) -O2 -o $@ $(KVMEMCTL_SRC) $(KVMEMCTL_LIBS)

# The same under ASan+UBSan, for make check's host test of it.
$(BUILD)/kvmemctl-san: $(KVMEMCTL_DEPS)
	@mkdir -p $(@D)
	$(CC) $(KVMEMCTL_CFLAGS) -O1 $(SAN) -o $@ $(KVMEMCTL_SRC) $(KVMEMCTL_LIBS)

kvmemctl: $(BUILD)/kvmemctl

# Its tests link the daemon's files but its main (kvmemd.c).
$(BUILD)/unit/daemon_%: tests/daemon/test_%.c $(POLICY_DEPS) $(KVMEMD_LIBSRC) $(KVMEMD_HDR)
	@mkdir -p $(@D)
	$(CC) $(KVMEMD_CFLAGS) -O2 -o $@ $< $(KVMEMD_LIBSRC) $(KVMEMD_LIBS)

$(BUILD)/unit-san/daemon_%: tests/daemon/test_%.c $(POLICY_DEPS) $(KVMEMD_LIBSRC) $(KVMEMD_HDR)
	@mkdir -p $(@D)
	$(CC) $(KVMEMD_CFLAGS) -O1 $(SAN) -o $@ $< $(KVMEMD_LIBSRC) $(KVMEMD_LIBS)

# The serving benchmark's plain-C parts (tools/serve/);
# tests/serve/test_X.c -> serve_X, plainly and under ASan+UBSan.
SERVE_UNIT_SRC := tools/serve/trace.c
SERVE_UNIT_DEPS := $(SERVE_UNIT_SRC) $(wildcard tools/serve/*.h) tests/unit/unit.h

$(BUILD)/unit/serve_%: tests/serve/test_%.c $(SERVE_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CWARN) -O2 -Itools/serve -o $@ $< $(SERVE_UNIT_SRC) -lm

$(BUILD)/unit-san/serve_%: tests/serve/test_%.c $(SERVE_UNIT_DEPS)
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(CWARN) -O1 $(SAN) -Itools/serve -o $@ $< $(SERVE_UNIT_SRC) -lm

# kvmem-serve, the serving benchmark (tools/serve/, serving-bench.md): on
# the host (three paged policies; kvmem needs the module) and static for
# the guest (all four; make bench and the serve_* VM tests run it).
SERVE_SRC := $(wildcard tools/serve/*.c)
SERVE_DEPS := $(SERVE_SRC) $(wildcard tools/serve/*.h) $(ACCEL_SRC) $(ACCEL_HDR) \
	$(KERNEL_SRC) $(KERNEL_HDR)

$(BUILD)/kvmem-serve: $(SERVE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -Ikernels -Itools/serve -O2 -o $@ $(SERVE_SRC) \
		$(ACCEL_SRC) $(KERNEL_SRC) -ldl -lm

# The same under ASan+UBSan, for make check's host run of the paged policies.
$(BUILD)/kvmem-serve-san: $(SERVE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) -Ikernels -Itools/serve -O1 $(SAN) -o $@ $(SERVE_SRC) \
		$(ACCEL_SRC) $(KERNEL_SRC) -ldl -lm

$(BUILD)/vm/kvmem-serve: $(SERVE_DEPS)
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) $(ACCEL_STATIC) -Ikernels -Itools/serve -O2 -static \
		-o $@ $(SERVE_SRC) $(ACCEL_SRC) $(KERNEL_SRC) -lm

unit: $(addprefix $(BUILD)/unit/,$(UNIT)) $(addprefix $(BUILD)/unit-san/,$(UNIT))

# The CUDA Driver API emulation, libcuda.so.1, and its tests (tests/cuda-emu/),
# plainly and with the emulation and the test under ASan+UBSan. Tests load it
# with dlopen("libcuda.so.1") and LD_LIBRARY_PATH=build/cuda-emu[-san].
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
# The fairness figures run the VM tests' three-tenant engines (fair_load.c).
$(BUILD)/vm/kvmem-bench: $(BENCH_SRC) tools/bench/bench.h $(ACCEL_SRC) $(ACCEL_HDR) \
	$(KERNEL_SRC) $(KERNEL_HDR) tests/vm/fair_load.c tests/vm/fair_load.h
	@mkdir -p $(@D)
	$(CC) $(ACCEL_CFLAGS) $(ACCEL_STATIC) -Ikernels -Itests/vm -O2 -static -o $@ \
		$(BENCH_SRC) tests/vm/fair_load.c $(ACCEL_SRC) $(KERNEL_SRC) -lm

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
	$(BUILD)/vm/accel-example $(BUILD)/vm/kvmem-serve

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

# The archive fully static programs link (the guest's): no run-time loading.
$(BUILD)/libaccel-static/libaccel.a: $(ACCEL_SRC) $(ACCEL_HDR)
	@mkdir -p $(@D)/obj
	@set -e; for f in $(ACCEL_SRC); do \
		$(CC) $(ACCEL_CFLAGS) $(ACCEL_STATIC) -O2 -fvisibility=hidden -c $$f \
			-o $(@D)/obj/$$(basename $$f .c).o; done
	rm -f $@ && ar rcs $@ $(@D)/obj/*.o

# Rebuilt when PREFIX changes (the file records it).
$(BUILD)/libaccel/libaccel.pc: libaccel/libaccel.pc.in FORCE
	@mkdir -p $(@D)
	sed 's|@VERSION@|$(ACCEL_VERSION)|; s|@PREFIX@|$(PREFIX)|; s|@LIBDIR@|$(LIBDIR)|' $< > $@

PREFIX ?= /usr/local
# A package sets LIBDIR to its multiarch directory (debian/rules does).
LIBDIR ?= $(PREFIX)/lib

# Installs libaccel under $(DESTDIR)$(PREFIX): library, header, pkg-config.
install-libaccel: libaccel
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/include
	install -m 0755 $(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libaccel.so.$(ACCEL_VERSION) $(DESTDIR)$(LIBDIR)/libaccel.so.1
	ln -sf libaccel.so.1 $(DESTDIR)$(LIBDIR)/libaccel.so
	install -m 0644 $(BUILD)/libaccel/libaccel.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 libaccel/accel.h $(DESTDIR)$(PREFIX)/include/
	install -m 0644 $(BUILD)/libaccel/libaccel.pc $(DESTDIR)$(LIBDIR)/pkgconfig/

libaccel: $(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION) \
	$(BUILD)/libaccel/libaccel.a $(BUILD)/libaccel/libaccel.pc

# ---- install -------------------------------------------------------------------
#
# make install [DESTDIR=...] [PREFIX=/usr/local]: everything that exists:
# libaccel, <linux/kvmem.h>, man pages, the udev rule, modprobe.d and
# modules-load.d examples (commented out: they change nothing until
# edited), the DKMS source tree, and kvmemd, its unit file and kvmemctl
# when they have been built. Files outside PREFIX (udev, modprobe.d, the
# DKMS tree, the unit) go where the system reads them; override the
# directories below for a package (debian/rules does).

KVMEM_VERSION  := 0.1.0
SYSCONFDIR     ?= /etc
UDEVRULESDIR   ?= $(SYSCONFDIR)/udev/rules.d
MODPROBEDIR    ?= $(SYSCONFDIR)/modprobe.d
MODLOADDIR     ?= $(SYSCONFDIR)/modules-load.d
DKMSSRCDIR     ?= /usr/src/kvmem-$(KVMEM_VERSION)
SYSTEMDUNITDIR ?= /lib/systemd/system
MANDIR         ?= $(PREFIX)/share/man
SBINDIR        ?= $(PREFIX)/sbin
# Hooks for the daemon and the admin tool: installed when built.
KVMEMD_BIN     ?= $(BUILD)/kvmemd
KVMEMD_UNIT    ?= daemon/kvmemd.service
KVMEMCTL_BIN   ?= $(BUILD)/kvmemctl
MAN_PAGES      := $(wildcard man/*.[1-8])

install: install-libaccel install-uapi install-man install-dist install-dkms \
	install-daemon install-python

install-uapi:
	install -d $(DESTDIR)$(PREFIX)/include/linux
	install -m 0644 uapi/linux/kvmem.h $(DESTDIR)$(PREFIX)/include/linux/

install-man:
	@set -e; for m in $(MAN_PAGES); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		echo "install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/"; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

install-dist:
	install -d $(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(MODPROBEDIR) \
		$(DESTDIR)$(MODLOADDIR)
	install -m 0644 dist/udev/60-kvmem.rules $(DESTDIR)$(UDEVRULESDIR)/
	install -m 0644 dist/modprobe.d/kvmem.conf $(DESTDIR)$(MODPROBEDIR)/
	install -m 0644 dist/modules-load.d/kvmem.conf $(DESTDIR)$(MODLOADDIR)/

# The module's sources as DKMS wants them: dkms.conf, Kbuild, kmod/, uapi/.
install-dkms:
	install -d $(DESTDIR)$(DKMSSRCDIR)/kmod $(DESTDIR)$(DKMSSRCDIR)/uapi/linux
	install -m 0644 Kbuild $(DESTDIR)$(DKMSSRCDIR)/
	install -m 0644 $(wildcard kmod/*.c kmod/*.h) $(DESTDIR)$(DKMSSRCDIR)/kmod/
	install -m 0644 uapi/linux/kvmem.h $(DESTDIR)$(DKMSSRCDIR)/uapi/linux/
	sed 's|@VERSION@|$(KVMEM_VERSION)|g' dist/dkms/dkms.conf.in \
		> $(DESTDIR)$(DKMSSRCDIR)/dkms.conf

install-daemon:
	@set -e; \
	if [ -x $(KVMEMD_BIN) ]; then \
		install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(SYSTEMDUNITDIR); \
		install -m 0755 $(KVMEMD_BIN) $(DESTDIR)$(SBINDIR)/kvmemd; \
		install -m 0644 $(KVMEMD_UNIT) $(DESTDIR)$(SYSTEMDUNITDIR)/; \
		install -d $(DESTDIR)$(SYSCONFDIR)/kvmem; \
		[ -e $(DESTDIR)$(SYSCONFDIR)/kvmem/kvmemd.conf ] || \
			install -m 0644 daemon/kvmemd.conf.example \
				$(DESTDIR)$(SYSCONFDIR)/kvmem/kvmemd.conf; \
	else echo "install: no $(KVMEMD_BIN) (not built): kvmemd skipped"; fi; \
	if [ -x $(KVMEMCTL_BIN) ]; then \
		install -d $(DESTDIR)$(SBINDIR); \
		install -m 0755 $(KVMEMCTL_BIN) $(DESTDIR)$(SBINDIR)/kvmemctl; \
	else echo "install: no $(KVMEMCTL_BIN) (not built): kvmemctl skipped"; fi

# ---- the Python binding (python/, Documentation/python.md) ------------------
#
# kvmem._accel for Debian's /usr/bin/python3, with libaccel compiled in
# (only PyInit__accel exported): build/python/kvmem/, which PYTHONPATH=
# build/python imports. PYTHONDIR: where make install puts the package.
PY3        ?= /usr/bin/python3
PY_INC     := $(shell $(PY3) -c 'import sysconfig; print(sysconfig.get_paths()["include"])' 2>/dev/null)
PY_EXT     := $(shell $(PY3) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))' 2>/dev/null)
PYTHONDIR  ?= /usr/lib/python3/dist-packages
PY_PKG     := $(BUILD)/python/kvmem
PY_SRC     := python/_accel.c $(ACCEL_SRC)
PY_DEPS    := $(PY_SRC) $(ACCEL_HDR) python/_accel.map
PY_FILES   := $(wildcard python/kvmem/*.py python/kvmem/*.pyi)
PY_CFLAGS   = $(ACCEL_CFLAGS) -I$(PY_INC) -fPIC -fvisibility=hidden -shared \
	-Wl,--version-script=python/_accel.map

$(PY_PKG)/_accel$(PY_EXT): $(PY_DEPS)
	@test -n "$(PY_INC)" && test -f "$(PY_INC)/Python.h" || { echo \
		"make python: no Python.h for $(PY3): make deps (python3-dev)"; exit 1; }
	@mkdir -p $(@D)
	$(CC) $(PY_CFLAGS) -O2 -o $@ $(PY_SRC) -ldl

# The same under ASan+UBSan (run with libasan preloaded: tools/check.sh).
$(BUILD)/python-san/kvmem/_accel$(PY_EXT): $(PY_DEPS)
	@mkdir -p $(@D)
	$(CC) $(PY_CFLAGS) -O1 $(SAN) -o $@ $(PY_SRC) -ldl

$(BUILD)/python/kvmem/.copied $(BUILD)/python-san/kvmem/.copied: $(PY_FILES)
	@mkdir -p $(@D)
	cp $(PY_FILES) $(@D)/ && touch $@

python: $(PY_PKG)/_accel$(PY_EXT) $(PY_PKG)/.copied

python-san: $(BUILD)/python-san/kvmem/_accel$(PY_EXT) $(BUILD)/python-san/kvmem/.copied

install-python: python
	install -d $(DESTDIR)$(PYTHONDIR)/kvmem
	install -m 0644 $(PY_FILES) $(DESTDIR)$(PYTHONDIR)/kvmem/
	install -m 0644 $(PY_PKG)/_accel$(PY_EXT) $(DESTDIR)$(PYTHONDIR)/kvmem/

# ---- the example ---------------------------------------------------------------

# Linked as an engine links libaccel: fully statically for the guest, which
# has no libc, against the no-dlopen archive (any linker warning, such as
# glibc's static-dlopen one, fails the link); against libaccel.so for the
# host, found next to it.
$(BUILD)/vm/accel-example: $(EXAMPLE_SRC) $(KERNEL_HDR) $(BUILD)/libaccel-static/libaccel.a
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -O2 -static -Wl,--fatal-warnings -o $@ \
		$(EXAMPLE_SRC) $(BUILD)/libaccel-static/libaccel.a -lm

$(BUILD)/accel-example: $(EXAMPLE_SRC) $(KERNEL_HDR) \
		$(BUILD)/libaccel/libaccel.so.$(ACCEL_VERSION)
	$(CC) $(EXAMPLE_CFLAGS) -O2 -o $@ $(EXAMPLE_SRC) -L$(BUILD)/libaccel \
		-laccel -Wl,-rpath,'$$ORIGIN/libaccel' -lm

example: $(BUILD)/accel-example $(BUILD)/vm/accel-example

# ---- kernels (kernels/, Documentation/kernels.md) ---------------------------

# The CUDA kernels: built, never run here (no GPU). sm_90 code plus compute_90
# PTX, which newer GPUs compile at load time. The rule fails if an entry
# point an engine looks up with cuModuleGetFunction is missing.
NVCC           ?= /usr/local/cuda/bin/nvcc
KERNELS_FATBIN := $(BUILD)/kernels/kvmem_kernels.fatbin
KERNELS_CU_ENTRIES := kvmem_attn_decode_f32 kvmem_attn_decode_f16 \
	kvmem_attn_decode_paged_f32 kvmem_attn_decode_paged_f16 kvmem_copy_blocks

$(KERNELS_FATBIN): kernels/attention.cu
	@mkdir -p $(@D)
	$(NVCC) -std=c++14 -O3 -Werror all-warnings -fatbin \
		-gencode arch=compute_90,code=sm_90 \
		-gencode arch=compute_90,code=compute_90 -o $@.tmp $<
	@for e in $(KERNELS_CU_ENTRIES); do grep -aq "$$e" $@.tmp || \
		{ echo "$@: no entry point $$e"; exit 1; }; done
	@mv $@.tmp $@

# Every loop marked /* VEC */ in attention.c vectorizes, in both builds.
$(BUILD)/kernels/vec-report.txt: kernels/attention.c $(KERNEL_HDR) tools/check-vec.sh
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -O3 -fopt-info-vec-optimized=$@.tmp -c \
		-o $(@D)/attention.o $<
	tools/check-vec.sh $@.tmp && mv $@.tmp $@

# The attention benchmark on the host (bench_attn.c; in the VM it is part
# of kvmem-bench).
$(BUILD)/attn-bench: tools/bench/bench_attn.c tools/bench/pairs.c \
	tools/bench/bench.h $(KERNEL_SRC) $(KERNEL_HDR) libaccel/layout.c \
	libaccel/layout.h
	@mkdir -p $(@D)
	$(CC) $(EXAMPLE_CFLAGS) -O2 -DATTN_BENCH_HOST -o $@ \
		tools/bench/bench_attn.c tools/bench/pairs.c $(KERNEL_SRC) \
		libaccel/layout.c -lm

kernels: $(KERNELS_FATBIN) $(BUILD)/kernels/vec-report.txt $(BUILD)/attn-bench

# ---- tests -------------------------------------------------------------------

check: deps
	@$(MAKE) --no-print-directory check-run

check-run:
	@tools/check.sh "$(K61)" "$(K612)" "$(VM_PARAMS)"

# Slower than make check wants (a minute or two each here): the Debian
# packages built, lintian-clean and unpacked into a scratch root; DKMS
# builds of the module for both test kernels, each loaded in the VM.
check-packages: deps
	@tools/check-deb.sh
	@set -e; for k in $(KVERS); do tools/check-dkms.sh $$k "$(VM_PARAMS)"; done

bench: deps
	@$(MAKE) --no-print-directory bench-run

bench-run: modules-all $(BUILD)/vm/kvmem-bench $(BUILD)/vm/accel-calls-bench \
	$(BUILD)/vm/kvmem-serve \
	$(BUILD)/cuda-emu/libcuda.so.1 $(BUILD)/policy-bench $(BUILD)/kvmemd
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
