#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kvmemd as a real process on the host, with no module (--no-device):
bad configuration exits 2 before anything is touched; the control socket
answers every malformed request and survives abuse; the metrics endpoint
serves strict Prometheus text; SIGTERM stops it cleanly. One PASS/FAIL
line per test. Usage: kvmemd_host.py PATH-TO-KVMEMD"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

kvmemd = sys.argv[1]
tmp = tempfile.mkdtemp(prefix="kvmemd-host-")
failed = 0


def result(name, ok, why=""):
    global failed
    print(("PASS" if ok else "FAIL") + " kvmemd_host/" + name)
    if not ok:
        failed = 1
        print("  " + why, file=sys.stderr)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_exit(args, conf=None):
    if conf is not None:
        path = os.path.join(tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(conf)
        args = ["--config", path] + args
    p = subprocess.run([kvmemd] + args, capture_output=True, text=True,
                       timeout=20)
    return p.returncode, p.stdout + p.stderr


def bad_config_exits_2():
    sock = os.path.join(tmp, "never.sock")
    cases = [
        (["--no-device", "-s", sock], "[policy]\nhysteresis = -3\n",
         "bad.conf:2:"),
        (["--no-device", "-s", sock], "[daemon]\n\ninterval_ms = 0\n",
         "bad.conf:3:"),
        (["--no-device", "-s", sock, "--metrics", "1.2.3.4.5:1"], None,
         "--metrics"),
        (["--no-device", "-s", sock, "--socket-group", "no-such-group-x"],
         None, "no such group"),
        (["--no-device", "--frobnicate"], None, "--frobnicate"),
        (["--device", "/nonexistent", "-s", sock], "[tenant.1]\nweight=0\n",
         "bad.conf:2:"),
    ]
    for args, conf, want in cases:
        rc, out = run_exit(args, conf)
        if rc != 2 or want not in out or os.path.exists(sock):
            return result("bad_config_exits_2", False,
                          "%s: exit %d, %r (want 2 and %r)" % (args, rc, out,
                                                               want))
    rc, out = run_exit(["--check-config", "-s", sock], "[tenant.2]\nweight=3\n")
    if rc != 0 or os.path.exists(sock):
        return result("bad_config_exits_2", False, "--check-config: %d %r" %
                      (rc, out))
    rc, out = run_exit(["--help"])
    result("bad_config_exits_2", rc == 0 and "--no-device" in out,
           "--help: %d" % rc)


def start(port):
    sock = os.path.join(tmp, "ctl.sock")
    p = subprocess.Popen([kvmemd, "--no-device", "-s", sock, "-m",
                          "127.0.0.1:%d" % port, "--weight", "1=2",
                          "--weight", "2=4", "-i", "5"],
                         stderr=subprocess.PIPE, text=True)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return p, sock


def ask(f, line):
    f.write(line + b"\n")
    f.flush()
    return json.loads(f.readline())


def control_socket(sock, p):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock)
    f = s.makefile("rwb")
    r = ask(f, b'{"cmd":"status"}')
    if (not r.get("ok") or r.get("device") is not False or
            r.get("resumes") != 0 or r.get("resume_wait_s") != 0):
        return result("control_socket", False, "status: %r" % r)
    bad = [b"", b"{", b"null", b"[1]", b'{"cmd":"status","x":1}',
           b'{"cmd":"nope"}', b'{"cmd":"set_tenant","tenant":1,"weight":0}',
           b'{"cmd":"set_tenant","tenant":1,"weight":"2"}',
           b'{"cmd":"move","sequence":1,"tier":"warp"}',
           b'{"cmd":"move","sequence":1,"tier":"fast"}',
           b'{"cmd":"tenants","a":[]}', b'{"cmd":"sequences","b":{}}',
           b'{"cmd":"pause","c":1}', b'{"cmd":"resume","d":1}',
           b"\xff\xfe\x00\x01", b'{"cmd":"status"} trailing']
    for line in bad:
        r = ask(f, line)
        if r.get("ok") is not False or not r.get("errno") or not r.get("error"):
            return result("control_socket", False, "%r -> %r" % (line, r))
    # Pipelined requests come back in order.
    f.write(b'{"cmd":"pause"}\n{"cmd":"status"}\n{"cmd":"resume"}\n'
            b'{"cmd":"status"}\n')
    f.flush()
    got = [json.loads(f.readline()) for _ in range(4)]
    if not (got[1].get("paused") is True and got[3].get("paused") is False):
        return result("control_socket", False, "pipelined: %r" % got)
    r = ask(f, b'{"cmd":"set_tenant","tenant":2,"weight":7}')
    t = ask(f, b'{"cmd":"tenants"}')
    w = {x["id"]: x["weight"] for x in t.get("tenants", [])}
    if not r.get("ok") or w.get(2) != 7 or w.get(1) != 2:
        return result("control_socket", False, "weights: %r" % t)
    # A line with no newline in 4 KiB: one error, then closed.
    s2 = socket.socket(socket.AF_UNIX)
    s2.connect(sock)
    s2.sendall(b"x" * 5000)
    data = b""
    while True:
        chunk = s2.recv(4096)
        if not chunk:
            break
        data += chunk
    r = json.loads(data.split(b"\n")[0])
    if r.get("ok") is not False or r.get("errno") != 7:
        return result("control_socket", False, "long line: %r" % data)
    # Half-sent requests and abrupt closes, many connections at once.
    conns = []
    for i in range(40):
        c = socket.socket(socket.AF_UNIX)
        c.connect(sock)
        c.sendall(b'{"cmd":"sta')
        conns.append(c)
    for c in conns:
        c.close()
    r = ask(f, b'{"cmd":"status"}')
    result("control_socket", r.get("ok") is True and p.poll() is None,
           "after abuse: %r, exit %r" % (r, p.poll()))
    s.close()


def metrics(port):
    url = "http://127.0.0.1:%d/metrics" % port
    with urllib.request.urlopen(url, timeout=5) as r:
        ctype = r.headers.get("Content-Type", "")
        text = r.read().decode()
    name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
    sample = re.compile(r"^(%s)(\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\""
                        r"(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"]*\")*\})? "
                        r"(-?[0-9.]+([eE][-+]?[0-9]+)?|[-+]Inf|NaN)$" % name)
    typed = {}
    for line in text.splitlines():
        m = re.match(r"^# TYPE (%s) (counter|gauge|histogram)$" % name, line)
        if m:
            if m.group(1) in typed or not m.group(1).startswith("kvmem_"):
                return result("metrics", False, "TYPE %s" % line)
            typed[m.group(1)] = m.group(2)
            continue
        if line.startswith("# HELP "):
            continue
        m = sample.match(line)
        if not m:
            return result("metrics", False, "bad line %r" % line)
        base = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
        if m.group(1) not in typed and typed.get(base) != "histogram":
            return result("metrics", False, "untyped %r" % line)
    need = ["kvmem_num_preemptions_total", "kvmem_swap_total_bytes",
            "kvmem_tenant_service_total", "kvmem_tenant_virtual_counter",
            "kvmem_decision_latency_seconds", "kvmem_fast_tier_usage_perc",
            "kvmem_resume_wait_seconds_total", "kvmem_resume_bytes_total"]
    missing = [n for n in need if n not in typed]
    if missing or "version=0.0.4" not in ctype:
        return result("metrics", False, "missing %r, type %r" % (missing,
                                                                  ctype))
    if 'kvmem_tenant_weight{tenant="2"} 7' not in text:
        return result("metrics", False, "weight 7 not shown")
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/other" % port, timeout=5)
        return result("metrics", False, "/other answered 200")
    except urllib.error.HTTPError as e:
        if e.code != 404:
            return result("metrics", False, "/other: %d" % e.code)
    result("metrics", True)


def main():
    bad_config_exits_2()
    port = free_port()
    p, sock = start(port)
    try:
        control_socket(sock, p)
        metrics(port)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = -9
        err = p.stderr.read()
    # ASan/UBSan reports or a crash show here.
    result("clean_stop", rc == 0 and not os.path.exists(sock) and
           "ERROR" not in err and "runtime error" not in err,
           "exit %d, socket left %s, stderr %r" % (rc, os.path.exists(sock),
                                                   err[-2000:]))
    return failed


sys.exit(main())
