#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench's serving figures (Documentation/serving-bench.md).

Reads build/bench/results.json as tools/bench.sh wrote it (one list of
BENCH-JSON objects per kernel), finds kvmem-serve's object ("bench":
"serving") of each kernel, and adds to the file:
  serving            per policy (recompute, vllm_swap, fastswitch, kvmem)
                     the figures of the last kernel that ran it, medians
                     over the interleaved rounds, each with its spread
  serving_kernel     that kernel
  serving_ratios     kvmem's P99 TTFT and P99.9 TBT against each baseline
                     (baseline / kvmem: above 1 is kvmem better)
  serving_by_kernel  the same per kernel
Then writes serving-*.png (gnuplot, if installed) and serving-report.md
into the output directory. Usage: serving.py RESULTS_JSON OUTDIR
"""
import json
import os
import shutil
import subprocess
import sys

KEYS = ["p50_ttft_ms", "p99_ttft_ms", "p99_tbt_ms", "p999_tbt_ms",
        "throughput_tok_s", "jain", "max_service_diff", "switches",
        "bytes_moved", "stall_s", "copy_bw_ratio", "output_checksum"]
EXTRA = ["bytes_reused", "copies", "sync_copy_s", "idle_stall_s", "copy_busy_s",
         "recomputed_tokens", "wall_s", "steps", "cpu_over_model", "grows",
         "grows_blocked", "working_set_peak_units", "fair_steps",
         "incomplete"]
POLICIES = ["recompute", "vllm_swap", "fastswitch", "kvmem"]


def policy_figures(p):
    out = {k: p[k] for k in KEYS + EXTRA if k in p}
    for k in KEYS + EXTRA:
        if k + "_spread" in p:
            out[k + "_spread"] = p[k + "_spread"]
    return out


def ratios(pol):
    r = {}
    kv = pol.get("kvmem")
    if not kv:
        return r
    for b in ("recompute", "vllm_swap", "fastswitch"):
        if b not in pol:
            continue
        r[b] = {}
        for k in ("p99_ttft_ms", "p999_tbt_ms"):
            r[b][k] = pol[b][k] / kv[k] if kv[k] else None
    return r


def plots(obj, outdir, kernel):
    if not shutil.which("gnuplot"):
        print("serving.py: no gnuplot (tools/install-deps.sh installs "
              "gnuplot-nox): no plots", file=sys.stderr)
        return []
    pol = obj["policies"]
    names = [p for p in POLICIES if p in pol]
    files = []
    for m, label in (("ttft", "TTFT (ms)"), ("tbt", "TBT (ms)")):
        dat = os.path.join(outdir, "serving-%s.dat" % m)
        with open(dat, "w") as f:
            pcts = list(range(101)) + [99.5, 99.9]
            rows = sorted(range(len(pcts)), key=lambda i: pcts[i])
            for i in rows:
                f.write("%g %s\n" % (pcts[i] / 100, " ".join(
                    "%g" % pol[n][m + "_pct"][i] for n in names)))
        png = os.path.join(outdir, "serving-%s-cdf.png" % m)
        cmd = ["set terminal pngcairo noenhanced size 800,500",
               "set output '%s'" % png,
               "set title '%s tail (1 - CDF), %s (measured, QEMU TCG "
               "guest)'" % (m.upper(), kernel),
               "set xlabel '%s'" % label,
               "set ylabel 'fraction of samples above'",
               "set logscale xy", "set yrange [0.001:1]",
               "set key top right", "set grid"]
        cmd.append("plot " + ", ".join(
            "'%s' using %d:(1-$1) with lines lw 2 title '%s'" % (
                dat, i + 2, n)
            for i, n in enumerate(names)))
        subprocess.run(["gnuplot"], input="\n".join(cmd), text=True,
                       check=True)
        files.append(png)
    # Service share per tenant over time, one panel per policy.
    w = obj.get("weights", [1, 2, 4])
    png = os.path.join(outdir, "serving-service-share.png")
    cmd = ["set terminal pngcairo noenhanced size 900,%d" % (
        220 * len(names)),
           "set output '%s'" % png,
           "set multiplot layout %d,1 title 'weighted service share per "
           "tenant, 1 s windows (weights %s)'" % (
               len(names), ":".join("%g" % x for x in w)),
           "set yrange [0:1]", "set key outside right", "set grid"]
    for n in names:
        dat = os.path.join(outdir, "serving-share-%s.dat" % n)
        with open(dat, "w") as f:
            for row in pol[n].get("service_share", []):
                f.write(" ".join("%g" % x for x in row) + "\n")
        ncol = len(pol[n]["service_share"][0]) if pol[n].get(
            "service_share") else 1
        cmd.append("set title '%s'" % n)
        if ncol > 1:
            cmd.append("plot " + ", ".join(
                "'%s' using 1:%d with steps lw 2 title 'tenant %d'" % (
                    dat, i + 2, i) for i in range(ncol - 1)))
    cmd.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(cmd), text=True, check=True)
    files.append(png)
    return files


def report(res, outdir, pngs):
    pol = res["serving"]
    k = res["serving_kernel"]
    lines = ["# Serving benchmark (measured)", "",
             "Kernel %s, QEMU TCG guest with 2 vCPUs: absolute times mean "
             "little, compare the policies (same trace, same budget, "
             "interleaved rounds; medians, spread min-max). "
             "Documentation/serving-bench.md says how to read them." % k, ""]
    hdr = ["policy", "P50 TTFT ms", "P99 TTFT ms", "P99 TBT ms",
           "P99.9 TBT ms", "tok/s", "Jain", "max svc diff", "switches",
           "MB moved", "stall s", "copy/memcpy", "checksum"]
    lines.append("| " + " | ".join(hdr) + " |")
    lines.append("|" + "---|" * len(hdr))

    def sp(p, key, fmt):
        s = p.get(key + "_spread")
        v = fmt % p[key]
        if s and s[0] != s[1]:
            v += " (" + fmt % s[0] + "-" + fmt % s[1] + ")"
        return v
    for n in POLICIES:
        if n not in pol:
            continue
        p = pol[n]
        lines.append("| " + " | ".join([
            n, sp(p, "p50_ttft_ms", "%.1f"), sp(p, "p99_ttft_ms", "%.1f"),
            sp(p, "p99_tbt_ms", "%.1f"), sp(p, "p999_tbt_ms", "%.1f"),
            sp(p, "throughput_tok_s", "%.0f"), sp(p, "jain", "%.3f"),
            sp(p, "max_service_diff", "%.0f"), sp(p, "switches", "%.0f"),
            "%.1f" % (p["bytes_moved"] / 1e6), sp(p, "stall_s", "%.3f"),
            "%.3f" % p["copy_bw_ratio"], p["output_checksum"]]) + " |")
    lines += ["", "kvmem against each baseline (baseline / kvmem; above 1: "
              "kvmem better):", ""]
    for b, r in res.get("serving_ratios", {}).items():
        lines.append("- %s: P99 TTFT %.2fx, P99.9 TBT %.2fx" % (
            b, r["p99_ttft_ms"] or 0, r["p999_tbt_ms"] or 0))
    if "kvmem" in pol:
        g = pol["kvmem"]
        lines += ["", "kvmem grows that blocked: %d of %d (step-ahead off "
                  "in this engine: see serving-bench.md)" % (
                      g.get("grows_blocked", 0), g.get("grows", 0))]
    lines += [""] + ["![%s](%s)" % (os.path.basename(p), os.path.basename(p))
                     for p in pngs]
    with open(os.path.join(outdir, "serving-report.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    path, outdir = sys.argv[1], sys.argv[2]
    with open(path) as f:
        res = json.load(f)
    by_k = {}
    for k, v in res.items():
        if not isinstance(v, list):
            continue
        for o in v:
            if isinstance(o, dict) and o.get("bench") == "serving":
                by_k[k] = o
    if not by_k:
        print("serving.py: no serving figures in %s" % path, file=sys.stderr)
        return 1
    kernel = sorted(by_k)[-1]
    obj = by_k[kernel]
    res["serving"] = {n: policy_figures(p) for n, p in obj["policies"].items()}
    res["serving_kernel"] = kernel
    res["serving_checksums_match"] = obj.get("checksums_match")
    res["serving_ratios"] = ratios(res["serving"])
    res["serving_by_kernel"] = {
        k: {n: policy_figures(p) for n, p in o["policies"].items()}
        for k, o in by_k.items()}
    pngs = plots(obj, outdir, kernel)
    report(res, outdir, pngs)
    with open(path + ".tmp", "w") as f:
        json.dump(res, f, indent=1)
    os.replace(path + ".tmp", path)
    bad = [k for k, o in by_k.items() if not o.get("checksums_match")]
    if bad:
        print("serving.py: output checksums differ between policies on %s"
              % ", ".join(bad), file=sys.stderr)
        return 1
    print("serving: figures in %s (serving), report %s" % (
        path, os.path.join(outdir, "serving-report.md")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
