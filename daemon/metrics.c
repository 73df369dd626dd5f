// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus text exposition (format 0.0.4) of kvmemd's state, and the
 * loopback HTTP endpoint that serves it (libmicrohttpd, epoll mode, driven
 * from kvmemd's sd-event loop: no thread of its own). Names: the kvmem_
 * prefix, vLLM's conventions where vLLM has a counterpart; each metric is
 * listed in Documentation/kvmemd.md.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kvmemd.h"

const double kd_lat_bounds[KD_LAT_BUCKETS] = {
	1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3,
	1e-2, 1e-1,
};

void kd_observe_latency(struct kvmemd *d, double s)
{
	size_t i = 0;

	while (i < KD_LAT_BUCKETS && s > kd_lat_bounds[i])
		i++;
	d->m.lat_bucket[i]++;
	d->m.lat_sum += s;
	d->m.lat_count++;
}

static void family(FILE *f, const char *name, const char *type,
		   const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const tier_label[] = { "hbm", "dram", "cxl" };

char *kd_metrics_render(const struct kvmemd *d, size_t *len)
{
	const struct pol *p = &d->pol;
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	uint64_t cum = 0;

	if (!f)
		return NULL;
	family(f, "kvmem_kv_cache_usage_perc", "gauge",
	       "Fraction of each tier's frames in use, 0 to 1.");
	for (uint32_t t = 0; t < 3; t++) {
		uint64_t total = 0, used = 0;

		for (uint32_t i = 0; i < d->npools; i++) {
			if (d->pools[i].tier != t)
				continue;
			total += d->pools[i].total;
			used += d->pools[i].total - d->pools[i].free;
		}
		if (total)
			fprintf(f, "kvmem_kv_cache_usage_perc{tier=\"%s\"} %.6f\n",
				tier_label[t], (double)used / (double)total);
	}
	family(f, "kvmem_fast_tier_usage_perc", "gauge",
	       "Fraction of the fast tier the policy has given out, 0 to 1.");
	fprintf(f, "kvmem_fast_tier_usage_perc %.6f\n", p->capacity ?
		(double)p->used / (double)p->capacity : 0.0);
	family(f, "kvmem_num_preemptions_total", "counter",
	       "Sequences switched out of the fast tier while they had work.");
	fprintf(f, "kvmem_num_preemptions_total %llu\n",
		(unsigned long long)p->st.preemptions);
	family(f, "kvmem_reclaims_total", "counter",
	       "Switches out made for pool pressure (POOL_LOW, FAULT_WAIT).");
	fprintf(f, "kvmem_reclaims_total %llu\n",
		(unsigned long long)p->st.reclaims);
	family(f, "kvmem_prefetches_total", "counter",
	       "Swap-ins started ahead of a predicted need.");
	fprintf(f, "kvmem_prefetches_total %llu\n",
		(unsigned long long)p->st.prefetches);
	family(f, "kvmem_resumes_total", "counter",
	       "Swap-ins completed (a sequence brought back to the fast tier).");
	fprintf(f, "kvmem_resumes_total %llu\n",
		(unsigned long long)p->st.resumes);
	family(f, "kvmem_resume_bytes_total", "counter",
	       "Bytes those swap-ins moved.");
	fprintf(f, "kvmem_resume_bytes_total %llu\n",
		(unsigned long long)p->st.resume_bytes);
	family(f, "kvmem_resume_wait_seconds_total", "counter",
	       "Time sequences waited for their swap-ins: from the later of "
	       "the decision and the need to RUNNABLE.");
	fprintf(f, "kvmem_resume_wait_seconds_total %.9f\n",
		(double)p->st.resume_wait_ns / 1e9);
	family(f, "kvmem_switches_failed_total", "counter",
	       "Switches the module or the owner reported failed.");
	fprintf(f, "kvmem_switches_failed_total %llu\n",
		(unsigned long long)p->st.failed);
	family(f, "kvmem_switches_inflight", "gauge",
	       "Switches decided and not yet ended.");
	fprintf(f, "kvmem_switches_inflight %u\n", p->inflight);
	family(f, "kvmem_sequences", "gauge", "Spaces the policy schedules.");
	fprintf(f, "kvmem_sequences %llu\n", (unsigned long long)p->nseqs);
	family(f, "kvmem_swap_total_bytes", "counter",
	       "Bytes moved by completed switches, by direction.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "kvmem_swap_total_bytes{transfer_type=\"%s\"} %llu\n",
			i ? "fast_to_slow" : "slow_to_fast",
			(unsigned long long)p->bw[i].bytes);
	family(f, "kvmem_swap_total_time_seconds", "counter",
	       "Time completed switches took, by direction.");
	for (int i = 0; i < 2; i++)
		fprintf(f, "kvmem_swap_total_time_seconds{transfer_type=\"%s\"} "
			"%.9f\n", i ? "fast_to_slow" : "slow_to_fast",
			(double)p->bw[i].ns / 1e9);
	family(f, "kvmem_swap_bandwidth_bytes_per_second", "gauge",
	       "Bandwidth the policy prices switches with (EWMA).");
	for (int i = 0; i < 2; i++)
		fprintf(f, "kvmem_swap_bandwidth_bytes_per_second"
			"{transfer_type=\"%s\"} %.0f\n",
			i ? "fast_to_slow" : "slow_to_fast", p->bw[i].bps);

	family(f, "kvmem_tenant_service_total", "counter",
	       "Priced service a tenant received (tokens x price).");
	for (size_t i = 0; i < p->ntenants; i++)
		fprintf(f, "kvmem_tenant_service_total{tenant=\"%u\"} %.3f\n",
			p->tenants[i]->id, p->tenants[i]->service);
	family(f, "kvmem_tenant_virtual_counter", "gauge",
	       "A tenant's virtual token counter (service / weight, lifted).");
	for (size_t i = 0; i < p->ntenants; i++)
		fprintf(f, "kvmem_tenant_virtual_counter{tenant=\"%u\"} %.3f\n",
			p->tenants[i]->id, p->tenants[i]->counter);
	family(f, "kvmem_tenant_weight", "gauge", "A tenant's weight.");
	for (size_t i = 0; i < p->ntenants; i++)
		fprintf(f, "kvmem_tenant_weight{tenant=\"%u\"} %g\n",
			p->tenants[i]->id, p->tenants[i]->weight);
	family(f, "kvmem_tenant_fast_bytes", "gauge",
	       "Fast-tier bytes a tenant holds or is being given.");
	for (size_t i = 0; i < p->ntenants; i++)
		fprintf(f, "kvmem_tenant_fast_bytes{tenant=\"%u\"} %llu\n",
			p->tenants[i]->id,
			(unsigned long long)p->tenants[i]->fast_bytes);
	family(f, "kvmem_tenant_preemptions_total", "counter",
	       "Preemptions of a tenant's sequences.");
	for (size_t i = 0; i < p->ntenants; i++)
		fprintf(f, "kvmem_tenant_preemptions_total{tenant=\"%u\"} %llu\n",
			p->tenants[i]->id,
			(unsigned long long)p->tenants[i]->preemptions);

	family(f, "kvmem_decision_latency_seconds", "histogram",
	       "Time of one policy decision (events in, decisions out).");
	for (size_t i = 0; i <= KD_LAT_BUCKETS; i++) {
		cum += d->m.lat_bucket[i];
		if (i < KD_LAT_BUCKETS)
			fprintf(f, "kvmem_decision_latency_seconds_bucket"
				"{le=\"%g\"} %llu\n", kd_lat_bounds[i],
				(unsigned long long)cum);
		else
			fprintf(f, "kvmem_decision_latency_seconds_bucket"
				"{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	fprintf(f, "kvmem_decision_latency_seconds_sum %.9f\n", d->m.lat_sum);
	fprintf(f, "kvmem_decision_latency_seconds_count %llu\n",
		(unsigned long long)d->m.lat_count);

	family(f, "kvmem_events_total", "counter", "Events read from the module.");
	fprintf(f, "kvmem_events_total %llu\n", (unsigned long long)d->m.events);
	family(f, "kvmem_event_overflows_total", "counter",
	       "Times events were lost and the state was read again.");
	fprintf(f, "kvmem_event_overflows_total %llu\n",
		(unsigned long long)d->m.overflows);
	family(f, "kvmem_ioctl_errors_total", "counter",
	       "Decisions the module refused.");
	fprintf(f, "kvmem_ioctl_errors_total %llu\n",
		(unsigned long long)d->m.ioctl_errors);
	family(f, "kvmem_control_requests_total", "counter",
	       "Control socket requests, and of them refused ones.");
	fprintf(f, "kvmem_control_requests_total{result=\"ok\"} %llu\n",
		(unsigned long long)(d->m.ctl_requests - d->m.ctl_errors));
	fprintf(f, "kvmem_control_requests_total{result=\"error\"} %llu\n",
		(unsigned long long)d->m.ctl_errors);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- the HTTP endpoint ---------------------------------------------------- */

static enum MHD_Result answer(void *cls, struct MHD_Connection *c,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct kvmemd *d = cls;
	struct MHD_Response *r;
	enum MHD_Result ret;
	unsigned code = MHD_HTTP_OK;
	char *body;
	size_t len = 0;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		body = strdup("only GET\n");
		len = body ? strlen(body) : 0;
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
	} else if (strcmp(url, "/metrics")) {
		body = strdup("kvmemd: metrics at /metrics\n");
		len = body ? strlen(body) : 0;
		code = MHD_HTTP_NOT_FOUND;
	} else {
		body = kd_metrics_render(d, &len);
	}
	if (!body)
		return MHD_NO;
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	if (code == MHD_HTTP_OK)
		MHD_add_response_header(r, "Content-Type",
					"text/plain; version=0.0.4; charset=utf-8");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

struct MHD_Daemon *kd_metrics_start(struct kvmemd *d, int *epoll_fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct MHD_Daemon *m;
	const union MHD_DaemonInfo *info;

	sa.sin_port = htons((uint16_t)d->cfg.metrics_port);
	if (inet_pton(AF_INET, d->cfg.metrics_addr, &sa.sin_addr) != 1)
		return NULL;
	m = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG,
			     (uint16_t)d->cfg.metrics_port, NULL, NULL,
			     answer, d,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
			     MHD_OPTION_END);
	if (!m)
		return NULL;
	info = MHD_get_daemon_info(m, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info) {
		MHD_stop_daemon(m);
		return NULL;
	}
	*epoll_fd = info->epoll_fd;
	return m;
}
