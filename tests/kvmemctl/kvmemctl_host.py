#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kvmemctl on the host, with no module: usage errors exit 2, every
command's --help exits 0, a missing module, device or daemon exits 1 with
a message that names it and the fix; against a fake sysfs tree (--sysfs)
the tables and --json match the files and tenant set / pool resize write
them; against a fake kvmemd socket, tenant set and move go through it.
One PASS/FAIL line per test. Usage: kvmemctl_host.py PATH-TO-KVMEMCTL"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

ctl = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="kvmemctl-host-")
nosock = os.path.join(tmp, "none.sock")
failed = 0


def result(name, ok, why=""):
    global failed
    print(("PASS" if ok else "FAIL") + " kvmemctl_host/" + name)
    if not ok:
        failed = 1
        print("  " + why, file=sys.stderr)


def run(*args):
    p = subprocess.run([ctl] + list(args), capture_output=True, text=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def usage_errors_exit_2():
    cases = [[], ["bogus"], ["status", "--bogus"], ["status", "extra"],
             ["--socket"], ["top", "-n", "x"], ["top", "-d", "0"],
             ["top", "extra"], ["pools", "1"], ["pool"],
             ["pool", "grow"], ["pool", "resize"], ["pool", "resize", "x",
                                                    "--frames", "1"],
             ["pool", "resize", "pool0"], ["pool", "resize", "pool0",
                                           "--frames", "1", "--mib", "1"],
             ["pool", "add-device"], ["pool", "add-device", "zz:zz"],
             ["pool", "add-device", "0000:01:00.0", "--tier", "fast"],
             ["pool", "add-device", "0000:01:00.0", "--frame-size", "3"],
             ["pool", "add-device", "0000:01:00.0", "--force"],
             ["pool", "remove-device"], ["tenant"], ["tenant", "get", "1"],
             ["tenant", "set"], ["tenant", "set", "1"],
             ["tenant", "set", "x", "--weight", "2"],
             ["tenant", "set", "1", "--weight", "10001"],
             ["tenant", "set", "1", "--quota", "fast=3"],
             ["tenant", "set", "1", "--quota", "dram=-3"],
             ["tenant", "set", "1", "--uid", "-2"], ["seqs", "x"],
             ["move"], ["move", "1"], ["move", "x", "dram"],
             ["move", "1", "warp"], ["move", "1", "dram", "--timeout", "0"],
             ["daemon"], ["daemon", "reboot"], ["daemon", "request"],
             ["--no-daemon", "daemon", "status"]]
    bad = []
    for c in cases:
        rc, out, err = run(*c)
        if rc != 2 or not err.startswith("kvmemctl: "):
            bad.append("%s: exit %d, %r" % (c, rc, err[:120]))
    result("usage_errors_exit_2", not bad, "; ".join(bad))


def help_exits_0():
    cmds = [[], ["status"], ["top"], ["pools"], ["pool"], ["pool", "resize"],
            ["pool", "add-device"], ["pool", "remove-device"], ["tenants"],
            ["tenant", "set"], ["seqs"], ["move"], ["daemon"]]
    bad = []
    for c in cmds:
        rc, out, err = run(*(c + ["--help"]))
        if rc != 0 or "usage: kvmemctl" not in out or err:
            bad.append("%s: exit %d" % (c, rc))
    rc, out, _ = run("--version")
    if rc != 0 or not out.startswith("kvmemctl "):
        bad.append("--version")
    result("help_exits_0", not bad, "; ".join(bad))


def no_module_exits_1():
    miss = os.path.join(tmp, "no-sysfs")
    dev = os.path.join(tmp, "no-device")
    cases = [
        (["--sysfs", miss, "--no-daemon", "status"], "module is not loaded"),
        (["--sysfs", miss, "pools", "--json"], "modprobe kvmem"),
        (["--sysfs", miss, "-s", nosock, "tenants"], "not loaded"),
        (["--sysfs", miss, "-s", nosock, "top", "-n", "1"], "not loaded"),
        (["--sysfs", miss, "--no-daemon", "seqs"], "not loaded"),
        (["--device", dev, "--no-daemon", "move", "1", "dram"], dev),
        (["--device", dev, "--no-daemon", "pool", "add-device",
          "0000:01:00.0", "--mib", "64", "--force"], dev),
        (["-s", nosock, "daemon", "status"], "kvmemd is not running"),
        (["-s", nosock, "daemon", "pause"], nosock),
        (["pool", "add-device", "0000:7f:1f.7", "--mib", "64"],
         "no PCI device 0000:7f:1f.7"),
        (["pool", "add-device", "7f:1f.7", "--mib", "64"],
         os.strerror(19)),
    ]
    bad = []
    for args, want in cases:
        rc, out, err = run(*args)
        if rc != 1 or want not in err:
            bad.append("%s: exit %d, %r" % (args, rc, err[:160]))
    result("no_module_exits_1", not bad, "; ".join(bad))


def fake_sysfs():
    root = os.path.join(tmp, "sysfs")
    files = {"abi_version": "1", "spaces": "2", "clients": "1"}
    pools = [
        {"kind": "node", "node": "0", "tier": "dram", "page_size": "65536",
         "frames_total": "256", "frames_free": "250", "frames_used": "6",
         "reserve": "256", "low_watermark": "0"},
        {"kind": "node", "node": "1", "tier": "cxl", "page_size": "65536",
         "frames_total": "128", "frames_free": "128", "frames_used": "0",
         "reserve": "128", "low_watermark": "0"},
        {"kind": "device", "device": str(0x3b00), "tier": "hbm",
         "page_size": str(2 << 20), "frames_total": "32",
         "frames_free": "30", "frames_used": "2", "low_watermark": "0"},
    ]
    for k, v in files.items():
        os.makedirs(root, exist_ok=True)
        open(os.path.join(root, k), "w").write(v + "\n")
    for i, p in enumerate(pools):
        d = os.path.join(root, "pools", "pool%d" % i)
        os.makedirs(d)
        for k, v in p.items():
            open(os.path.join(d, k), "w").write(v + "\n")
    for t in range(4):
        d = os.path.join(root, "tenants", str(t))
        os.makedirs(d)
        vals = {"weight": "1", "uid": "-1", "gid": "-1", "faults": "0",
                "preemptions": "0", "spaces_runnable": "0",
                "spaces_preempted": "0", "spaces_prefetch": "0"}
        for tier in ("hbm", "dram", "cxl"):
            vals["quota_" + tier] = "max"
            vals["frames_" + tier] = "0"
            vals["migrated_in_" + tier] = "0"
            vals["migrated_out_" + tier] = "0"
        if t == 2:
            vals["frames_dram"] = "6"
            vals["weight"] = "4"
        for k, v in vals.items():
            open(os.path.join(d, k), "w").write(v + "\n")
    return root, pools


def against_fake_sysfs():
    root, pools = fake_sysfs()
    base = ["--sysfs", root, "--proc", os.path.join(tmp, "noproc"),
            "-s", nosock]
    bad = []
    rc, out, err = run(*(base + ["pools", "--json"]))
    try:
        j = json.loads(out)
        got = [(p["index"], p["kind"], p["tier"], p["frames_total"],
                p["frames_free"], p["frames_used"], p["reserve"])
               for p in j["pools"]]
        want = [(i, p["kind"], p["tier"], int(p["frames_total"]),
                 int(p["frames_free"]), int(p["frames_used"]),
                 int(p["reserve"]) if "reserve" in p else None)
                for i, p in enumerate(pools)]
        if got != want:
            bad.append("pools --json %s != %s" % (got, want))
        if j["pools"][2]["pci"] != "0000:3b:00.0" or j["source"] != \
                {"daemon": None, "module": root}:
            bad.append("pools --json device/source: %s" % out)
    except (ValueError, KeyError, IndexError) as e:
        bad.append("pools --json: %r %r" % (e, out[:200]))
    rc, out, err = run(*(base + ["status"]))
    if rc != 0 or "source: module (sysfs" not in out or \
            "0000:3b:00.0" not in out or "kvmemd: not running" not in out:
        bad.append("status: %d %r" % (rc, out[:300]))
    rc, out, err = run(*(base + ["tenants", "--json"]))
    try:
        ids = [t["id"] for t in json.loads(out)["tenants"]]
        if ids != [0, 2]:
            bad.append("tenants --json (used ones) %s" % ids)
    except (ValueError, KeyError) as e:
        bad.append("tenants --json: %r" % e)
    rc, out, err = run(*(base + ["tenants", "--all", "--json"]))
    if rc != 0 or len(json.loads(out)["tenants"]) != 4:
        bad.append("tenants --all: %d" % rc)
    rc, out, err = run(*(base + ["tenant", "set", "1", "--weight", "5",
                                 "--quota", "dram=100", "--uid", "1001"]))
    t1 = os.path.join(root, "tenants", "1")
    if rc != 0 or open(t1 + "/weight").read() != "5" or \
            open(t1 + "/quota_dram").read() != "100" or \
            open(t1 + "/uid").read() != "1001" or "sysfs" not in out:
        bad.append("tenant set 1: %d %r %r" % (rc, out, err))
    rc, out, err = run(*(base + ["tenant", "set", "9", "--weight", "5"]))
    if rc != 1 or "no tenant 9" not in err:
        bad.append("tenant set 9: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["tenant", "set", "1", "--quota-mib", "5"]))
    if rc != 1 or "kvmemd is not running" not in err:
        bad.append("--quota-mib without kvmemd: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["pool", "resize", "pool1", "--mib", "4"]))
    if rc != 0 or open(root + "/pools/pool1/reserve").read() != "64":
        bad.append("pool resize pool1 --mib 4: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["pool", "resize", "2", "--frames", "4"]))
    if rc != 1 or "device pool" not in err:
        bad.append("resize of a device pool: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["pool", "resize", "pool7", "--frames", "4"]))
    if rc != 1 or "no pool7" not in err:
        bad.append("resize of no pool: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["pool", "remove-device", "pool0"]))
    if rc != 1 or "node pool" not in err:
        bad.append("remove-device of a node pool: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["top", "-n", "3", "-d", "0.05"]))
    if rc != 0 or out.count("source: module (sysfs)") != 3 or \
            "TENANT" not in out:
        bad.append("top -n 3 (not a tty): %d %r" % (rc, out[:200]))
    rc, out, err = run(*(base + ["top", "-n", "2", "-d", "0.05", "--json"]))
    lines = out.strip().split("\n")
    if rc != 0 or len(lines) != 2 or "pools" not in json.loads(lines[1]):
        bad.append("top --json: %d %r" % (rc, out[:200]))
    result("fake_sysfs", not bad, "; ".join(bad))
    return root


class FakeKvmemd(threading.Thread):
    """Answers the control socket's requests as kvmemd.md says."""

    def __init__(self, path):
        super().__init__(daemon=True)
        self.path = path
        self.requests = []
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.bind(path)
        self.s.listen(8)
        self.switches = 0

    def reply(self, req):
        cmd = req.get("cmd")
        if cmd == "status":
            return {"ok": True, "device": True, "paused": False,
                    "fast_tier": "dram", "slow_tier": "cxl", "sequences": 1,
                    "inflight": 0, "preemptions": 3, "resumes": 1,
                    "switches_failed": 0, "used_bytes": 0,
                    "capacity_bytes": 1 << 24}
        if cmd == "tenants":
            return {"ok": True, "tenants": [{"id": 0, "weight": 1.0,
                                             "counter": 5.0,
                                             "fast_bytes": 65536}]}
        if cmd == "set_tenant":
            return {"ok": True}
        if cmd == "move":
            if req.get("sequence") != 7:
                return {"ok": False, "errno": 2, "error": "move: no sequence"}
            self.switches += 1
            return {"ok": True}
        if cmd == "sequences":
            return {"ok": True, "sequences": [
                {"id": 7, "tenant": 0, "residency": "slow",
                 "switches": self.switches}]}
        return {"ok": False, "errno": 22, "error": "unknown cmd"}

    def run(self):
        while True:
            c, _ = self.s.accept()
            f = c.makefile("rwb")
            for line in f:
                req = json.loads(line)
                self.requests.append(req)
                f.write((json.dumps(self.reply(req)) + "\n").encode())
                f.flush()
            c.close()


def against_fake_kvmemd(root):
    path = os.path.join(tmp, "kvmemd.sock")
    d = FakeKvmemd(path)
    d.start()
    base = ["--sysfs", root, "--proc", os.path.join(tmp, "noproc"),
            "-s", path]
    bad = []
    rc, out, err = run(*(base + ["tenant", "set", "2", "--weight", "3",
                                 "--quota-mib", "1"]))
    if rc != 0 or "via kvmemd" not in out or {
            "cmd": "set_tenant", "tenant": 2, "weight": 3,
            "quota_bytes": 1 << 20} not in d.requests:
        bad.append("tenant set via kvmemd: %d %r %s" % (rc, err, d.requests))
    rc, out, err = run(*(base + ["tenant", "set", "2", "--quota", "dram=4"]))
    if rc != 1 or "owns the tenants' quotas" not in err:
        bad.append("per-tier quota with kvmemd: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["move", "7", "cxl"]))
    if rc != 0 or {"cmd": "move", "sequence": 7, "tier": "slow"} not in \
            d.requests or "moved to kvmemd's slow tier" not in out:
        bad.append("move 7 cxl via kvmemd: %d %r %r" % (rc, out, err))
    rc, out, err = run(*(base + ["move", "8", "slow"]))
    if rc != 1 or "no sequence" not in err:
        bad.append("move of an unknown sequence: %d %r" % (rc, err))
    rc, out, err = run(*(base + ["status", "--json"]))
    try:
        j = json.loads(out)
        if rc != 0 or not j["daemon"]["running"] or \
                j["source"]["daemon"] != path:
            bad.append("status --json with kvmemd: %r" % out[:200])
    except (ValueError, KeyError) as e:
        bad.append("status --json: %r" % e)
    rc, out, err = run(*(base + ["daemon", "request", '{"cmd":"x"}']))
    if rc != 1 or '"ok":false' not in out:
        bad.append("daemon request refused: %d %r" % (rc, out))
    rc, out, err = run(*(base + ["top", "-n", "1"]))
    if rc != 0 or "kvmemd: deciding" not in out:
        bad.append("top with kvmemd: %d %r" % (rc, out[-200:]))
    result("fake_kvmemd", not bad, "; ".join(bad))


usage_errors_exit_2()
help_exits_0()
no_module_exits_1()
root = against_fake_sysfs()
against_fake_kvmemd(root)
sys.exit(failed)
