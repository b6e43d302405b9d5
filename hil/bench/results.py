#!/usr/bin/python3
"""Results of the HIL benchmark suite (hil/bench/bench.sh): raw records to results.json,
results.json to SVG plots (matplotlib), the summary table and the aims.

    results.py build OUTDIR [--elapsed S] [--failures N]
        reads OUTDIR/raw/{params.json,records.jsonl}, adds the machine and the versions,
        works out every figure, writes OUTDIR/results.json, the plots and summary.txt,
        and prints the table, the aims and a one-line summary.
    results.py show OUTDIR
        the same from an existing OUTDIR/results.json (plots drawn again).

MB/s here is 10^6 bytes per second, as iperf3's rates are; iscsi-perf's own "MB/s" is
MiB/s and is not used.
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import xml.dom.minidom

AIM_SEQ_OF_LINK = 0.90        # aim 1: 128k and 1M reads >= 90% of iperf3's rate
AIM_IOPS_PER_CPU = 250_000    # aim 2: 4k random reads at QD32, IOPS per target CPU-second
AIM_IOPS_RATIO = 3.0          # aim 2: and >= 3x tgtd's IOPS
AIM_WRITE_CPU_RATIO = 0.4     # aim 3: target CPU time per write <= 0.4x tgtd's
AIM_QD1_LAT_RATIO = 0.5       # aim 4: QD1 4k read round trip <= 0.5x tgtd's

OURS, BASE = "iscsilab", "tgtd"
# The storage that is no storage (vdisk_nullio beside tgtd's bstype null): what the
# transport, the protocol and the kernel's TCP cost alone. Its figures are a ceiling that
# the aims are read against, not aims of their own.
CEILING = "nullio"
BUSY_OTHER_MARK = 0.5         # a point where other work kept more cores busy than this is marked


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (p.stdout or p.stderr or "").strip()
    return text.splitlines()[0].strip() if text else None


def dpkg_version(pkg):
    return run(["dpkg-query", "-W", "-f=${Version}", pkg])


def machine():
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = None
    return {"nproc": os.cpu_count(), "kernel": platform.release(), "cpu_model": cpu,
            "mem_total_kb": mem_kb, "hostname": platform.node(), "loadavg_end": load}


def versions(params):
    repo = params.get("repo", ".")
    describe = run(["git", "-C", repo, "describe", "--always", "--dirty", "--tags"])
    v = {
        "libiscsi": dpkg_version("libiscsi-bin"),
        "qemu": run(["qemu-img", "--version"]),
        "iperf3": run(["iperf3", "--version"]),
        "python": platform.python_version(),
    }
    try:
        import matplotlib
        v["matplotlib"] = matplotlib.__version__
    except ImportError:
        v["matplotlib"] = None
    if params.get("mode") == "local":
        v["iscsilab"] = describe
        tgtd = run(["tgtd", "--version"])
        v["tgtd"] = f"{tgtd} (Debian tgt {dpkg_version('tgt')})" if tgtd else dpkg_version("tgt")
    else:
        v["iscsilab"] = "remote target: not known here"
        v["tgtd"] = "remote target: not known here"
        v["iscsilab_checkout"] = describe
    return v


def load_records(path):
    recs = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                recs.append(json.loads(line))
            except json.JSONDecodeError as e:
                print(f"results: {path}:{n}: skipped, not JSON ({e})", file=sys.stderr)
    return recs


def other_cores(p):
    """Busy cores during a point that were neither the target's nor the client's: other
    work on the machine (and kernel threads such as the loop device's workers)."""
    busy, wall = p.get("machine_busy_cores"), p.get("wall_s") or 0
    if busy is None or wall <= 0 or p.get("client_cpu_s") is None:
        return None
    return round(busy - (p.get("target_cpu_s") or 0) / wall - p["client_cpu_s"] / wall, 3)


# The figures of a point that are measured (not settings): with --reps, each is the
# median of the repetitions that worked.
MEASURED = ("wall_s", "ops", "iops", "MBps", "target_cpu_s", "target_cpu_cores", "iops_per_target_cpu_s",
            "target_cpu_us_per_op", "latency_us", "fraction_of_iperf3", "client_cpu_s", "machine_busy_cores",
            "loadavg_1m", "other_cores", "count", "qemu_reported_s")


def median_points(runs):
    """One point per (link, storage, target, workload): a point measured once is itself;
    one repeated (--reps) gets, for each measured figure, the median over its repetitions
    that worked (each figure on its own, so IOPS and CPU per op may come from different
    repetitions), with `reps` and `reps_ok` counting them and every repetition's IOPS
    and CPU per op kept in `rep_iops` and `rep_target_cpu_us_per_op`."""
    groups = {}
    for r in runs:
        groups.setdefault((r["link"], r["storage"], r["target"], r["workload"]), []).append(r)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(dict(group[0], reps=1))
            continue
        good = [g for g in group if g["ok"]]
        p = dict(good[0] if good else group[-1])
        p["reps"] = len(group)
        p["reps_ok"] = len(good)
        p["rep_iops"] = [g["iops"] for g in group]
        p["rep_target_cpu_us_per_op"] = [g.get("target_cpu_us_per_op") for g in group]
        if good:
            p["ok"], p["error"] = True, None
            for field in MEASURED:
                vals = [g[field] for g in good if g.get(field) is not None]
                if vals:
                    p[field] = statistics.median(vals)
        out.append(p)
    return out


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def assemble(outdir, elapsed, failures):
    with open(os.path.join(outdir, "raw", "params.json")) as f:
        params = json.load(f)
    recs = load_records(os.path.join(outdir, "raw", "records.jsonl"))
    hz = params.get("clk_tck", 100)
    cpu_known = params.get("target_cpu", True)

    # A link's rate: iperf3's, or with --reps the median of its runs that gave one.
    links = {}
    for r in recs:
        if r["kind"] == "iperf3":
            links.setdefault(r["link"], []).append(r)
    for link, rs in links.items():
        rates = [r["bits_per_second"] for r in rs if r.get("bits_per_second")]
        bps = statistics.median(rates) if rates else 0
        errors = [r["error"] for r in rs if r.get("error")]
        links[link] = {"iperf3_bits_per_second": bps or None, "iperf3_MBps": bps / 8e6 if bps else None,
                       "iperf3_seconds": rs[0].get("seconds"), "iperf3_streams": 1, "iperf3_runs": len(rs),
                       "iperf3_runs_bits_per_second": [r.get("bits_per_second") or 0 for r in rs],
                       "error": None if rates else (errors[0] if errors else "iperf3 gave no rate")}

    points = []
    for r in recs:
        if r["kind"] != "point":
            continue
        wall = r.get("wall_s") or 0.0
        if r["tool"] == "iscsi-perf":
            iops = float(r.get("iops_reported") or 0)
            ops = iops * wall
        else:
            ops = float(r.get("count") or 0)
            iops = ops / wall if wall > 0 else 0.0
        mbps = iops * r["bytes"] / 1e6
        ticks = r.get("cpu_ticks", -1)
        cpu_s = ticks / hz if (cpu_known and ticks is not None and ticks >= 0) else None
        ok = not r.get("error") and iops > 0
        p = {
            "link": r["link"], "storage": r["storage"], "target": r["target"], "workload": r["workload"],
            "rep": r.get("rep", 1), "op": r["op"], "pattern": r["pattern"], "bytes": r["bytes"], "qd": r["qd"], "tool": r["tool"],
            "ok": ok, "error": r.get("error") or None, "url": r.get("url"),
            "wall_s": round(wall, 4), "ops": round(ops), "iops": round(iops, 1), "MBps": round(mbps, 2),
            "target_cpu_s": round(cpu_s, 3) if cpu_s is not None else None,
            "target_cpu_cores": round(cpu_s / wall, 3) if cpu_s is not None and wall > 0 else None,
            "iops_per_target_cpu_s": round(ops / cpu_s, 1) if cpu_s and ok else None,
            "target_cpu_us_per_op": round(cpu_s / ops * 1e6, 3) if cpu_s is not None and ops > 0 and ok else None,
            "latency_us": round(1e6 / iops, 2) if r["qd"] == 1 and iops > 0 else None,
        }
        for field in ("client_cpu_s", "machine_busy_cores", "loadavg_1m"):
            p[field] = r.get(field)
        p["other_cores"] = other_cores(p)
        if r["tool"] == "qemu-img":
            p["count"] = r.get("count")
            p["qemu_reported_s"] = r.get("qemu_s")
        lk = links.get(r["link"], {})
        if r["op"] == "read" and r["pattern"] == "sequential" and lk.get("iperf3_MBps") and ok:
            p["fraction_of_iperf3"] = round(mbps / lk["iperf3_MBps"], 4)
        points.append(p)

    runs = points
    points = median_points(runs)
    index = {(p["link"], p["storage"], p["target"], p["workload"]): p for p in points}
    ratios = []
    seen = set()
    for p in points:
        key = (p["link"], p["storage"], p["workload"])
        if key in seen:
            continue
        seen.add(key)
        a = index.get((p["link"], p["storage"], OURS, p["workload"]))
        b = index.get((p["link"], p["storage"], BASE, p["workload"]))
        if not a or not b or not a["ok"] or not b["ok"]:
            continue
        entry = {"link": p["link"], "storage": p["storage"], "workload": p["workload"]}
        for field in ("iops", "MBps", "iops_per_target_cpu_s", "target_cpu_us_per_op", "latency_us"):
            v = ratio(a.get(field), b.get(field))
            entry[field] = round(v, 4) if v is not None else None
        ratios.append(entry)

    reactors = []
    for r in recs:
        if r["kind"] != "reactors":
            continue
        wall = r.get("wall_s") or 0.0
        total = float(sum(r.get("client_iops") or []))
        ticks = r.get("cpu_ticks", -1)
        cpu_s = ticks / hz if ticks is not None and ticks >= 0 else None
        ops = total * wall
        reactors.append({
            "link": r["link"], "storage": r["storage"], "reactors": r["reactors"], "clients": r["clients"],
            "ok": not r.get("error") and total > 0, "error": r.get("error") or None,
            "client_iops": r.get("client_iops"), "iops_total": round(total, 1), "wall_s": round(wall, 4),
            "target_cpu_s": round(cpu_s, 3) if cpu_s is not None else None,
            "iops_per_target_cpu_s": round(ops / cpu_s, 1) if cpu_s else None,
            "client_cpu_s": r.get("client_cpu_s"), "machine_busy_cores": r.get("machine_busy_cores"),
            "loadavg_1m": r.get("loadavg_1m"),
        })
        reactors[-1]["other_cores"] = other_cores(reactors[-1])

    # The loop device's own QD1 round trip (dd, O_DIRECT), one per link: the floor under
    # aim 4 on blockio.
    devices = []
    for r in recs:
        if r["kind"] != "device":
            continue
        us = r.get("qd1_read_us") or 0
        devices.append({"link": r["link"], "storage": r["storage"], "device": r.get("device"),
                        "tool": r.get("tool"), "ok": not r.get("error") and us > 0,
                        "qd1_read_us": round(us, 2) if us > 0 else None, "error": r.get("error") or None})

    res = {
        "schema": "iscsilab-bench/1",
        "started_utc": params.get("started_utc"),
        "elapsed_s": round(elapsed, 1) if elapsed is not None else None,
        "failed_steps": failures,
        "mode": params.get("mode"),
        "target_cpu_figures": bool(cpu_known),
        "machine": machine(),
        "versions": versions(params),
        "parameters": params,
        "links": links,
        "points": points,
        "runs": runs,
        "ratios": ratios,
        "reactors": reactors,
        "devices": devices,
        "units": {"MBps": "10^6 bytes/s", "latency_us": "QD1 round trip = 1e6 / IOPS",
                  "target_cpu_s": "utime+stime of the target process (all threads) over the point, /proc/PID/stat",
                  "iops_per_target_cpu_s": "operations / target CPU seconds",
                  "ratios": "iscsilab / tgtd, same link, storage and workload"},
    }
    if not cpu_known:
        res["target_cpu_note"] = "targets elsewhere (--target): no target CPU figures"
    res["aims"] = aims(res)
    return res


# ---------------------------------------------------------------- aims
def verdict(parts):
    """parts: list of booleans or None (unknown). False wins, then unknown."""
    if any(p is False for p in parts):
        return False
    if any(p is None for p in parts):
        return None
    return True


def aims(res):
    idx = {(p["link"], p["storage"], p["target"], p["workload"]): p for p in res["points"] if p["ok"]}
    rat = {(r["link"], r["storage"], r["workload"]): r for r in res["ratios"]}
    combos = []
    for p in res["points"]:
        c = (p["link"], p["storage"])
        if c not in combos:
            combos.append(c)
    out = []

    def get(link, st, t, w, field):
        p = idx.get((link, st, t, w))
        return p.get(field) if p else None

    def rget(link, st, w, field):
        r = rat.get((link, st, w))
        return r.get(field) if r else None

    def ge(v, lim):
        return None if v is None else v >= lim

    def le(v, lim):
        return None if v is None else v <= lim

    def pct(v):
        return "?" if v is None else f"{v * 100:.0f}%"

    def num(v, unit=""):
        return "?" if v is None else f"{v:,.0f}{unit}"

    def x(v):
        return "?" if v is None else f"{v:.2f}x"

    def us(v):
        return "?" if v is None else f"{v:.2f} us"

    have_ours = any(p["target"] == OURS for p in res["points"])
    for link, st in combos:
        tag = f"{link} {st}"
        if not have_ours:
            out.append({"id": 0, "link": link, "storage": st, "met": None,
                        "text": f"aims [{tag}]: no target named {OURS} (name one with --target {OURS}=URL)"})
            continue
        if st == CEILING:
            # Aim 2 asks for a target CPU cost per read (1e6 / AIM_IOPS_PER_CPU us) that
            # storage can only add to: this is what is left of it before any storage.
            eff = get(link, st, OURS, "r4k-qd32", "iops_per_target_cpu_s")
            cost = get(link, st, OURS, "r4k-qd32", "target_cpu_us_per_op")
            base = get(link, st, BASE, "r4k-qd32", "iops_per_target_cpu_s")
            f128 = get(link, st, OURS, "r128k-qd16", "fraction_of_iperf3")
            lq = get(link, st, OURS, "r4k-qd1", "latency_us")
            lq_base = get(link, st, BASE, "r4k-qd1", "latency_us")
            out.append({"id": 0, "link": link, "storage": st, "met": None,
                        "values": {"iops_per_target_cpu_s": eff, "target_cpu_us_per_op": cost,
                                   "tgtd_iops_per_target_cpu_s": base, "fraction_128k": f128,
                                   "latency_us": lq, "tgtd_latency_us": lq_base},
                        "text": f"ceiling [{tag}] no storage, the transport alone: 4k random reads qd32 "
                                f"{num(eff)} IOPS per target cpu-s ({us(cost)} per read; aim 2 allows "
                                f"{1e6 / AIM_IOPS_PER_CPU:.2f} us with the storage), tgtd {num(base)}; "
                                f"128k reads {pct(f128)} of iperf3; qd1 round trip {num(lq, ' us')} "
                                f"(tgtd {num(lq_base, ' us')})"})
            continue
        # 1. sequential reads and the link
        f128 = get(link, st, OURS, "r128k-qd16", "fraction_of_iperf3")
        f1m = get(link, st, OURS, "r1m-qd4", "fraction_of_iperf3")
        m128 = get(link, st, OURS, "r128k-qd16", "MBps")
        m8m = get(link, st, OURS, "r8m-qd2", "MBps")
        iperf = (res["links"].get(link) or {}).get("iperf3_MBps")
        no_slower = None if m128 is None or m8m is None else m8m >= m128
        out.append({"id": 1, "link": link, "storage": st,
                    "met": verdict([ge(f128, AIM_SEQ_OF_LINK), ge(f1m, AIM_SEQ_OF_LINK), no_slower]),
                    "values": {"fraction_128k": f128, "fraction_1m": f1m, "MBps_128k": m128, "MBps_8m": m8m,
                               "iperf3_MBps": iperf},
                    "text": f"aim 1 [{tag}] sequential reads of iperf3's {num(iperf, ' MB/s')}: 128k {pct(f128)}, "
                            f"1M {pct(f1m)} (>= {AIM_SEQ_OF_LINK:.0%}); 8M {num(m8m, ' MB/s')} vs 128k "
                            f"{num(m128, ' MB/s')} (no slower)"})
        # 2. small random reads: efficiency and against tgtd
        eff = get(link, st, OURS, "r4k-qd32", "iops_per_target_cpu_s")
        r_iops = rget(link, st, "r4k-qd32", "iops")
        ceiling = get(link, CEILING, OURS, "r4k-qd32", "iops_per_target_cpu_s")
        out.append({"id": 2, "link": link, "storage": st,
                    "met": verdict([ge(eff, AIM_IOPS_PER_CPU), ge(r_iops, AIM_IOPS_RATIO)]),
                    "values": {"iops_per_target_cpu_s": eff, "iops_ratio": r_iops,
                               "ceiling_iops_per_target_cpu_s": ceiling},
                    "text": f"aim 2 [{tag}] 4k random reads qd32: {num(eff)} IOPS per target cpu-s "
                            f"(>= {AIM_IOPS_PER_CPU:,}"
                            + (f"; {num(ceiling)} with no storage" if ceiling is not None else "")
                            + f"), {x(r_iops)} tgtd's IOPS (>= {AIM_IOPS_RATIO:.0f}x)"})
        # 3. target CPU per write
        w4 = rget(link, st, "w4k-qd32", "target_cpu_us_per_op")
        w128 = rget(link, st, "w128k-qd16", "target_cpu_us_per_op")
        out.append({"id": 3, "link": link, "storage": st,
                    "met": verdict([le(w4, AIM_WRITE_CPU_RATIO), le(w128, AIM_WRITE_CPU_RATIO)]),
                    "values": {"cpu_per_write_ratio_4k": w4, "cpu_per_write_ratio_128k": w128},
                    "text": f"aim 3 [{tag}] target cpu per write vs tgtd: 4k {x(w4)}, 128k {x(w128)} "
                            f"(<= {AIM_WRITE_CPU_RATIO}x)"})
        # 4. QD1 round trip. Ours is at least the transport's round trip (nullio's) plus
        # the device's own (blockio: dd on the loop device); both are printed beside it,
        # so that a miss can be read as the device's or the target's.
        lat = rget(link, st, "r4k-qd1", "latency_us")
        l_ours = get(link, st, OURS, "r4k-qd1", "latency_us")
        l_base = get(link, st, BASE, "r4k-qd1", "latency_us")
        l_none = get(link, CEILING, OURS, "r4k-qd1", "latency_us")
        l_dev = next((d["qd1_read_us"] for d in res.get("devices", [])
                      if d["link"] == link and d["storage"] == st and d["ok"]), None)
        parts = ([f"{num(l_none, ' us')} with no storage"] if l_none is not None else []) + \
                ([f"the device alone {num(l_dev, ' us')}"] if l_dev is not None else [])
        out.append({"id": 4, "link": link, "storage": st, "met": verdict([le(lat, AIM_QD1_LAT_RATIO)]),
                    "values": {"latency_ratio": lat, "latency_us": l_ours, "tgtd_latency_us": l_base,
                               "no_storage_latency_us": l_none, "device_latency_us": l_dev},
                    "text": f"aim 4 [{tag}] 4k read round trip at qd1: {num(l_ours, ' us')}"
                            + (f" ({'; '.join(parts)})" if parts else "")
                            + f" vs tgtd {num(l_base, ' us')}, {x(lat)} (<= {AIM_QD1_LAT_RATIO}x)"})
    return out


# ---------------------------------------------------------------- plots
def size_label(b):
    return f"{b // 1048576}M" if b >= 1048576 else f"{b // 1024}k"


def plots(res, outdir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []

    def save(fig, name):
        """Writes one figure as outdir/name (SVG) and lists it."""
        fig.tight_layout()
        fig.savefig(os.path.join(outdir, name), format="svg")
        plt.close(fig)
        made.append(name)

    pts = [p for p in res["points"] if p["ok"]]
    links = []
    for p in res["points"]:
        if p["link"] not in links:
            links.append(p["link"])
    series_style = {}
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink"]

    def style(target, storage):
        key = (target, storage)
        if key not in series_style:
            series_style[key] = colours[len(series_style) % len(colours)]
        return series_style[key]

    for link in links:
        # throughput against block size
        fig, ax = plt.subplots(figsize=(8, 5))
        combos = []
        for p in res["points"]:
            if p["link"] == link and (p["target"], p["storage"]) not in combos:
                combos.append((p["target"], p["storage"]))
        sizes = {}
        for t, st in combos:
            c = style(t, st)
            for op, ls, mk in (("read", "-", "o"), ("write", "--", "s")):
                sel = sorted((p for p in pts if p["link"] == link and p["target"] == t and p["storage"] == st
                              and p["op"] == op and not (op == "read" and p["qd"] == 1)),
                             key=lambda p: p["bytes"])
                if not sel:
                    continue
                for p in sel:
                    if p["op"] == "read" or p["bytes"] not in sizes:
                        sizes[p["bytes"]] = f"{size_label(p['bytes'])}" + (
                            f"\n{'rand ' if p['pattern'] == 'random' else ''}qd{p['qd']}" if p["op"] == "read" else "")
                ax.plot([p["bytes"] for p in sel], [p["MBps"] for p in sel], ls, marker=mk, color=c,
                        label=f"{t} {st} {op}s")
        lk = res["links"].get(link) or {}
        if lk.get("iperf3_MBps"):
            ax.axhline(lk["iperf3_MBps"], color="grey", ls=":", label="iperf3, one stream")
        if sizes:
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(sizes))
            ax.set_xticklabels([sizes[b] for b in sorted(sizes)])
        ax.set_xlabel("request size (reads: pattern and queue depth below; writes: sequential, 4k qd32, 128k qd16)")
        ax.set_ylabel("MB/s (10^6 bytes/s)")
        ax.set_title(f"Throughput against request size, link {link}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, f"throughput_{link}.svg")

        # IOPS against queue depth (4 KiB random reads, writes as marks)
        fig, ax = plt.subplots(figsize=(8, 5))
        qds = set()
        for t, st in combos:
            c = style(t, st)
            sel = sorted((p for p in pts if p["link"] == link and p["target"] == t and p["storage"] == st
                          and p["op"] == "read" and p["bytes"] == 4096), key=lambda p: p["qd"])
            if sel:
                qds.update(p["qd"] for p in sel)
                ax.plot([p["qd"] for p in sel], [p["iops"] for p in sel], "-o", color=c, label=f"{t} {st} 4k random reads")
            sel = [p for p in pts if p["link"] == link and p["target"] == t and p["storage"] == st
                   and p["op"] == "write" and p["bytes"] == 4096]
            if sel:
                qds.update(p["qd"] for p in sel)
                ax.plot([p["qd"] for p in sel], [p["iops"] for p in sel], "s", color=c, mfc="none",
                        label=f"{t} {st} 4k sequential writes")
        if qds:
            ax.set_xscale("log", base=2)
            ax.set_xticks(sorted(qds))
            ax.set_xticklabels([str(q) for q in sorted(qds)])
        ax.set_xlabel("queue depth (outstanding requests per client)")
        ax.set_ylabel("IOPS")
        ax.set_title(f"IOPS against queue depth, 4 KiB, link {link}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        save(fig, f"iops_qd_{link}.svg")

    if res["reactors"]:
        cells = [r for r in res["reactors"]]
        labels = [f"r{r['reactors']} c{r['clients']}" for r in cells]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
        a1.bar(labels, [r["iops_total"] for r in cells], color="tab:blue")
        a1.set_title("total IOPS")
        a2.bar(labels, [r["iops_per_target_cpu_s"] or 0 for r in cells], color="tab:green")
        a2.set_title("IOPS per target CPU-second")
        for a in (a1, a2):
            a.set_xlabel("--reactors R, C clients")
            a.grid(True, axis="y", alpha=0.3)
        fig.suptitle("iscsilab reactors matrix, 4 KiB random reads at QD32 per client")
        save(fig, "reactors.svg")

    for name in made:   # a plot that does not parse is no plot
        xml.dom.minidom.parse(os.path.join(outdir, name))
    return made


# ---------------------------------------------------------------- table

def wl_label(p):
    s = f"{p['op']} {size_label(p['bytes'])}"
    if p["pattern"] == "random":
        s += " rand"
    return f"{s} qd{p['qd']}"


def fmt(v, spec=",.0f", none="-"):
    return none if v is None else format(v, spec)


def busy_mark(p):
    o = p.get("other_cores")
    return " *" if o is not None and o > BUSY_OTHER_MARK else ""


def table(res):
    lines = []
    marked = False
    pts = res["points"]
    combos = []
    for p in pts:
        if (p["link"], p["storage"]) not in combos:
            combos.append((p["link"], p["storage"]))
    rat = {(r["link"], r["storage"], r["workload"]): r for r in res["ratios"]}
    head = (f"{'workload':<20}{'target':<10}{'IOPS':>11}{'MB/s':>10}{'cpu s':>8}{'IOPS/cpu-s':>12}"
            f"{'cpu us/op':>11}{'lat us':>9}{'of link':>9}")
    for link, st in combos:
        lk = res["links"].get(link) or {}
        lim = f"iperf3 one stream {lk['iperf3_MBps']:,.0f} MB/s" if lk.get("iperf3_MBps") else "no iperf3 figure"
        reps = max((p.get("reps", 1) for p in pts if p["link"] == link and p["storage"] == st), default=1)
        each = f"; each figure the median of {reps} runs" if reps > 1 else ""
        lines.append(f"== {link} {st} ({lim}{each}) ==")
        lines.append(head)
        wls = []
        for p in pts:
            if p["link"] == link and p["storage"] == st and p["workload"] not in wls:
                wls.append(p["workload"])
        for w in wls:
            first = True
            for p in (q for q in pts if q["link"] == link and q["storage"] == st and q["workload"] == w):
                label = wl_label(p) if first else ""
                first = False
                if not p["ok"]:
                    lines.append(f"{label:<20}{p['target']:<10}  FAILED: {p['error'] or 'no figure'}")
                    continue
                frac = p.get("fraction_of_iperf3")
                marked = marked or bool(busy_mark(p))
                lines.append(f"{label:<20}{p['target']:<10}{fmt(p['iops']):>11}{fmt(p['MBps'], ',.1f'):>10}"
                             f"{fmt(p['target_cpu_s'], '.2f'):>8}{fmt(p['iops_per_target_cpu_s']):>12}"
                             f"{fmt(p['target_cpu_us_per_op'], '.2f'):>11}{fmt(p['latency_us'], '.1f'):>9}"
                             f"{(fmt(frac * 100, '.0f') + '%') if frac is not None else '':>9}{busy_mark(p)}")
            r = rat.get((link, st, w))
            if r:
                def rx(v):
                    return "-" if v is None else f"{v:.2f}x"
                lines.append(f"{'':<20}{'ratio':<10}{rx(r['iops']):>11}{rx(r['MBps']):>10}{'':>8}"
                             f"{rx(r['iops_per_target_cpu_s']):>12}{rx(r['target_cpu_us_per_op']):>11}"
                             f"{rx(r['latency_us']):>9}")
        lines.append("")
    if res["reactors"]:
        r0 = res["reactors"][0]
        lines.append(f"== reactors matrix: iscsilab, {r0['link']} {r0['storage']}, 4k random reads qd32 per client ==")
        lines.append(f"{'reactors':>8}{'clients':>9}{'IOPS total':>12}{'IOPS/cpu-s':>12}{'cpu s':>8}  per client")
        for r in res["reactors"]:
            if not r["ok"]:
                lines.append(f"{r['reactors']:>8}{r['clients']:>9}  FAILED: {r['error']}")
                continue
            marked = marked or bool(busy_mark(r))
            lines.append(f"{r['reactors']:>8}{r['clients']:>9}{fmt(r['iops_total']):>12}"
                         f"{fmt(r['iops_per_target_cpu_s']):>12}{fmt(r['target_cpu_s'], '.2f'):>8}  "
                         + ", ".join(f"{v:,}" for v in (r["client_iops"] or [])) + busy_mark(r))
        lines.append("")
    if not res.get("target_cpu_figures", True):
        lines.append("(targets elsewhere: no target CPU figures)")
        lines.append("")
    if marked:
        lines.append(f"* other work (neither the target nor the client) kept more than {BUSY_OTHER_MARK} of a core "
                     f"busy during that point: treat it as noisy (other_cores in results.json)")
    note = load_note(res)
    if note:
        lines.append(note)
        lines.append("")
    lines.append("Aims (iscsilab; the benchmark is not a test):")
    for a in res["aims"]:
        state = {True: "met", False: "NOT met", None: "n/a"}[a["met"]]
        if a["storage"] == CEILING:
            state = "a ceiling, not an aim"
        lines.append(f"{a['text']}: {state}")
    return lines


def load_note(res):
    """A line when other work ran on the machine: the 1-minute load average at the start
    and the end of the run, and the highest seen at the end of a point."""
    try:
        start = float(str(res["parameters"].get("loadavg_start", "")).split()[0])
        end = float(str(res["machine"].get("loadavg_end", "")).split()[0])
    except (ValueError, IndexError, KeyError):
        return None
    items = res["points"] + res["reactors"]
    peak = max([p.get("loadavg_1m") or 0 for p in items] + [end])
    if any(p.get("other_cores") is not None for p in items):
        # each point's own figure (the * marks) says more than the load average, which
        # counts this run's client and target too
        if start <= 0.7:
            return None
    elif max(start, peak) <= 2.5 and start <= 0.7:
        return None
    return (f"note: 1-minute load average {start:.2f} at the start, up to {peak:.2f} during the run: other work "
            f"shared this machine, so the figures are noisy (each point's load and busy cores are in results.json)")


def summary_line(res, outdir):
    pts = res["points"]
    ok = sum(1 for p in pts if p["ok"])
    failed = res.get("failed_steps") or 0
    met = sum(1 for a in res["aims"] if a["met"] is True)
    judged = sum(1 for a in res["aims"] if a["met"] is not None)
    el = res.get("elapsed_s")
    el_s = f"{int(el // 60)}m{int(el % 60):02d}s" if el is not None else "?"
    head = ""
    for r in res["ratios"]:
        if r["workload"] == "r4k-qd32":
            head = f"; {r['link']} {r['storage']} 4k qd32 iscsilab/tgtd {r['iops']:.2f}x IOPS"
            break
    return (f"bench: {ok} points measured, {len(res['reactors'])} reactor cells, {failed} failed steps in {el_s}"
            f"{head}; aims met {met}/{judged}; results in {outdir}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("outdir")
    b.add_argument("--elapsed", type=float)
    b.add_argument("--failures", type=int, default=0)
    s = sub.add_parser("show")
    s.add_argument("outdir")
    a = ap.parse_args()
    outdir = os.path.abspath(a.outdir)
    if a.cmd == "build":
        res = assemble(outdir, a.elapsed, a.failures)
    else:
        with open(os.path.join(outdir, "results.json")) as f:
            res = json.load(f)
    res["plots"] = plots(res, outdir)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump(res, f, indent=2)
        f.write("\n")
    lines = table(res)
    lines.append("")
    lines.append(summary_line(res, outdir))
    text = "\n".join(lines)
    with open(os.path.join(outdir, "summary.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
