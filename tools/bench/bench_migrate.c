// SPDX-License-Identifier: GPL-2.0
/*
 * Migration benchmarks of kvmem-bench. A 64 MiB space moves between node 0
 * (tier dram) and node 1 (the guest's CPU-less node, tier cxl).
 *
 *  migrate_vs_memcpy: KVMEM_IOC_MIGRATE throughput, from the ioctl to the
 *	completion event, against one copy (8-byte words) of the same bytes between
 *	buffers bound to the same two nodes. The memcpy is also the physical
 *	limit: the copy cannot go faster than the memory can.
 *  migrate_vs_blocks: the same migration against the same bytes moved as
 *	vLLM's swap moves them: one copy per 16-token block per layer, each
 *	32 KiB (16 tokens x 8 KV heads x 128 dims x fp16), in block-table
 *	order (scattered). On a GPU each of those copies also pays a
 *	cudaMemcpyAsync submission (5-7 us); here only the copies are timed,
 *	so the baseline is kinder than the real one.
 *  round_trip_reuse: a switch out and back in (two KEEP_COPY migrations)
 *	with no write in between, where both directions find clean copies,
 *	against the same round trip without clean copies (both directions
 *	copy). Lower is better; the event's bytes_copied must be 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/kvmem.h>

#include "bench.h"

#define MPOL_BIND_	2
#define BLOCK_BYTES	(32UL * 1024UL)

/*
 * The copy loop of the baselines: 8-byte loads and stores, four at a
 * time, the way the kernel's memcpy() copies on CPUs without fast "rep
 * movsb" (the guest's CPU). Under emulation, glibc's vector memcpy and
 * "rep movsb" run at very different speeds from the kernel's loop; the
 * same loop on both sides keeps the comparison about memory and
 * mechanism, not about how an emulator runs an instruction set.
 */
__attribute__((optimize("no-tree-vectorize")))
void copy_bytes(void *dst, const void *src, size_t len)
{
	uint64_t *d = dst;
	const uint64_t *s = src;
	size_t n = len / 32;

	while (n--) {
		uint64_t a = s[0], b = s[1], c = s[2], e = s[3];

		d[0] = a;
		d[1] = b;
		d[2] = c;
		d[3] = e;
		d += 4;
		s += 4;
	}
}

/* Anonymous memory bound to @node and faulted in. */
char *node_buf(size_t len, int node)
{
	unsigned long mask = 1UL << node;
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	if (syscall(SYS_mbind, p, len, MPOL_BIND_, &mask, 8 * sizeof(mask), 0))
		die("mbind");
	memset(p, 0x5a, len);
	return p;
}

/* Migrates all of a space and waits for its event; returns microseconds. */
double migrate(uint32_t handle, uint64_t pages, uint32_t tier,
		      uint32_t flags, struct kvmem_event *ev)
{
	struct kvmem_migrate m = {
		.handle = handle, .count = pages, .tier = tier, .flags = flags,
	};
	double t0 = now_us();

	if (ioctl(kvmem_fd, KVMEM_IOC_MIGRATE, &m))
		die("MIGRATE");
	if (read(kvmem_fd, ev, sizeof(*ev)) != (ssize_t)sizeof(*ev))
		die("read event");
	if (ev->status) {
		errno = -ev->status;
		die("migration event");
	}
	return now_us() - t0;
}

void bench_migrate(void)
{
	size_t len = SIZE_MIB * MIB, nblocks = len / BLOCK_BYTES, i;
	uint64_t pages = len / page_size;
	double kv[2 * ROUNDS], cp[ROUNDS], blk[ROUNDS], rt[ROUNDS], rc[ROUNDS];
	double mt[ROUNDS], ct[ROUNDS], bt[ROUNDS];
	size_t *order = malloc(nblocks * sizeof(*order));
	char *a = node_buf(len, 0), *b = node_buf(len, 1);
	struct kvmem_range rg = { .count = pages };
	struct kvmem_event ev;
	uint64_t copied = 0;
	uint32_t h;
	char *s;
	int r;

	if (!order)
		die("malloc");
	/* A block table's order: a fixed pseudo-random permutation. */
	for (i = 0; i < nblocks; i++)
		order[i] = i;
	for (i = nblocks - 1; i > 0; i--) {
		size_t j = (i * 2654435761UL) % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}

	s = kvmem_map(len, &h);
	rg.handle = h;
	if (ioctl(kvmem_fd, KVMEM_IOC_POPULATE, &rg))
		die("POPULATE");
	memset(s, 0x3c, len);

	for (r = 0; r < ROUNDS; r++) {
		double t0;

		kv[2 * r] = migrate(h, pages, KVMEM_TIER_CXL, 0, &ev) / SIZE_MIB;
		kv[2 * r + 1] = migrate(h, pages, KVMEM_TIER_DRAM, 0, &ev) /
				SIZE_MIB;

		t0 = now_us();
		copy_bytes(b, a, len);
		cp[r] = (now_us() - t0) / SIZE_MIB;

		t0 = now_us();
		for (i = 0; i < nblocks; i++)
			copy_bytes(b + order[i] * BLOCK_BYTES,
				   a + order[i] * BLOCK_BYTES, BLOCK_BYTES);
		blk[r] = (now_us() - t0) / SIZE_MIB;

		/* Round trips: copying both ways, then reusing both ways. */
		rc[r] = (migrate(h, pages, KVMEM_TIER_CXL, 0, &ev) +
			 migrate(h, pages, KVMEM_TIER_DRAM, 0, &ev)) / SIZE_MIB;
		migrate(h, pages, KVMEM_TIER_CXL, KVMEM_MIGRATE_KEEP_COPY, &ev);
		migrate(h, pages, KVMEM_TIER_DRAM, KVMEM_MIGRATE_KEEP_COPY, &ev);
		rt[r] = migrate(h, pages, KVMEM_TIER_CXL,
				KVMEM_MIGRATE_KEEP_COPY, &ev);
		copied += ev.bytes_copied;
		rt[r] += migrate(h, pages, KVMEM_TIER_DRAM,
				 KVMEM_MIGRATE_KEEP_COPY, &ev);
		copied += ev.bytes_copied;
		rt[r] /= SIZE_MIB;
		/* Drop the copies: the next round starts without any. */
		migrate(h, pages, KVMEM_TIER_CXL, 0, &ev);
		migrate(h, pages, KVMEM_TIER_DRAM, 0, &ev);
	}
	if (copied)
		fprintf(stderr, "round trips with clean copies copied %llu bytes\n",
			(unsigned long long)copied);

	/* Per round: the mean of the two directions against the copies. */
	for (r = 0; r < ROUNDS; r++) {
		mt[r] = 2e6 / (kv[2 * r] + kv[2 * r + 1]);
		ct[r] = 1e6 / cp[r];
		bt[r] = 1e6 / blk[r];
	}
	report_paired("migrate_vs_memcpy", "MiB/s", mt, ct, ROUNDS,
		      "memcpy node0->node1", 1e6 / median(cp, ROUNDS),
		      "memcpy between the nodes", "higher", SIZE_MIB);
	report_paired("migrate_vs_blocks", "MiB/s", mt, bt, ROUNDS,
		      "32 KiB per-block copies, block-table order",
		      1e6 / median(cp, ROUNDS), "memcpy between the nodes",
		      "higher", SIZE_MIB);
	report_paired("round_trip_reuse", "us/MiB", rt, rc, ROUNDS,
		      "round trip that copies both ways", 0, "no copy at all",
		      "lower", SIZE_MIB);
	if (copied)
		exit(1);

	kvmem_unmap(s, len, h);
	munmap(a, len);
	munmap(b, len);
	free(order);
}
