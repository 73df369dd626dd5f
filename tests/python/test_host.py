# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding without the module: argument checks before libaccel, errors
of accel_open() as OSError subclasses, constants against accel.h, and the
cuda backend without the module over the CUDA emulation (DLPack capsules of
device memory, never dereferenced)."""
import ctypes
import errno
import os
import re

import pytest

import kvmem
from conftest import REPO

ABSENT = "/nonexistent/kvmem"


def test_enoent_names_cause_and_fix():
    with pytest.raises(FileNotFoundError) as ei:
        kvmem.Context(backend="host", device=ABSENT)
    e = ei.value
    assert e.errno == errno.ENOENT
    assert "accel_open" in str(e) and "kvmem.ko" in str(e)
    assert "modprobe kvmem" in str(e)


def test_require_module_enoent_on_cuda():
    with pytest.raises(FileNotFoundError):
        kvmem.Context(backend="cuda", device=ABSENT, require_module=True)


def test_eproto_not_kvmem():
    with pytest.raises(OSError) as ei:
        kvmem.Context(backend="host", device="/dev/null")
    assert ei.value.errno in (errno.EPROTO, errno.ENOTTY, errno.EINVAL)
    if ei.value.errno == errno.EPROTO:
        assert "ABI" in str(ei.value)


def test_device_pathlike():
    import pathlib
    with pytest.raises(FileNotFoundError):
        kvmem.Context(backend="host", device=pathlib.Path(ABSENT))


@pytest.mark.parametrize("kw,exc", [
    (dict(backend="gpu"), ValueError),
    (dict(backend=7), ValueError),
    (dict(backend=1.0), TypeError),
    (dict(tier="nvme"), ValueError),
    (dict(tier=5), ValueError),
    (dict(swap_tier=-1), ValueError),
    (dict(wait_ms=60001), ValueError),
    (dict(wait_ms=-1), ValueError),
    (dict(wait_ms=True), TypeError),
    (dict(cuda_device=-1), ValueError),
    (dict(cuda_device="0"), TypeError),
    (dict(tenant=1 << 32), ValueError),
    (dict(priority=1 << 31), ValueError),
    (dict(priority=None), TypeError),
    (dict(step_ahead=-2), ValueError),
    (dict(tokens_per_step="1"), TypeError),
    (dict(cache_max_bytes=-1), ValueError),
    (dict(flags=1 << 5), ValueError),
    (dict(flags="x"), TypeError),
    (dict(device=3), TypeError),
    (dict(bogus=1), TypeError),
])
def test_bad_open_args_never_reach_c(kw, exc):
    # device=ABSENT would give FileNotFoundError if the call reached C.
    kw.setdefault("device", ABSENT)
    with pytest.raises(exc):
        kvmem.Context(**kw)


def test_positional_args_refused():
    with pytest.raises(TypeError):
        kvmem.Context(1)


def test_geometry_names():
    g = kvmem.Geometry(2, 2, 8, "bf16", 64, "per_seq")
    assert g.dtype == kvmem.DTYPE_BF16 and g.layout == kvmem.LAYOUT_PER_SEQ
    with pytest.raises(ValueError):
        kvmem.Geometry(2, 2, 8, "int4")
    with pytest.raises(ValueError):
        kvmem.Geometry(2, 2, 8, layout="paged")


def test_dtype_size_and_backend_name():
    assert [kvmem.dtype_size(d) for d in (1, 2, 3, 4, 9)] == [2, 2, 4, 1, 0]
    assert kvmem.backend_name(kvmem.BACKEND_CUDA) == "cuda"
    assert kvmem.backend_name(99) == "?"
    with pytest.raises(ValueError):
        kvmem.dtype_size(-1)


def test_constants_match_accel_h():
    text = open(os.path.join(REPO, "libaccel", "accel.h")).read()
    seen = 0
    for name, value in re.findall(
            r"\bACCEL_([A-Z0-9_]+)\s*=\s*(0x[0-9a-f]+|\d+)", text):
        assert getattr(kvmem, name) == int(value, 0), name
        seen += 1
    for name, value in re.findall(
            r"#define\s+ACCEL_(DEMAND_[A-Z]+)\s+(\d+)", text):
        assert getattr(kvmem, name) == int(value), name
        seen += 1
    for name, bit in re.findall(
            r"#define\s+ACCEL_(OPEN_[A-Z_]+)\s+\(1ULL << (\d+)\)", text):
        assert getattr(kvmem, name) == 1 << int(bit), name
        seen += 1
    assert seen >= 29


# ---- the cuda backend without the module, over the CUDA emulation -------

def cuda_emulated():
    return os.environ.get("KVMEM_PY_CUDA") == "1"


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice),
                ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p),
                ("deleter", ctypes.c_void_p)]


def capsule_tensor(cap):
    """The DLTensor of a DLPack capsule (read, the memory not touched)."""
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return DLManagedTensor.from_address(get(cap, b"dltensor")).dl_tensor


def check_device_capsule(t, seq, layer, kv, geo):
    info = seq.tensor_info(layer, kv)
    assert info.on_device and t.on_device
    assert t.__dlpack_device__() == (2, 0)
    with pytest.raises(BufferError):
        memoryview(t)
    with pytest.raises(AttributeError):
        t.__array_interface__
    cap = t.__dlpack__()
    dl = capsule_tensor(cap)
    assert dl.data == info.base and dl.device.device_type == 2
    assert dl.ndim == 3 and dl.byte_offset == 0
    assert [dl.shape[i] for i in range(3)] == \
        [t.tokens, geo.kv_heads, geo.head_dim]
    e = kvmem.dtype_size(geo.dtype)
    assert [dl.strides[i] for i in range(3)] == \
        [info.token_stride // e, info.head_stride // e, 1]
    assert (dl.dtype.code, dl.dtype.bits) == (2, 32)
    return cap


@pytest.mark.cuda
def test_cuda_nomodule_dlpack():
    geo = kvmem.Geometry(2, 2, 16, "f32", 4096, "per_seq")
    with kvmem.Context(backend="cuda", device=ABSENT) as ctx:
        i = ctx.info()
        assert i.backend == kvmem.BACKEND_CUDA and i.abi_version == 0
        assert ctx.pools() == []
        with ctx.create(geo, user_data="u") as seq:
            seq.grow(100)
            t = seq.v(1)
            assert t.shape == (100, 2, 16)
            cap = check_device_capsule(t, seq, 1, kvmem.V, geo)
            del t
            assert seq.holds == 1   # the capsule holds its Tensor
            del cap
            assert seq.holds == 0
            seq.swap_out()
            seq.wait(10000)
            assert seq.state == kvmem.SEQ_SWAPPED
            comp = ctx.wait_completions(10)
            assert [(c.op, c.status, c.user_data) for c in comp] == \
                [(kvmem.OP_SWAP_OUT, 0, "u")]
            assert comp[0].seq is seq
            seq.swap_in()
            seq.wait()
            assert seq.state == kvmem.SEQ_RESIDENT


@pytest.mark.cuda
def test_cuda_nomodule_no_pools_no_demand():
    geo = kvmem.Geometry(1, 1, 16, "f16", 256)
    with kvmem.Context(backend="cuda", device=ABSENT) as ctx:
        with pytest.raises(IndexError):
            ctx.pool(0)
        seq = ctx.create(geo)
        with pytest.raises(OSError) as ei:
            seq.set_demand(kvmem.DEMAND_RUNNING)
        assert ei.value.errno == errno.EOPNOTSUPP
        seq.destroy()
        with pytest.raises(ValueError):
            seq.grow(1)
