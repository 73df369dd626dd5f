# SPDX-License-Identifier: LGPL-2.1-or-later
"""The binding on the real kvmem module (test VM, reserve_mib=16, pools of
dram and cxl): every call and its errors, zero-copy views, views across
grows and swaps, lifetimes (views outliving sequences and contexts, fork),
completions through selectors, threads, torch, and the cuda backend over
the CUDA emulation with the module."""
import ctypes
import errno
import gc
import os
import selectors
import threading

import numpy as np
import pytest

import kvmem

pytestmark = pytest.mark.vm

GEO = {
    "per_layer": kvmem.Geometry(2, 2, 16, "f32", 1024, "per_layer"),
    "per_seq": kvmem.Geometry(2, 2, 16, "f32", 1024, "per_seq"),
}


@pytest.fixture
def ctx():
    with kvmem.Context(backend="host", no_keep=True) as c:
        yield c


def free_frames(c):
    return sum(p.frames_free for p in c.pools())


def test_info_pools_stats(ctx):
    i = ctx.info()
    assert i.backend == kvmem.BACKEND_HOST and i.abi_version > 0
    assert i.tier == kvmem.TIER_DRAM and i.swap_tier == kvmem.TIER_CXL
    pools = ctx.pools()
    assert len(pools) == i.npools >= 2
    assert {p.tier for p in pools} >= {kvmem.TIER_DRAM, kvmem.TIER_CXL}
    with pytest.raises(IndexError):
        ctx.pool(i.npools)
    st = ctx.stats()
    assert st.grow_calls == 0 and len(st) == 15
    assert ctx.trim() == 0
    assert isinstance(ctx.fileno(), int)


@pytest.mark.parametrize("layout", ["per_layer", "per_seq"])
def test_views_alias_memory(ctx, layout):
    g = GEO[layout]
    page = ctx.info().page_size
    tok = 2 * 16 * 4 * (1 if layout == "per_layer" else 2 * g.layers)
    nspaces = 2 * g.layers if layout == "per_layer" else 1
    assert ctx.seq_bytes(g) == nspaces * (-(-g.max_tokens * tok // page) * page)
    with ctx.create(g, hint_tokens=0) as seq:
        assert seq.tokens == 0
        assert seq.grow(10) is True and seq.tokens == 10
        assert seq.grow(5) is False and seq.tokens == 10   # no shrink
        assert seq.mapped_tokens >= 10
        with pytest.raises(ValueError):
            seq.grow(g.max_tokens + 1)
        with pytest.raises(ValueError):
            seq.tensor(0, 0, tokens=11)
        with pytest.raises(IndexError):
            seq.k(g.layers)
        with pytest.raises(ValueError):
            seq.tensor(0, 2)
        k = seq.k(1)
        a = np.asarray(k)
        info = seq.tensor_info(1, kvmem.K)
        assert a.shape == (10, 2, 16) and a.dtype == np.float32
        assert a.strides == (info.token_stride, 64, 4) == k.strides
        assert a.__array_interface__["data"][0] == info.base == k.base
        m = memoryview(k)
        assert m.format == "f" and m.shape == (10, 2, 16)
        a[3, 1, 5] = 42.5
        # Seen through the C tensor address and a second view.
        addr = info.base + 3 * info.token_stride + info.head_stride + 5 * 4
        assert ctypes.c_float.from_address(addr).value == 42.5
        assert np.asarray(seq.k(1))[3, 1, 5] == 42.5
        if layout == "per_seq":   # V follows K within a token
            v = seq.tensor_info(1, kvmem.V)
            assert v.base == info.base + 2 * 16 * 4
        # Views across grows: the tensor never moves.
        seq.grow(600)
        b = np.asarray(seq.k(1))
        assert b.shape[0] == 600 and b[3, 1, 5] == 42.5
        b[599] = 7
        del a, b, m, k


def test_dtypes(ctx):
    for name, np_dtype in (("f16", np.float16), ("bf16", np.uint16),
                           ("fp8", np.uint8)):
        g = kvmem.Geometry(1, 2, 8, name, 64)
        with ctx.create(g) as seq:
            seq.grow(4)
            a = np.asarray(seq.v(0))
            assert a.dtype == np_dtype and a.shape == (4, 2, 8)
            del a


def test_create_errors(ctx):
    with pytest.raises(TypeError):
        ctx.create(object())
    with pytest.raises(ValueError):
        ctx.create(kvmem.Geometry(0, 1, 1))
    with pytest.raises(ValueError):
        ctx.create(GEO["per_seq"], hint_tokens=2000)
    big = kvmem.Geometry(1, 64, 128, "f32", 1 << 16, "per_seq")
    seq = ctx.create(big)
    with pytest.raises(OSError) as ei:
        seq.grow(1 << 16)   # 2 GiB: far beyond the 16 MiB pool
    assert ei.value.errno == errno.ENOMEM and "pool" in str(ei.value)
    seq.destroy()


def test_open_errors():
    with pytest.raises(OSError) as ei:
        kvmem.Context(backend="host", tier="hbm")
    assert ei.value.errno == errno.ENODEV and "tier" in str(ei.value)
    with kvmem.Context(backend="host", tier="cxl") as c:
        assert c.info().swap_tier == kvmem.TIER_DEFAULT
        seq = c.create(GEO["per_seq"])
        seq.grow(1)
        with pytest.raises(OSError) as ei:
            seq.swap_out()
        assert ei.value.errno == errno.EOPNOTSUPP
    with pytest.raises(ValueError):
        seq.grow(2)   # closed with its context


def test_swap_views_completions_selectors(ctx):
    g = GEO["per_seq"]
    with ctx.create(g, user_data={"req": 1}) as seq:
        seq.grow(300)
        a = np.asarray(seq.k(0))
        a[:] = np.arange(a.size, dtype=np.float32).reshape(a.shape)
        want = a.copy()
        with pytest.raises(OSError) as ei:
            seq.swap_in()
        assert ei.value.errno == errno.EBUSY
        seq.swap_out()
        with pytest.raises(BufferError):
            seq.k(0)
        sel = selectors.DefaultSelector()
        sel.register(ctx.fileno(), selectors.EVENT_READ)
        assert sel.select(30), "accel_fd readable"
        comp = list(ctx.completions())
        assert len(comp) == 1
        c = comp[0]
        assert c.seq is seq and c.user_data == {"req": 1}
        assert c.op == kvmem.OP_SWAP_OUT and c.status == 0
        assert c.bytes_copied > 0
        assert seq.state == kvmem.SEQ_SWAPPED
        with pytest.raises(OSError) as ei:
            seq.grow(301)
        assert ei.value.errno == errno.EBUSY
        seq.swap_in()
        seq.wait(30000)
        assert seq.state == kvmem.SEQ_RESIDENT
        assert (a == want).all()          # the old view, across the swap
        assert ctx.poll_completions()[0].op == kvmem.OP_SWAP_IN
        seq.swap_out()                    # clean copies reused
        seq.wait()
        c = ctx.wait_completions(30)[0]
        assert c.bytes_reused > 0 and c.bytes_copied == 0
        seq.swap_in()
        seq.wait()
        assert (np.asarray(seq.k(0)) == want).all()
        st = ctx.stats()
        assert st.swaps_out == 2 and st.swaps_in == 2
        sel.close()
        del a
    with pytest.raises(ValueError):
        seq.wait()


def test_sequence_tenant(ctx):
    ntenants = int(open("/sys/module/kvmem/parameters/tenants").read())
    with ctx.create(GEO["per_seq"], tenant=3) as seq:
        seq.grow(64)
    for bad in (-1, 1 << 32, "3"):
        with pytest.raises((ValueError, TypeError)):
            ctx.create(GEO["per_seq"], tenant=bad)
    with pytest.raises(OSError) as ei:
        ctx.create(GEO["per_seq"], tenant=ntenants)
    assert ei.value.errno == errno.EINVAL


def test_progress_priority_demand(ctx):
    with ctx.create(GEO["per_seq"], priority=5) as seq:
        seq.grow(3)
        seq.set_progress(3)
        seq.set_priority(-2)
        seq.set_demand(kvmem.DEMAND_RUNNING)
        assert seq.may_run() is True
        with pytest.raises(ValueError):
            seq.set_demand(9)
        with pytest.raises(OSError) as ei:
            seq.set_progress(5000)
        assert ei.value.errno == errno.EINVAL


def test_view_outlives_sequence_and_context():
    ctx = kvmem.Context(backend="host", no_keep=True)
    free0 = free_frames(ctx)
    seq = ctx.create(GEO["per_layer"])
    seq.grow(100)
    a = np.asarray(seq.v(1))
    a[:] = 3.0
    seq.destroy()
    assert seq.destroyed and not seq.freed
    with pytest.raises(ValueError):
        seq.grow(101)
    ctx.close()
    assert ctx.closed and ctx.live_sequences == 1
    with pytest.raises(ValueError):
        ctx.info()
    assert (a == 3.0).all()   # still the sequence's memory, still there
    del a
    gc.collect()
    assert seq.freed and ctx.live_sequences == 0
    with kvmem.Context(backend="host") as c2:
        assert free_frames(c2) == free0


def test_torch_from_numpy_keeps_alive(ctx):
    pytest.importorskip("numpy")
    seq = ctx.create(GEO["per_seq"])
    seq.grow(8)
    t = seq.k(0)
    mv = memoryview(t)
    del t
    seq.destroy()
    assert not seq.freed
    mv[0, 0, 0] = 1.5
    assert mv[0, 0, 0] == 1.5
    mv.release()
    assert seq.freed


def test_fork_child_defined(ctx):
    seq = ctx.create(GEO["per_seq"])
    seq.grow(16)
    a = np.asarray(seq.k(0))
    a[:] = 9.0
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            try:
                seq.grow(17)
                code = 2
            except ChildProcessError:
                pass
            try:
                ctx.info()
                code = 3
            except ChildProcessError:
                pass
            if not (a == 0).all():   # not inherited: zeros, no fault
                code = 4
            a[:] = 1.0
            seq.destroy()
            ctx.close()
        except BaseException:
            code = 5
        os.write(w, bytes([code]))
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.read(r, 1) == b"\0" and status == 0
    os.close(r)
    os.close(w)
    assert (a == 9.0).all() and ctx.info().npools >= 2
    seq.grow(17)
    del a
    seq.destroy()


def test_threads(ctx):
    errs = []

    def engine(n):
        try:
            with ctx.create(GEO["per_seq"], user_data=n) as seq:
                for step in range(1, 200):
                    seq.grow(step)
                    k = np.asarray(seq.k(1, tokens=step))
                    k[step - 1] = n * 1000 + step
                ref = np.asarray(seq.k(1))[:, 0, 0]
                assert (ref == n * 1000 + np.arange(1, 200)).all()
                del k
        except BaseException as e:   # noqa: B902
            errs.append(e)

    th = [threading.Thread(target=engine, args=(n,)) for n in range(4)]
    for t in th:
        t.start()
    for t in th:
        t.join()
    assert not errs
    # One sequence hammered from two threads, destroyed by a third.
    seq = ctx.create(GEO["per_layer"])

    def grower():
        for i in range(1, 500):
            try:
                seq.grow(i)
                np.asarray(seq.k(0))[i - 1] = i
            except ValueError:
                return   # destroyed meanwhile: the defined outcome
    th = [threading.Thread(target=grower) for _ in range(2)]
    for t in th:
        t.start()
    seq.destroy()
    for t in th:
        t.join()
    gc.collect()
    assert seq.freed


# ---- torch (6.12 only: a cold import costs 25-60 s under TCG) -------------

@pytest.mark.torch
def test_torch_aliases(ctx):
    import torch
    with ctx.create(kvmem.Geometry(2, 2, 16, "bf16", 256, "per_seq")) as seq:
        seq.grow(5)
        t = kvmem.as_torch(seq.v(1))
        assert t.dtype == torch.bfloat16 and t.shape == (5, 2, 16)
        info = seq.tensor_info(1, kvmem.V)
        assert t.data_ptr() == info.base
        assert t.stride() == (info.token_stride // 2, 16, 1)
        t[2, 1, 3] = 2.5
        raw = np.asarray(seq.v(1))      # bf16 bits through numpy
        assert raw[2, 1, 3] == 0x4020   # 2.5 in bfloat16
        del t, raw
    with ctx.create(GEO["per_layer"]) as seq:
        seq.grow(4)
        a = np.asarray(seq.k(0))
        a[1, 0, 2] = -4.0
        t1 = torch.from_numpy(a)
        t2 = torch.frombuffer(memoryview(seq.k(0)), dtype=torch.float32)
        t3 = kvmem.as_torch(seq.k(0))
        assert t1[1, 0, 2] == t2[1 * 32 + 2] == t3[1, 0, 2] == -4.0
        t3[3] = 1.0
        assert (a[3] == 1.0).all()
        del a, t1, t2, t3


@pytest.mark.torch
def test_example_gqa_decode():
    import runpy
    here = os.path.dirname(os.path.abspath(__file__))
    ex = os.path.join(here, "..", "..", "examples", "torch_gqa_decode.py")
    mod = runpy.run_path(ex, run_name="kvmem_example")
    assert mod["main"](["--quiet"]) == 0


# ---- the cuda backend over the emulation, with the module --------------------

@pytest.mark.cuda
def test_cuda_backend_with_module():
    from test_host import check_device_capsule
    geo = kvmem.Geometry(2, 2, 16, "f32", 2048, "per_layer")
    with kvmem.Context(backend="cuda") as c:
        i = c.info()
        assert i.backend == kvmem.BACKEND_CUDA and i.abi_version > 0
        with c.create(geo, user_data=7) as seq:
            seq.grow(64)
            t = seq.k(1)
            cap = check_device_capsule(t, seq, 1, kvmem.K, geo)
            del cap, t
            seq.swap_out()
            seq.wait(30000)
            comp = c.wait_completions(30)
            assert comp and comp[0].user_data == 7 and comp[0].status == 0
            with pytest.raises(BufferError):
                seq.k(0)
            seq.swap_in()
            seq.wait(30000)
            assert seq.state == kvmem.SEQ_RESIDENT
            assert c.stats().swaps_in == 1
