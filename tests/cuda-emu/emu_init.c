// SPDX-License-Identifier: GPL-2.0
/*
 * cuemu: cuInit, its configuration from the environment, the driver
 * version and the device queries.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu_internal.h"

#define EMU_DEFAULT_GRANULARITY	(2UL << 20)	/* what GPUs report */
#define EMU_DEFAULT_MEM_MIB	1024
#define EMU_DEFAULT_DELAY_US	200
#define EMU_DEFAULT_SM_COUNT	132
#define EMU_CC_MAJOR		9
#define EMU_CC_MINOR		0

static int config_error(const char *var, const char *val, const char *why)
{
	fprintf(stderr, "cuemu: config: %s=%s: %s\n", var, val, why);
	return -1;
}

/* An unsigned decimal (or 0x hex) environment variable in [lo, hi]. */
static int env_u64(const char *var, uint64_t dflt, uint64_t lo, uint64_t hi,
		   uint64_t *out)
{
	const char *s = getenv(var);
	unsigned long long v;
	char *end;

	*out = dflt;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || s[0] == '-')
		return config_error(var, s, "not an unsigned number");
	if (v < lo || v > hi)
		return config_error(var, s, "out of range");
	*out = v;
	return 0;
}

/* CUEMU_PCI_BUS_IDS: "dddd:bb:dd.f,..." in hex, one per device. */
static int parse_pci_ids(int ndev)
{
	const char *s = getenv("CUEMU_PCI_BUS_IDS");
	const char *p = s;
	int i;

	for (i = 0; i < ndev; i++) {
		struct emu_device *d = &emu.dev[i];
		unsigned int dom, bus, dv, fn;
		int used;

		d->pci_domain = 0;
		d->pci_bus = i + 1;
		d->pci_dev = 0;
		d->pci_fn = 0;
		if (!s || !*s)
			continue;
		if (!p || sscanf(p, "%x:%x:%x.%x%n", &dom, &bus, &dv, &fn,
				 &used) != 4)
			return config_error("CUEMU_PCI_BUS_IDS", s,
					    "want dddd:bb:dd.f per device, comma-separated");
		if (dom > 0xffff || bus > 0xff || dv > 0x1f || fn > 7)
			return config_error("CUEMU_PCI_BUS_IDS", s,
					    "a field is out of range");
		d->pci_domain = dom;
		d->pci_bus = bus;
		d->pci_dev = dv;
		d->pci_fn = fn;
		p += used;
		if (*p == ',')
			p++;
		else if (*p)
			return config_error("CUEMU_PCI_BUS_IDS", s,
					    "ids are separated by commas");
		else
			p = NULL;
	}
	if (s && *s && p && *p)
		return config_error("CUEMU_PCI_BUS_IDS", s,
				    "more ids than CUEMU_DEVICES");
	return 0;
}

static int read_config(struct emu_config *cfg)
{
	uint64_t v, gran;

	if (env_u64("CUEMU_DEVICES", 1, 0, EMU_MAX_DEVICES, &v))
		return -1;
	cfg->ndev = (int)v;
	if (env_u64("CUEMU_GRANULARITY", EMU_DEFAULT_GRANULARITY, EMU_PAGE,
		    1UL << 30, &gran))
		return -1;
	if (gran & (gran - 1))
		return config_error("CUEMU_GRANULARITY",
				    getenv("CUEMU_GRANULARITY"),
				    "not a power of two");
	cfg->granularity = gran;
	if (env_u64("CUEMU_MEM_MIB", EMU_DEFAULT_MEM_MIB, 1, 1UL << 24, &v))
		return -1;
	cfg->mem_bytes = v << 20;
	if (cfg->mem_bytes < gran)
		return config_error("CUEMU_MEM_MIB", getenv("CUEMU_MEM_MIB"),
				    "smaller than one granule");
	if (env_u64("CUEMU_COPY_DELAY_US", EMU_DEFAULT_DELAY_US, 0, 10000000,
		    &v))
		return -1;
	cfg->copy_delay_us = (unsigned int)v;
	if (env_u64("CUEMU_SM_COUNT", EMU_DEFAULT_SM_COUNT, 1, 100000, &v))
		return -1;
	cfg->sm_count = (int)v;
	return parse_pci_ids(cfg->ndev);
}

CUresult cuInit(unsigned int Flags)
{
	CUresult rc;
	int i;

	emu_count(EMU_C_init);
	rc = RULE("init.flags", Flags != 0, CUDA_ERROR_INVALID_VALUE,
		  "Flags %u must be 0", Flags);
	if (rc)
		return rc;
	emu_lock();
	if (atomic_load(&emu.initialized)) {
		emu_unlock();
		return CUDA_SUCCESS;
	}
	if (read_config(&emu.cfg)) {
		emu_unlock();
		return CUDA_ERROR_INVALID_VALUE;
	}
	if (emu.cfg.ndev == 0) {
		emu_unlock();
		return CUDA_ERROR_NO_DEVICE;
	}
	for (i = 0; i < emu.cfg.ndev; i++)
		emu.dev[i].ctx.dev = i;
	if (getenv("CUEMU_BREAK_RULE"))
		fprintf(stderr,
			"cuemu: CUEMU_BREAK_RULE=%s: that rule is off\n",
			getenv("CUEMU_BREAK_RULE"));
	atomic_store(&emu.initialized, 1);
	emu_unlock();
	return CUDA_SUCCESS;
}

CUresult cuDriverGetVersion(int *driverVersion)
{
	CUresult rc;

	emu_count(EMU_C_driver_get_version);
	rc = RULE("arg.null", !driverVersion, CUDA_ERROR_INVALID_VALUE,
		  "driverVersion is NULL");
	if (rc)
		return rc;
	*driverVersion = CUDA_VERSION;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetCount(int *count)
{
	CUresult rc;

	emu_count(EMU_C_device_get_count);
	rc = emu_check_init(__func__);
	if (!rc)
		rc = RULE("arg.null", !count, CUDA_ERROR_INVALID_VALUE,
			  "count is NULL");
	if (rc)
		return rc;
	*count = emu.cfg.ndev;
	return CUDA_SUCCESS;
}

/* The checks every cuDeviceGet* call makes. */
static CUresult device_call(const char *call, const void *out, CUdevice dev)
{
	CUresult rc = emu_check_init(call);

	if (rc)
		return rc;
	if (!out && emu_rule_on("arg.null"))
		return emu_misuse(call, "arg.null", CUDA_ERROR_INVALID_VALUE,
				  "output pointer is NULL");
	if (!emu_dev_valid(dev) && emu_rule_on("dev.ordinal"))
		return emu_misuse(call, "dev.ordinal",
				  CUDA_ERROR_INVALID_DEVICE,
				  "device %d does not exist (%d devices)", dev,
				  emu.cfg.ndev);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGet(CUdevice *device, int ordinal)
{
	CUresult rc;

	emu_count(EMU_C_device_get);
	rc = device_call(__func__, device, ordinal);
	if (rc)
		return rc;
	*device = ordinal;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetName(char *name, int len, CUdevice dev)
{
	CUresult rc;

	emu_count(EMU_C_device_get_name);
	rc = device_call(__func__, name, dev);
	if (!rc)
		rc = RULE("arg.len", len <= 0, CUDA_ERROR_INVALID_VALUE,
			  "len %d", len);
	if (rc)
		return rc;
	/* Shortened to len, NUL included, as documented. */
	snprintf(name, (size_t)len, "cuemu emulated GPU %d", dev);
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetPCIBusId(char *pciBusId, int len, CUdevice dev)
{
	const struct emu_device *d;
	CUresult rc;

	emu_count(EMU_C_device_get_pci_bus_id);
	rc = device_call(__func__, pciBusId, dev);
	if (!rc)
		rc = RULE("arg.len", len <= 0, CUDA_ERROR_INVALID_VALUE,
			  "len %d", len);
	if (rc)
		return rc;
	d = &emu.dev[dev];
	snprintf(pciBusId, (size_t)len, "%04x:%02x:%02x.%x", d->pci_domain,
		 d->pci_bus, d->pci_dev, d->pci_fn);
	return CUDA_SUCCESS;
}

CUresult cuDeviceTotalMem(size_t *bytes, CUdevice dev)
{
	CUresult rc;

	emu_count(EMU_C_device_total_mem);
	rc = device_call(__func__, bytes, dev);
	if (rc)
		return rc;
	*bytes = emu.cfg.mem_bytes;
	return CUDA_SUCCESS;
}

CUresult cuDeviceGetAttribute(int *pi, CUdevice_attribute attrib, CUdevice dev)
{
	const struct emu_device *d;
	CUresult rc;

	emu_count(EMU_C_device_get_attribute);
	rc = device_call(__func__, pi, dev);
	if (rc)
		return rc;
	d = &emu.dev[dev];
	switch (attrib) {
	case CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
	case CU_DEVICE_ATTRIBUTE_HOST_REGISTER_SUPPORTED:
	case CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED:
		*pi = 1;
		break;
	case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID:
		*pi = (int)d->pci_bus;
		break;
	case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID:
		*pi = (int)d->pci_dev;
		break;
	case CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID:
		*pi = (int)d->pci_domain;
		break;
	case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
		*pi = emu.cfg.sm_count;
		break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
		*pi = EMU_CC_MAJOR;
		break;
	case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
		*pi = EMU_CC_MINOR;
		break;
	default:
		/* Not misuse: the real driver knows it, the emulation not. */
		return emu_unsupported(__func__, CUDA_ERROR_INVALID_VALUE,
				       "attribute %d is not emulated",
				       (int)attrib);
	}
	return CUDA_SUCCESS;
}
