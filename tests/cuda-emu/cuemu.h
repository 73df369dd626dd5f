/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cuemu: the test API of the CUDA Driver API emulation (libcuda.so.1 in
 * build/cuda-emu/). Besides the Driver API entry points, the emulation
 * exports two functions that let a test read and reset its counters, so
 * that it can assert what a piece of code cost (how many cuMemCreate, how
 * many bytes copied) and that it broke no rule (misuse == 0).
 *
 * A test that loads the emulation with dlopen() looks them up by name:
 *
 *	cuemu_counts_fn counts = (cuemu_counts_fn)dlsym(h, "cuemu_counts");
 *	struct cuemu_counts c;
 *	counts(&c);
 *
 * Every counter is a uint64_t; see tests/cuda-emu/README.md for what each
 * one counts.
 */
#ifndef CUEMU_H
#define CUEMU_H

#include <stdint.h>

/*
 * X(name): one counter per emulated entry point, counted on every call
 * whatever it returns, even before cuInit.
 */
#define CUEMU_CALL_COUNTERS(X)						\
	X(init) X(driver_get_version) X(get_error_string)		\
	X(get_error_name) X(device_get_count) X(device_get)		\
	X(device_get_attribute) X(device_get_name)			\
	X(device_get_pci_bus_id) X(device_total_mem)			\
	X(primary_ctx_retain) X(primary_ctx_release)			\
	X(ctx_set_current) X(ctx_get_current) X(ctx_synchronize)	\
	X(mem_get_allocation_granularity) X(address_reserve)		\
	X(address_free) X(mem_create) X(mem_release) X(mem_map)		\
	X(mem_unmap) X(mem_set_access) X(mem_get_info)			\
	X(stream_create) X(stream_destroy) X(stream_synchronize)	\
	X(stream_query) X(stream_wait_event)				\
	X(memcpy_htod_async) X(memcpy_dtoh_async)			\
	X(memcpy_dtod_async) X(memcpy_htod) X(memcpy_dtoh)		\
	X(host_register) X(host_unregister)				\
	X(event_create) X(event_record) X(event_query)			\
	X(event_synchronize) X(event_destroy)

/* X(name): what the calls did, and how they were misused. */
#define CUEMU_EVENT_COUNTERS(X)						\
	X(memcpy_async)		/* all three *Async copies */		\
	X(misuse)		/* rule violations, see README */	\
	X(pageable_async_copies) /* async copies of unregistered memory */ \
	X(released_while_mapped) /* cuMemRelease of a mapped handle */	\
	X(bytes_copied)		/* by copies that ran */		\
	X(copies_executed)	/* copies that ran */			\
	X(unsupported)		/* calls or arguments not emulated */

/*
 * X(name): gauges of what exists now. cuemu_reset_counts() leaves them
 * alone, so that a test can assert that everything was given back.
 */
#define CUEMU_GAUGES(X)							\
	X(live_reservations) X(live_handles) X(live_mappings)		\
	X(live_streams) X(live_events) X(live_host_registrations)	\
	X(device_bytes_used)

#define CUEMU_COUNTERS(X)						\
	CUEMU_CALL_COUNTERS(X) CUEMU_EVENT_COUNTERS(X) CUEMU_GAUGES(X)

struct cuemu_counts {
#define CUEMU_FIELD_(name) uint64_t name;
	CUEMU_COUNTERS(CUEMU_FIELD_)
#undef CUEMU_FIELD_
};

/* Copy every counter and gauge into *out. Safe from any thread. */
void cuemu_counts(struct cuemu_counts *out);
/* Zero the counters (not the gauges). */
void cuemu_reset_counts(void);

typedef void (*cuemu_counts_fn)(struct cuemu_counts *out);
typedef void (*cuemu_reset_counts_fn)(void);

#endif /* CUEMU_H */
