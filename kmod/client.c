// SPDX-License-Identifier: GPL-2.0
/*
 * Clients: one per open file of /dev/kvmem. A client owns its spaces
 * through a table of handles that only its own file can use.
 */
#include <linux/fs.h>
#include <linux/slab.h>

#include "client.h"
#include "kvmem.h"

static int kvmem_open(struct inode *inode, struct file *file)
{
	struct kvmem_client *client;

	if (!READ_ONCE(kvmem_ready))
		return -ENODEV;
	client = kzalloc(sizeof(*client), GFP_KERNEL_ACCOUNT);
	if (!client)
		return -ENOMEM;
	mutex_init(&client->lock);
	xa_init_flags(&client->handles, XA_FLAGS_ALLOC1);
	file->private_data = client;
	/* All kvmem files share one address_space: see space.c. */
	file->f_mapping = kvmem_mapping;
	atomic_inc(&kvmem_nr_clients);
	return nonseekable_open(inode, file);
}

/*
 * Called when the last descriptor is closed and the last mapping is gone
 * (each mapping holds the file), so no page of the client is mapped.
 */
static int kvmem_release(struct inode *inode, struct file *file)
{
	struct kvmem_client *client = file->private_data;
	struct kvmem_space *space;
	unsigned long handle;

	xa_for_each(&client->handles, handle, space) {
		xa_erase(&client->handles, handle);
		kvmem_space_kill(space);
		kvmem_space_put(space);
	}
	xa_destroy(&client->handles);
	mutex_destroy(&client->lock);
	kfree(client);
	atomic_dec(&kvmem_nr_clients);
	return 0;
}

static int kvmem_mmap(struct file *file, struct vm_area_struct *vma)
{
	return kvmem_space_mmap(file->private_data, vma);
}

/**
 * kvmem_client_add() - give a new space a handle in its client
 * @client: the client
 * @space: the space; the handle table takes over the caller's reference
 * @handle: returns the handle
 *
 * Return: 0, or -ENOMEM or -EBUSY (no handle left) from the table.
 */
int kvmem_client_add(struct kvmem_client *client, struct kvmem_space *space,
		     u32 *handle)
{
	int ret;

	mutex_lock(&client->lock);
	ret = xa_alloc(&client->handles, handle, space, xa_limit_31b,
		       GFP_KERNEL_ACCOUNT);
	mutex_unlock(&client->lock);
	return ret;
}

/**
 * kvmem_client_get() - look up a handle of a client
 * @client: the client
 * @handle: the handle
 *
 * Return: the space with a new reference, or NULL if @handle does not name
 * a space of @client.
 */
struct kvmem_space *kvmem_client_get(struct kvmem_client *client, u32 handle)
{
	struct kvmem_space *space;

	mutex_lock(&client->lock);
	space = xa_load(&client->handles, handle);
	if (space)
		kref_get(&space->ref);
	mutex_unlock(&client->lock);
	return space;
}

/**
 * kvmem_client_remove() - take a handle out of a client's table
 * @client: the client
 * @handle: the handle
 * @id: if not 0, remove the handle only if it names the space with this id
 *
 * Return: the space with the table's reference, now the caller's, or NULL
 * if @handle does not name a space of @client (with id @id).
 */
struct kvmem_space *kvmem_client_remove(struct kvmem_client *client,
					u32 handle, u32 id)
{
	struct kvmem_space *space;

	mutex_lock(&client->lock);
	space = xa_load(&client->handles, handle);
	if (space && (!id || space->id == id))
		xa_erase(&client->handles, handle);
	else
		space = NULL;
	mutex_unlock(&client->lock);
	return space;
}

const struct file_operations kvmem_fops = {
	.owner = THIS_MODULE,
	.open = kvmem_open,
	.release = kvmem_release,
	.mmap = kvmem_mmap,
	.unlocked_ioctl = kvmem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
