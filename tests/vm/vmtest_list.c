// SPDX-License-Identifier: GPL-2.0
/*
 * kvmem-vmtest: the manager's LIST_SPACES / LIST_CLIENTS write only what
 * the caller said its arrays hold (kvmem_list version 2: entry_size,
 * npools; the version-1 rule for callers that know neither). Each buffer
 * is followed by a guard region filled with a pattern that must survive.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmtest.h"

#define GUARD		4096		/* bytes of pattern after each buffer */
#define PAT		0xa5
#define LN		8		/* entries per request here */
#define LP_FS		(2 * MiB)	/* frame size of the added pool */

/* The LIST ioctls as a version-1 caller (56-byte struct) sends them. */
#define LIST_SPACES_V1	_IOC(_IOC_READ | _IOC_WRITE, KVMEM_IOC_MAGIC, \
			     _IOC_NR(KVMEM_IOC_LIST_SPACES), KVMEM_LIST_SIZE_VER1)
#define LIST_CLIENTS_V1	_IOC(_IOC_READ | _IOC_WRITE, KVMEM_IOC_MAGIC, \
			     _IOC_NR(KVMEM_IOC_LIST_CLIENTS), KVMEM_LIST_SIZE_VER1)

/* A buffer of n bytes, then GUARD bytes of pattern (all of it PAT). */
static unsigned char *guarded(size_t n)
{
	unsigned char *b = malloc(n + GUARD);

	if (b)
		memset(b, PAT, n + GUARD);
	return b;
}

/* Whether the guard after n bytes of b is untouched. */
static bool guard_ok(const unsigned char *b, size_t n)
{
	for (size_t i = 0; i < GUARD; i++)
		if (b[n + i] != PAT)
			return false;
	return true;
}

static int pool_add(int fd, uint32_t *index)
{
	struct kvmem_device_pool d = {
		.device = 0x4200, .frame_size = LP_FS, .frames = 4,
		.tier = KVMEM_TIER_HBM,
	};
	int err = kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_ADD, &d);

	*index = d.index;
	return err;
}

static int pool_remove(int fd, uint32_t index)
{
	struct kvmem_device_pool_remove r = { .index = index };

	return kv_ioctl(fd, KVMEM_IOC_DEVICE_POOL_REMOVE, &r);
}

/* A file that is the manager, with one host space; -1 if not (reported). */
static int list_setup(struct kvmem_space_create *c)
{
	struct kvmem_manager mg = { 0 };
	struct kvmem_info info;
	int fd = kv_open();

	if (fd < 0)
		return -1;
	if (!CHECK_ERR(kv_info(fd, &info), 0, "GET_INFO")) {
		close(fd);
		return -1;
	}
	memset(c, 0, sizeof(*c));
	c->size = 4 * info.page_size;
	c->tier = KVMEM_TIER_DRAM;
	c->policy = KVMEM_POLICY_FAIL;
	if (!CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_MANAGER, &mg), 0, "MANAGER") ||
	    !CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_SPACE_CREATE, c), 0,
		       "a space to list")) {
		close(fd);
		return -1;
	}
	return fd;
}

static uint32_t npools_now(int fd)
{
	struct kvmem_info info;

	return kv_info(fd, &info) ? 0 : info.npools;
}

/*
 * The overrun of hardening finding 3: a version-1 caller sizes its pools
 * array from GET_INFO; a DEVICE_POOL_ADD comes before its LIST. The
 * unfixed module wrote count x (new npools) counters, and entries at its
 * own (version-2) stride, past the caller's arrays.
 */
void test_list_overrun(void)
{
	struct kvmem_space_create c;
	const size_t esz[2] = { KVMEM_SPACE_INFO_SIZE_VER1,
				KVMEM_CLIENT_INFO_SIZE_VER1 };
	const unsigned long cmd[2] = { LIST_SPACES_V1, LIST_CLIENTS_V1 };
	const char *name[2] = { "LIST_SPACES", "LIST_CLIENTS" };
	int fd = list_setup(&c);

	if (fd < 0)
		return;
	for (int k = 0; k < 2; k++) {
		/* One entry: arrays sized exactly for it, as a caller does. */
		uint32_t np = npools_now(fd), idx;
		size_t pn = (size_t)(k ? 1 : 2) * np * 8;
		unsigned char *ent = guarded(esz[k]), *pools = guarded(pn);
		struct kvmem_list l = { .max = 1, .entries = (uintptr_t)ent,
					.pools = (uintptr_t)pools };

		if (!CHECK(ent && pools && np, "buffers, npools %u", np) ||
		    !CHECK_ERR(pool_add(fd, &idx), 0, "DEVICE_POOL_ADD after "
			       "GET_INFO")) {
			free(ent);
			free(pools);
			break;
		}
		CHECK_ERR(kv_ioctl(fd, cmd[k], &l), EOVERFLOW, "version-1 %s "
			  "with pools sized for %u pools, one added since "
			  "GET_INFO: EOVERFLOW", name[k], np);
		CHECK(guard_ok(ent, esz[k]) && guard_ok(pools, pn),
		      "%s: nothing written past the %zu-byte entry and the "
		      "%zu bytes of pools", name[k], esz[k], pn);
		CHECK(ent[0] == PAT && pools[0] == PAT, "%s: nothing written",
		      name[k]);
		free(pools);
		/* A fresh GET_INFO: the version-1 call works, at its stride. */
		np = npools_now(fd);
		pn = (size_t)(k ? 1 : 2) * np * 8;
		pools = guarded(pn);
		l = (struct kvmem_list){ .max = 1, .entries = (uintptr_t)ent,
					 .pools = (uintptr_t)pools };
		if (CHECK(pools, "buffer") &&
		    CHECK_ERR(kv_ioctl(fd, cmd[k], &l), 0, "version-1 %s after "
			      "a new GET_INFO (%u pools)", name[k], np)) {
			CHECK_EQ(l.count, 1, "%s: count", name[k]);
			CHECK(guard_ok(ent, esz[k]) && guard_ok(pools, pn),
			      "%s: one %zu-byte entry and %zu bytes of pools, "
			      "nothing after them", name[k], esz[k], pn);
		}
		CHECK_ERR(pool_remove(fd, idx), 0, "REMOVE");
		free(ent);
		free(pools);
	}
	close(fd);
}

/* One version-2 request; the errno. */
static int list2(int fd, bool spaces, uint32_t max, void *ent,
		 uint32_t entry_size, void *pools, uint32_t npools,
		 struct kvmem_list *l)
{
	*l = (struct kvmem_list){
		.max = max, .entries = (uintptr_t)ent, .pools = (uintptr_t)pools,
		.npools = npools, .entry_size = entry_size,
	};
	return kv_ioctl(fd, spaces ? KVMEM_IOC_LIST_SPACES :
			KVMEM_IOC_LIST_CLIENTS, l);
}

/* Each bad entry_size and npools alone; the valid extremes. */
void test_neg_list_sized(void)
{
	struct kvmem_space_create c;
	struct kvmem_list l;
	uint32_t np, id, idx;
	unsigned char *ent, *pools;
	int fd = list_setup(&c);

	if (fd < 0)
		return;
	id = (uint32_t)(c.mmap_offset >> KVMEM_SPACE_SHIFT);
	np = npools_now(fd);
	ent = guarded(KVMEM_LIST_ENTRY_MAX * LN);
	pools = guarded(8 * LN * 2 * KVMEM_LIST_NPOOLS_MAX);
	if (!CHECK(ent && pools, "buffers"))
		goto out;
	for (int k = 0; k < 2; k++) {
		bool sp = !k;
		uint32_t v1 = sp ? KVMEM_SPACE_INFO_SIZE_VER1 :
				   KVMEM_CLIENT_INFO_SIZE_VER1;
		const char *n = sp ? "LIST_SPACES" : "LIST_CLIENTS";
		uint32_t bad[] = { 1, 8, v1 - 8, v1 - 1, v1 + 1, v1 + 4,
				   KVMEM_LIST_ENTRY_MAX + 8, 1U << 31,
				   UINT32_MAX };

		for (size_t i = 0; i < NELEM(bad); i++)
			CHECK_ERR(list2(fd, sp, 1, ent, bad[i], NULL, 0, &l),
				  EINVAL, "%s entry_size %u", n, bad[i]);
		CHECK_ERR(list2(fd, sp, 1, ent, 0, NULL, 8, &l), EINVAL,
			  "%s npools 8 without pools", n);
		CHECK_ERR(list2(fd, sp, 1, ent, 0, pools,
				KVMEM_LIST_NPOOLS_MAX + 1, &l), EINVAL,
			  "%s npools %u (> KVMEM_LIST_NPOOLS_MAX)", n,
			  KVMEM_LIST_NPOOLS_MAX + 1);
		CHECK_ERR(list2(fd, sp, 1, ent, 0, pools, UINT32_MAX, &l),
			  EINVAL, "%s npools UINT32_MAX", n);
		if (np > 1) {
			memset(pools, PAT, 8 * LN * 2 * KVMEM_LIST_NPOOLS_MAX +
			       GUARD);
			memset(ent, PAT, KVMEM_LIST_ENTRY_MAX * LN + GUARD);
			CHECK_ERR(list2(fd, sp, 1, ent, 0, pools, np - 1, &l),
				  EOVERFLOW, "%s npools %u < the module's %u",
				  n, np - 1, np);
			CHECK_EQ(l.npools, np, "%s: EOVERFLOW says the "
				 "module's npools", n);
			CHECK(ent[0] == PAT && pools[0] == PAT,
			      "%s: EOVERFLOW writes nothing", n);
		}
		/* Entry sizes v1, 8 more, the kernel's, the bound. */
		uint32_t good[] = { 0, v1, v1 + 8,
				    sp ? KVMEM_SPACE_INFO_SIZE_VER2 : v1 + 16,
				    KVMEM_LIST_ENTRY_MAX };

		for (size_t i = 0; i < NELEM(good); i++) {
			uint32_t es = good[i] ? good[i] : v1;
			bool zero = true;

			memset(ent, PAT, KVMEM_LIST_ENTRY_MAX * LN + GUARD);
			if (!CHECK_ERR(list2(fd, sp, LN, ent, good[i], NULL, 0,
					     &l), 0, "%s entry_size %u", n,
				       good[i]))
				continue;
			CHECK(l.count >= 1 && guard_ok(ent, l.count * es),
			      "%s entry_size %u: %u entries, nothing after",
			      n, good[i], l.count);
			for (uint32_t e = 0; e < l.count; e++) {
				const unsigned char *p = ent + e * es;
				size_t known = sp ? KVMEM_SPACE_INFO_SIZE_VER2 :
						    KVMEM_CLIENT_INFO_SIZE_VER1;

				for (size_t b = known; b < es; b++)
					zero &= !p[b];
			}
			CHECK(zero, "%s entry_size %u: bytes past the "
			      "kernel's entry are zero", n, good[i]);
		}
		/* npools above the module's: extra columns zero. */
		memset(pools, PAT, 8 * LN * 2 * KVMEM_LIST_NPOOLS_MAX + GUARD);
		if (CHECK_ERR(list2(fd, sp, LN, ent, 0, pools, np + 3, &l), 0,
			      "%s npools %u (3 above the module's)", n,
			      np + 3)) {
			uint64_t *pc = (uint64_t *)pools;
			uint32_t per = sp ? 2 : 1;
			bool zero = true;

			for (uint32_t e = 0; e < l.count * per; e++)
				for (uint32_t p = np; p < np + 3; p++)
					zero &= !pc[(size_t)e * (np + 3) + p];
			CHECK(zero, "%s: the 3 extra columns are zero", n);
			CHECK(guard_ok(pools, (size_t)l.count * per *
				       (np + 3) * 8), "%s: nothing after "
			      "%u x %u columns", n, l.count, per * (np + 3));
		}
		CHECK_ERR(list2(fd, sp, LN, ent, 0, pools,
				KVMEM_LIST_NPOOLS_MAX, &l), 0,
			  "%s npools KVMEM_LIST_NPOOLS_MAX", n);
	}
	/* The version-2 entry of our space, with a pool added at once. */
	if (CHECK_ERR(pool_add(fd, &idx), 0, "ADD")) {
		struct kvmem_space_info si;
		uint64_t pc[2 * KVMEM_LIST_NPOOLS_MAX];

		l = (struct kvmem_list){ .cursor = id, .max = 1,
					 .entries = (uintptr_t)&si,
					 .pools = (uintptr_t)pc, .npools = np,
					 .entry_size = sizeof(si) };
		CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_LIST_SPACES, &l), EOVERFLOW,
			  "npools %u of the last GET_INFO, a pool added since",
			  np);
		CHECK_EQ(l.npools, np + 1, "out: the module's npools");
		l.npools = np + 1;
		CHECK_ERR(kv_ioctl(fd, KVMEM_IOC_LIST_SPACES, &l), 0,
			  "npools %u", np + 1);
		CHECK(l.count == 1 && si.id == id, "our space listed");
		CHECK_ERR(pool_remove(fd, idx), 0, "REMOVE");
	}
out:
	free(ent);
	free(pools);
	close(fd);
}
