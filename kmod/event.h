/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-file event queue: what read() and poll() on /dev/kvmem see.
 */
#ifndef KVMEM_EVENT_H
#define KVMEM_EVENT_H

#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/kvmem.h>

/* Events a file can hold unread; the last slot is kept for OVERFLOW. */
#define KVMEM_EVENT_RING	256

/**
 * struct kvmem_events - a bounded queue of events
 * @read_lock: one reader at a time, so that what it copied out is still
 *	at the head when it removes it
 * @lock: protects everything below
 * @wait: readers and pollers wait here
 * @head: index of the oldest event in @ring
 * @len: events in @ring
 * @seq: sequence number of the last event generated
 * @ring: the events
 */
struct kvmem_events {
	struct mutex read_lock;
	spinlock_t lock;
	wait_queue_head_t wait;
	u32 head;
	u32 len;
	u64 seq;
	struct kvmem_event ring[KVMEM_EVENT_RING];
};

void kvmem_events_init(struct kvmem_events *q);
void kvmem_events_post(struct kvmem_events *q, const struct kvmem_event *ev);
ssize_t kvmem_events_read(struct kvmem_events *q, char __user *buf,
			  size_t count, bool nonblock);
__poll_t kvmem_events_poll(struct kvmem_events *q, struct file *file,
			   poll_table *wait);

#endif /* KVMEM_EVENT_H */
