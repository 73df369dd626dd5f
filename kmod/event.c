// SPDX-License-Identifier: GPL-2.0
/*
 * Per-file event queue. Events are posted from any context that may take
 * a spinlock and read by the file's owner with read(); poll() reports
 * EPOLLIN while any is queued.
 *
 * Overflow is never silent: when only the last slot is left, the event
 * that arrives is replaced by a KVMEM_EVENT_OVERFLOW event that takes its
 * sequence number and counts, in @pages, it and every later event lost
 * until the reader makes room. The reader sees the gap in sequence
 * numbers and the count that explains it.
 */
#include <linux/minmax.h>
#include <linux/uaccess.h>

#include "event.h"

/* Events handed to user space per copy, with no lock held. */
#define KVMEM_EVENT_BATCH	8

/**
 * kvmem_events_init() - make an empty queue
 * @q: the queue
 */
void kvmem_events_init(struct kvmem_events *q)
{
	mutex_init(&q->read_lock);
	spin_lock_init(&q->lock);
	init_waitqueue_head(&q->wait);
	q->head = 0;
	q->len = 0;
	q->seq = 0;
}

/**
 * kvmem_events_post() - queue an event and wake the readers
 * @q: the queue
 * @ev: the event; its sequence number is assigned here
 */
void kvmem_events_post(struct kvmem_events *q, const struct kvmem_event *ev)
{
	struct kvmem_event *slot;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	q->seq++;
	if (q->len == KVMEM_EVENT_RING) {
		/* Full: the last event is the OVERFLOW that counts losses. */
		q->ring[(q->head + q->len - 1) % KVMEM_EVENT_RING].pages++;
		goto unlock;
	}
	slot = &q->ring[(q->head + q->len) % KVMEM_EVENT_RING];
	q->len++;
	if (q->len == KVMEM_EVENT_RING) {
		memset(slot, 0, sizeof(*slot));
		slot->type = KVMEM_EVENT_OVERFLOW;
		slot->pages = 1;
	} else {
		*slot = *ev;
	}
	slot->seq = q->seq;
unlock:
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->wait);
}

/* Copies up to @max events from the head, leaving them queued. */
static u32 kvmem_events_peek(struct kvmem_events *q, struct kvmem_event *out,
			     u32 max)
{
	unsigned long flags;
	u32 n;

	spin_lock_irqsave(&q->lock, flags);
	for (n = 0; n < max && n < q->len; n++)
		out[n] = q->ring[(q->head + n) % KVMEM_EVENT_RING];
	spin_unlock_irqrestore(&q->lock, flags);
	return n;
}

/*
 * Removes the @n events kvmem_events_peek() returned. Only the tail
 * OVERFLOW event can have changed meanwhile (its count grew): then the
 * losses the reader has not seen stay queued, as a new OVERFLOW event.
 */
static void kvmem_events_consume(struct kvmem_events *q,
				 const struct kvmem_event *seen, u32 n)
{
	const struct kvmem_event *last = &seen[n - 1];
	struct kvmem_event *slot;
	unsigned long flags;

	spin_lock_irqsave(&q->lock, flags);
	slot = &q->ring[(q->head + n - 1) % KVMEM_EVENT_RING];
	if (last->type == KVMEM_EVENT_OVERFLOW && slot->pages > last->pages) {
		slot->seq = last->seq + last->pages;
		slot->pages -= last->pages;
		n--;
	}
	q->head = (q->head + n) % KVMEM_EVENT_RING;
	q->len -= n;
	spin_unlock_irqrestore(&q->lock, flags);
}

/**
 * kvmem_events_read() - read() of /dev/kvmem
 * @q: the file's queue
 * @buf: user buffer
 * @count: its size; whole events only
 * @nonblock: O_NONBLOCK: fail with -EAGAIN instead of waiting
 *
 * An event leaves the queue only once it has been copied out, so a bad
 * buffer loses nothing.
 *
 * Return: bytes read (a multiple of sizeof(struct kvmem_event)), -EINVAL
 * if @count cannot hold one event, -EAGAIN, -ERESTARTSYS or -EFAULT.
 */
ssize_t kvmem_events_read(struct kvmem_events *q, char __user *buf,
			  size_t count, bool nonblock)
{
	struct kvmem_event batch[KVMEM_EVENT_BATCH];
	size_t want = count / sizeof(struct kvmem_event);
	ssize_t done = 0;
	int ret;

	if (!want)
		return -EINVAL;
	if (mutex_lock_interruptible(&q->read_lock))
		return -ERESTARTSYS;
	while (want) {
		u32 n = kvmem_events_peek(q, batch,
					  min_t(size_t, want, KVMEM_EVENT_BATCH));

		if (!n) {
			if (done)
				break;
			if (nonblock) {
				done = -EAGAIN;
				break;
			}
			mutex_unlock(&q->read_lock);
			ret = wait_event_interruptible(q->wait, READ_ONCE(q->len));
			if (ret)
				return ret;
			if (mutex_lock_interruptible(&q->read_lock))
				return -ERESTARTSYS;
			continue;
		}
		if (copy_to_user(buf + done, batch, n * sizeof(*batch))) {
			if (!done)
				done = -EFAULT;
			break;
		}
		kvmem_events_consume(q, batch, n);
		done += n * sizeof(*batch);
		want -= n;
	}
	mutex_unlock(&q->read_lock);
	return done;
}

/**
 * kvmem_events_poll() - poll() of /dev/kvmem
 * @q: the file's queue
 * @file: the file
 * @wait: poll table
 *
 * Return: EPOLLIN | EPOLLRDNORM while an event is queued, else 0.
 */
__poll_t kvmem_events_poll(struct kvmem_events *q, struct file *file,
			   poll_table *wait)
{
	poll_wait(file, &q->wait, wait);
	return READ_ONCE(q->len) ? EPOLLIN | EPOLLRDNORM : 0;
}
