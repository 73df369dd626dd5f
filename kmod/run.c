// SPDX-License-Identifier: GPL-2.0
/*
 * Run states and demand: the mailbox between the manager's scheduler and
 * the engines. The manager sets a space's run state (KVMEM_IOC_SPACE_RUN),
 * the module records it in the space and tells the owning client with a
 * KVMEM_EVENT_RUN on the owner's own file; the owner reports its demand
 * (SPACE_SET with KVMEM_SET_DEMAND), and the manager hears of each change
 * with a KVMEM_EVENT_DEMAND. The module decides nothing: the states are
 * counted (per tenant in sysfs, per client in fdinfo) and reported.
 */
#include <linux/nospec.h>

#include "kvmem.h"
#include "validate.h"

/**
 * kvmem_run_count() - count a space in, or out of, its run state
 * @space: the space, with @space->lock held or not yet visible
 * @delta: 1 to count it in, -1 to count it out
 *
 * The counts are those of the space's tenant (sysfs) and owner (fdinfo).
 */
void kvmem_run_count(struct kvmem_space *space, int delta)
{
	u32 s = array_index_nospec(space->run_state, KVMEM_NR_RUN_STATES);

	atomic_add(delta, &space->tenant->nr_run[s]);
	atomic_add(delta, &space->client->nr_run[s]);
}

/**
 * kvmem_manager_space_run() - KVMEM_IOC_SPACE_RUN
 * @client: the caller
 * @r: the request
 *
 * Records the state in the space and sends its owner one KVMEM_EVENT_RUN,
 * posted under the space's lock so that the owner sees the states in the
 * order the space took them.
 *
 * Return: 0, -EPERM if @client is not the manager, -EINVAL for a bad
 * field, -ENOENT if no live space has the id, or -EINTR.
 */
int kvmem_manager_space_run(struct kvmem_client *client,
			    const struct kvmem_run *r)
{
	struct kvmem_event ev = { .type = KVMEM_EVENT_RUN };
	unsigned long found = r->id;
	struct kvmem_space *space;
	int ret = 0;

	if (!kvmem_is_manager(client))
		return -EPERM;
	ret = kvmem_check_run(r);
	if (ret)
		return ret;
	space = kvmem_space_get_by_id(&found);
	if (!space)
		return -ENOENT;
	if (found != r->id) {
		kvmem_space_put(space);
		return -ENOENT;
	}
	if (mutex_lock_interruptible(&space->lock)) {
		kvmem_space_put(space);
		return -EINTR;
	}
	if (space->dead) {
		ret = -ENOENT;
		goto out;
	}
	kvmem_run_count(space, -1);
	space->run_state = r->state;
	space->run_tier = r->tier;
	space->run_cookie = r->cookie;
	kvmem_run_count(space, 1);
	if (r->state == KVMEM_RUN_PREEMPT)
		atomic64_inc(&space->tenant->preemptions);
	ev.handle = READ_ONCE(space->handle);
	ev.id = r->state;
	ev.pages = r->tier;
	ev.cookie = r->cookie;
	kvmem_events_post(&space->client->events, &ev);
out:
	mutex_unlock(&space->lock);
	kvmem_space_put(space);
	return ret;
}

/**
 * kvmem_space_set_demand() - record an owner's demand report
 * @space: the space, with @space->lock held and not dead
 * @demand: KVMEM_DEMAND_*, checked
 *
 * Tells the manager only of a change, so that an engine reporting at every
 * step costs the manager nothing.
 */
void kvmem_space_set_demand(struct kvmem_space *space, u32 demand)
{
	struct kvmem_event ev = {
		.type = KVMEM_EVENT_DEMAND,
		.id = space->id,
		.handle = space->client->id,
		.cookie = space->tenant->id,
		.pages = demand,
	};

	lockdep_assert_held(&space->lock);
	if (space->demand == demand)
		return;
	space->demand = demand;
	kvmem_manager_post(&ev);
}
