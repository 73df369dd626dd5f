# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest setup of the kvmem binding's tests (Documentation/python.md).

test_host.py needs no module (make check runs it on the build host);
test_module.py runs on the real module in the test VM (the vmtest
python_pytest sets KVMEM_PY_VM=1; without it those tests are skipped).
KVMEM_PY_TORCH=1 also runs the torch tests and the example; KVMEM_PY_CUDA=1
the cuda backend's over tests/cuda-emu's libcuda.so.1 (on
LD_LIBRARY_PATH). A test asked for by one of these variables never skips:
what it needs missing is a failure.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.environ.get("KVMEM_PY_PATH",
                                  os.path.join(REPO, "build", "python")))


def pytest_configure(config):
    config.addinivalue_line("markers", "vm: needs the kvmem module (VM)")
    config.addinivalue_line("markers", "torch: imports torch")
    config.addinivalue_line("markers", "cuda: cuda backend on the emulation")


def pytest_collection_modifyitems(config, items):
    want = {"vm": "KVMEM_PY_VM", "torch": "KVMEM_PY_TORCH",
            "cuda": "KVMEM_PY_CUDA"}
    for item in items:
        for mark, var in want.items():
            if mark in item.keywords and os.environ.get(var) != "1":
                item.add_marker(pytest.mark.skip(reason="%s=1 not set" % var))
