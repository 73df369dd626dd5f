# SPDX-License-Identifier: LGPL-2.1-or-later
"""kvmem: contiguous KV-cache tensors for LLM serving, backed by kvmem.

The Python binding of libaccel (accel.h; Documentation/python.md,
Documentation/libaccel.md). A Context is one libaccel context (one open
file of /dev/kvmem); Context.create() makes a Sequence per request; a
Sequence's tensor(layer, kv) (or k(layer), v(layer)) is a zero-copy view of
tokens [0, n) of one layer's K or V: numpy.asarray() of it (host backend)
or torch.from_dlpack() of it (both backends) aliases kvmem's memory.

Lifetimes: views keep their sequence's memory alive. destroy() and close()
end the objects for Python at once; libaccel frees the memory when the last
view is gone. Errors of libaccel are OSError subclasses (errno set, the
message naming cause and fix); bad arguments raise TypeError, ValueError or
IndexError before anything reaches libaccel.

Threads (accel.h): ctx-safe calls may come from any thread; calls on one
Sequence are serialized by the binding (libaccel's seq-serial rule); the
calls that may block release the GIL. Contexts are not inherited across
fork(): in a child every object raises ChildProcessError.
"""

import os
import select
from dataclasses import dataclass

from . import _accel
from ._accel import (Completion, Info, Pool, Sequence, Stats, Tensor,
                     TensorInfo, backend_name, dtype_size)
from ._accel import *  # noqa: F401,F403  (the constants)

__all__ = ["Context", "Sequence", "Tensor", "Geometry", "Info", "Pool",
           "Stats", "Completion", "TensorInfo", "open", "dtype_size",
           "backend_name", "as_numpy", "as_torch"] + \
    [n for n in dir(_accel) if n.isupper()]

_BACKENDS = {"auto": _accel.BACKEND_AUTO, "host": _accel.BACKEND_HOST,
             "cuda": _accel.BACKEND_CUDA}
_TIERS = {"hbm": _accel.TIER_HBM, "dram": _accel.TIER_DRAM,
          "cxl": _accel.TIER_CXL, "default": _accel.TIER_DEFAULT}
_DTYPES = {"f16": _accel.DTYPE_F16, "float16": _accel.DTYPE_F16,
           "bf16": _accel.DTYPE_BF16, "bfloat16": _accel.DTYPE_BF16,
           "f32": _accel.DTYPE_F32, "float32": _accel.DTYPE_F32,
           "fp8": _accel.DTYPE_FP8}
_LAYOUTS = {"per_layer": _accel.LAYOUT_PER_LAYER,
            "per_seq": _accel.LAYOUT_PER_SEQ}


def _named(value, table, what):
    if isinstance(value, str):
        try:
            return table[value.lower()]
        except KeyError:
            raise ValueError("%s must be one of %s, not %r"
                             % (what, ", ".join(sorted(table)), value)) \
                from None
    return value


@dataclass(frozen=True)
class Geometry:
    """struct accel_geometry: a model's KV cache shape.

    dtype: DTYPE_* or "f16", "bf16", "f32", "fp8"; layout: LAYOUT_* or
    "per_layer", "per_seq". Checked when given to Context.create().
    """
    layers: int
    kv_heads: int
    head_dim: int
    dtype: int = _accel.DTYPE_F16
    max_tokens: int = 4096
    layout: int = _accel.LAYOUT_PER_LAYER

    def __post_init__(self):
        object.__setattr__(self, "dtype", _named(self.dtype, _DTYPES, "dtype"))
        object.__setattr__(self, "layout",
                           _named(self.layout, _LAYOUTS, "layout"))


class Context(_accel.Context):
    """accel_open(): one libaccel context; a context manager.

    Keyword arguments are struct accel_open_opts's fields with its defaults
    (accel_open_opts_init()): backend ("auto", "host", "cuda" or
    BACKEND_*), device (None: $ACCEL_DEVICE, else /dev/kvmem),
    cuda_device=0, tier and swap_tier ("hbm", "dram", "cxl", "default" or
    TIER_*), tenant=0, priority=0, wait_ms=0, step_ahead=0,
    tokens_per_step=0, cache_max_bytes=0, flags=0; and, for the flags,
    no_keep=False (OPEN_NO_KEEP) and require_module=False
    (OPEN_REQUIRE_MODULE). Errors: FileNotFoundError (ENOENT: kvmem.ko
    not loaded), PermissionError, OSError EPROTO, ENODEV, EOPNOTSUPP, ...
    """

    def __init__(self, *, backend=_accel.BACKEND_AUTO, tier=_accel.TIER_DEFAULT,
                 swap_tier=_accel.TIER_DEFAULT, no_keep=False,
                 require_module=False, flags=0, **kw):
        if not isinstance(flags, int) or isinstance(flags, bool):
            raise TypeError("flags must be an int")
        if no_keep:
            flags |= _accel.OPEN_NO_KEEP
        if require_module:
            flags |= _accel.OPEN_REQUIRE_MODULE
        if "device" in kw and isinstance(kw["device"], os.PathLike):
            kw["device"] = os.fspath(kw["device"])
        super().__init__(backend=_named(backend, _BACKENDS, "backend"),
                         tier=_named(tier, _TIERS, "tier"),
                         swap_tier=_named(swap_tier, _TIERS, "swap_tier"),
                         flags=flags, **kw)

    def pools(self):
        """Every pool (accel_pool_query() of 0 .. info().npools - 1)."""
        return [self.pool(i) for i in range(self.info().npools)]

    def completions(self):
        """Iterator over the completions waiting now (never blocks)."""
        while True:
            batch = self.poll_completions(64)
            yield from batch
            if len(batch) < 64:
                return

    def wait_completions(self, timeout=None):
        """Waits up to timeout seconds (None: no limit) for the context's
        fd to be readable, then takes what is there (maybe [])."""
        select.select([self.fileno()], [], [], timeout)
        return list(self.completions())

    def __repr__(self):
        if self.closed:
            return "<kvmem.Context closed>"
        return "<kvmem.Context backend=%s>" % backend_name(self.backend)


def open(**kw):  # noqa: A001  (kvmem.open, as in the C name)
    """Context(**kw)."""
    return Context(**kw)


def as_numpy(t):
    """A numpy array aliasing a host Tensor (bf16 as uint16 bits, fp8 as
    uint8); it keeps the sequence's memory alive."""
    import numpy
    return numpy.asarray(t)


def as_torch(t):
    """A torch tensor aliasing a Tensor through DLPack (host: CPU tensor;
    cuda backend: CUDA tensor); bf16 is torch.bfloat16, fp8 uint8."""
    import torch.utils.dlpack
    return torch.utils.dlpack.from_dlpack(t)


# Contexts are not inherited by a forked child (libaccel.md, rule 7).
os.register_at_fork(after_in_child=_accel._after_fork_child)
