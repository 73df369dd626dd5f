/* SPDX-License-Identifier: GPL-2.0 */
/* The control socket's transport (ctl_sock.c). */
#ifndef KVMEMD_CTL_SOCK_H
#define KVMEMD_CTL_SOCK_H

#include <systemd/sd-event.h>

#include "kvmemd.h"

/* Binds d->cfg.socket (mode 0600, or 0660 and the socket group) and
 * serves it from @e. Returns 0 or -errno. */
int kd_ctl_listen(struct kvmemd *d, sd_event *e, sd_event_source **src);

#endif /* KVMEMD_CTL_SOCK_H */
