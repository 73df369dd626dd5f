/* SPDX-License-Identifier: GPL-2.0 */
#ifndef KVMEM_CLIENT_H
#define KVMEM_CLIENT_H

#include <linux/fs.h>
#include <linux/types.h>

struct kvmem_client;
struct kvmem_space;

extern const struct file_operations kvmem_fops;

int kvmem_client_add(struct kvmem_client *client, struct kvmem_space *space,
		     u32 *handle);
struct kvmem_space *kvmem_client_get(struct kvmem_client *client, u32 handle);
struct kvmem_space *kvmem_client_remove(struct kvmem_client *client,
					u32 handle, u32 id);

#endif /* KVMEM_CLIENT_H */
