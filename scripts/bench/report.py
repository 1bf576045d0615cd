#!/usr/bin/env python3
"""Figures helper of scripts/bench.sh (standard library only).

  report.py put FIGS SECTION key=value...
      append one record {"section": SECTION, key: value, ...} to FIGS (JSON lines);
      values that look like numbers are stored as numbers.
  report.py pgbench FIGS SECTION NAME --logs PREFIX --window START END
                    [--stderr FILE] [key=value...]
      read the per-transaction logs PREFIX.* of one pgbench run (-l) and its
      stderr, compute the workload figures of the window [START, END] (epoch
      seconds) and append them as a record.
  report.py render DIR
      turn DIR/figures.jsonl into DIR/figures.json and DIR/report.md, print
      the report's tables on stdout.

pgbench -l lines: client_id transaction_no time script_no time_epoch time_us
[schedule_lag]; time (µs) is measured from the scheduled start when --rate is
used, so the time a transaction spent executing is time - schedule_lag.
"""
import glob
import json
import math
import os
import re
import sys


def num(v):
    for conv in (int, float):
        try:
            return conv(v)
        except ValueError:
            pass
    if v in ("true", "false"):
        return v == "true"
    if v in ("null", ""):
        return None
    return v


def append(figs, rec):
    with open(figs, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def cmd_put(args):
    figs, section = args[0], args[1]
    rec = {"section": section}
    for kv in args[2:]:
        k, _, v = kv.partition("=")
        rec[k] = num(v)
    append(figs, rec)


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(math.ceil(p / 100.0 * len(sorted_vals))) - 1))
    return sorted_vals[k]


def read_log(prefix):
    txns = []  # (begin_exec, end, exec_s, total_s, failed, script_no)
    for path in sorted(glob.glob(glob.escape(prefix) + ".[0-9]*")):
        with open(path) as f:
            for line in f:
                p = line.split()
                if len(p) < 6:
                    continue
                end = int(p[4]) + int(p[5]) / 1e6
                if p[2] in ("failed", "skipped"):
                    txns.append((end, end, 0.0, 0.0, p[2] == "failed", int(p[3])))
                    continue
                total = int(p[2]) / 1e6
                lag = int(p[6]) / 1e6 if len(p) >= 7 and p[6].lstrip("-").isdigit() else 0.0
                ex = total - lag
                txns.append((end - ex, end, ex, total, False, int(p[3])))
    return txns


def stderr_errors(path):
    """Errors a pgbench run reported: aborted clients and failed transactions."""
    aborted, failed, samples = 0, 0, []
    if path and os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                if "aborted in command" in line or re.search(r"\bERROR\b|FATAL", line):
                    if "aborted in command" in line:
                        aborted += 1
                    if len(samples) < 3:
                        samples.append(line.strip()[:300])
                m = re.search(r"number of failed transactions: (\d+)", line)
                if m:
                    failed += int(m.group(1))
    return aborted, failed, samples


def window_stats(txns, start, end, scripts=None):
    dur = end - start
    # TPS over the window, or over the second around it when it is shorter.
    ts, te = start, end
    if dur < 1.0:
        mid = (start + end) / 2
        ts, te = mid - 0.5, mid + 0.5
    done = sum(1 for t in txns if ts <= t[1] <= te and not t[4])
    over = [t for t in txns if t[0] <= end and t[1] >= start and not t[4]]
    ex = sorted(t[2] for t in over)
    tot = sorted(t[3] for t in over)
    worst = max(over, key=lambda t: t[2]) if over else None
    worst_script = None
    if worst is not None:
        worst_script = scripts[worst[5]] if scripts and worst[5] < len(scripts) else f"script {worst[5]}"
    return {
        "max_script": worst_script,
        "seconds": round(dur, 3),
        "tps": round(done / (te - ts), 1) if te > ts else None,
        "transactions": len(over),
        "p50_ms": round(percentile(ex, 50) * 1000, 2) if ex else None,
        "p99_ms": round(percentile(ex, 99) * 1000, 2) if ex else None,
        "max_ms": round(ex[-1] * 1000, 1) if ex else None,
        "max_incl_lag_ms": round(tot[-1] * 1000, 1) if tot else None,
        "failed_in_window": sum(1 for t in txns if t[4] and start <= t[1] <= end),
    }


def cmd_pgbench(args):
    figs, section, name = args[0], args[1], args[2]
    rest = args[3:]
    logs = stderr = None
    start = end = None
    extra = {}
    scripts = None
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--logs":
            logs = rest[i + 1]
            i += 2
        elif a == "--scripts":
            scripts = rest[i + 1].split()
            i += 2
        elif a == "--stderr":
            stderr = rest[i + 1]
            i += 2
        elif a == "--window":
            start, end = float(rest[i + 1]), float(rest[i + 2])
            i += 3
        else:
            k, _, v = a.partition("=")
            extra[k] = num(v)
            i += 1
    txns = read_log(logs)
    if start is None:
        start = min((t[0] for t in txns), default=0.0)
        end = max((t[1] for t in txns), default=0.0)
    rec = {"section": section, "name": name}
    rec.update(window_stats(txns, start, end, scripts))
    aborted, failed, samples = stderr_errors(stderr)
    rec["errors"] = aborted + failed
    rec["aborted_clients"] = aborted
    if samples:
        rec["error_samples"] = samples
    rec.update(extra)
    append(figs, rec)
    print(json.dumps(rec))


# ---- report ------------------------------------------------------------------

def fmt(v, nd=0):
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def verdict(ok):
    if ok is None:
        return "n/a"
    return "met" if ok else "**MISSED**"


def cmd_render(args):
    d = args[0]
    recs = []
    with open(os.path.join(d, "figures.jsonl")) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    by = {}
    for r in recs:
        by.setdefault(r["section"], []).append(r)
    meta = (by.get("meta") or [{}])[-1]
    targets = []
    md = [f"# ecplan benchmark — {meta.get('started', '')}", ""]
    md.append(f"Command: `{meta.get('command', 'scripts/bench.sh')}`  ")
    md.append(f"Machine: {meta.get('cpus', '?')} CPUs, {meta.get('mem_gib', '?')} GiB RAM; "
              f"PostgreSQL {meta.get('pg_version', '?')} ({meta.get('server', '')}); "
              f"ecplan {meta.get('ecplan_version', '?')} ({meta.get('ecplan_build', '')})  ")
    md.append(f"Plan: `{meta.get('plan', '')}` — {meta.get('change', '')}; "
              f"lock_timeout_ms {meta.get('lock_timeout_ms')}, batch_size {meta.get('batch_size')}, "
              f"target_batch_ms {meta.get('target_batch_ms')}")
    md.append("")

    # 1. backfill throughput: the median of the repetitions at each size
    def med(v):
        v = sorted(x for x in v if x is not None)
        if not v:
            return None
        return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2

    runs = by.get("backfill_run", [])
    fill = []
    for n in sorted({r["rows"] for r in runs}):
        rs = [r for r in runs if r["rows"] == n]
        agg = {"section": "backfill", "rows": n, "repetitions": len(rs)}
        for k in ("plain_seconds", "plain_rows_per_s", "ecplan_seconds", "ecplan_rows_per_s",
                  "ecplan_phase_seconds", "ecplan_status_rows_per_s", "ratio", "final_batch_size"):
            agg[k] = med([r.get(k) for r in rs])
        agg["rss_mib"] = max((r["rss_mib"] for r in rs if r.get("rss_mib") is not None), default=None)
        agg["ecplan_rows_per_s_each"] = [r.get("ecplan_rows_per_s") for r in rs]
        agg["plain_rows_per_s_each"] = [r.get("plain_rows_per_s") for r in rs]
        fill.append(agg)
    if fill:
        md += ["## 1. Backfill throughput (no workload)", ""]
        rows = []
        for r in fill:
            rows.append([fmt(r["rows"]), fmt(r["repetitions"]), fmt(r.get("plain_seconds"), 2),
                         fmt(r.get("plain_rows_per_s"), 0),
                         fmt(r.get("ecplan_seconds"), 2), fmt(r.get("ecplan_rows_per_s"), 0),
                         fmt(r.get("ratio"), 2), fmt(r.get("ecplan_status_rows_per_s"), 0),
                         fmt(r.get("ecplan_phase_seconds"), 2), fmt(r.get("final_batch_size"), 0),
                         fmt(r.get("rss_mib"), 1)])
        md.append(table(["rows", "runs", "plain UPDATE s", "plain rows/s", "ecplan backfill s", "ecplan rows/s",
                         "ecplan / plain", "rows/s per `status`", "whole backfill phase s",
                         "last batch size", "peak RSS MiB (max)"], rows))
        md.append("")
        md.append("Medians of the repetitions (each on fresh identical tables, the order alternating); "
                  "every repetition:")
        md.append("")
        md.append(table(["rows", "repetition", "plain rows/s", "ecplan rows/s", "ecplan / plain", "peak RSS MiB"],
                        [[fmt(r["rows"]), r["repetition"], fmt(r.get("plain_rows_per_s")),
                          fmt(r.get("ecplan_rows_per_s")), fmt(r.get("ratio"), 2), fmt(r.get("rss_mib"), 1)]
                         for r in sorted(runs, key=lambda x: (x["rows"], x["repetition"]))]))
        md += ["", "ecplan rows/s = rows / wall time of the backfill step (all batches, "
               "commits and cursor saves included; index builds, VALIDATE and ANALYZE excluded — they are "
               "in \"whole backfill phase\"). Plain = one `UPDATE t SET quantity_big = quantity::bigint` "
               "on an identical table with the new column added and no trigger.", ""]
        main_rows = meta.get("rows")
        big = next((r for r in fill if r["rows"] == main_rows), fill[-1])
        small = next((r for r in fill if r["rows"] == 100000), None)
        if big.get("ratio") is not None:
            targets.append((f"backfill ≥ 0.5× single UPDATE rows/s at {fmt(big['rows'])} rows",
                            f"{big['ratio']:.2f}×", big["ratio"] >= 0.5))
        if small and small is not big and small.get("ecplan_rows_per_s") and big.get("ecplan_rows_per_s"):
            change = big["ecplan_rows_per_s"] / small["ecplan_rows_per_s"] - 1
            targets.append((f"rows/s at {fmt(big['rows'])} within 25% of rows/s at 100,000",
                            f"{change * 100:+.1f}%", abs(change) <= 0.25))
            pchange = (big["plain_rows_per_s"] / small["plain_rows_per_s"] - 1) if small.get("plain_rows_per_s") else None
            if pchange is not None:
                md += [f"From 100,000 to {fmt(big['rows'])} rows: ecplan rows/s {change * 100:+.1f}%, "
                       f"plain UPDATE rows/s {pchange * 100:+.1f}%.", ""]

    # 2. impact
    imp = by.get("impact", [])
    if imp:
        md += ["## 2. Impact on the application (pgbench workload running throughout)", ""]
        md.append(f"Workload: {meta.get('workload', '')}")
        md.append("")
        rows = []
        lt = meta.get("lock_timeout_ms") or 0
        for r in imp:
            rows.append([r["name"], fmt(r.get("seconds"), 2), fmt(r.get("tps"), 0), fmt(r.get("p50_ms"), 2),
                         fmt(r.get("p99_ms"), 2), fmt(r.get("max_ms"), 1), r.get("max_script") or "—",
                         fmt(r.get("max_incl_lag_ms"), 1), fmt(r.get("errors")), r.get("mix", "")])
        md.append(table(["window", "s", "TPS", "p50 ms", "p99 ms", "max ms (longest stall)", "its statement",
                         "max incl. schedule lag ms", "errors", "workload"], rows))
        md += ["", "max ms = longest execution time of a workload transaction overlapping the window "
               "(schedule lag excluded); TPS of windows under 1 s is over the second around them. "
               "Errors = pgbench clients aborted by an error plus failed transactions.", ""]
        phases = [r for r in imp if r["name"].startswith("ecplan ")]
        naive = [r for r in imp if r["name"].startswith("naive ")]
        if phases:
            worst = max(phases, key=lambda r: r.get("max_ms") or 0)
            errs = sum(r.get("errors") or 0 for r in phases)
            targets.append((f"every ecplan phase: longest wait ≤ lock_timeout_ms + 100 = {lt + 100} ms",
                            f"worst {worst.get('max_ms')} ms ({worst['name']})",
                            (worst.get("max_ms") or 0) <= lt + 100))
            targets.append(("every ecplan phase: 0 workload errors", f"{errs} errors", errs == 0))
        for r in naive:
            targets.append((f"(reference) {r['name']}: longest stall", f"{r.get('max_ms')} ms, "
                            f"{r.get('errors')} errors", None))

    # 3. trigger overhead
    trig = by.get("trigger", [])
    if trig:
        md += ["## 3. Sync trigger overhead (write TPS, unthrottled)", ""]
        md.append(f"Workload: {meta.get('trigger_workload', '')}")
        md.append("")
        groups = {}
        for r in trig:
            groups.setdefault((r["table"], r["config"]), []).append(r["tps"])
        rows = []
        med = {}
        order = {"no trigger": 0, "ecplan": 1, "seed": 2}
        for (tbl, cfg), vals in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 9))):
            s = sorted(vals)
            m = s[len(s) // 2] if len(s) % 2 else (s[len(s) // 2 - 1] + s[len(s) // 2]) / 2
            med[(tbl, cfg)] = m
            rows.append([tbl, cfg, fmt(m, 0), ", ".join(f"{v:.0f}" for v in vals)])
        for row in rows:
            base = med.get((row[0], "no trigger"))
            row.append(fmt(med[(row[0], row[1])] / base, 2) if base else "—")
        md.append(table(["table / change", "trigger", "median TPS", "TPS per round", "vs no trigger (ratio of medians)"], rows))
        md.append("")

        def median(v):
            v = sorted(v)
            return None if not v else (v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2)

        def round_ratio(tbl, a, b):
            """Median over rounds of TPS(a) / TPS(b) measured in the same round."""
            per = {}
            for r in trig:
                if r["table"] == tbl:
                    per.setdefault(r["round"], {})[r["config"]] = r["tps"]
            return median([x[a] / x[b] for x in per.values() if x.get(a) and x.get(b)])

        for tbl in sorted({k[0] for k in med}):
            ours_base = round_ratio(tbl, "ecplan", "no trigger")
            ours_seed = round_ratio(tbl, "ecplan", "seed")
            if ours_base is not None:
                targets.append((f"{tbl}: write TPS with ecplan's trigger ≥ 0.8× without",
                                f"{ours_base:.2f}× (median of per-round ratios)", ours_base >= 0.8))
            if ours_seed is not None:
                targets.append((f"{tbl}: ecplan's trigger not slower than the seed's",
                                f"{ours_seed:.2f}× the seed's TPS (median of per-round ratios)", ours_seed >= 1.0))
        if meta.get("trigger_notes"):
            md += [meta["trigger_notes"], ""]

    # 4. ecplan's own cost
    if fill or by.get("status_time"):
        md += ["## 4. ecplan's own cost", ""]
        rows = [[fmt(r["rows"]), fmt(r.get("rss_mib"), 1)] for r in fill if r.get("rss_mib") is not None]
        if rows:
            md.append(table(["rows backfilled", "peak RSS of `ecplan advance --to backfill` (MiB)"], rows))
            md.append("")
            rss = {r["rows"]: r["rss_mib"] for r in fill if r.get("rss_mib") is not None}
            for n, v in sorted(rss.items()):
                targets.append((f"peak RSS < 32 MiB at {fmt(n)} rows", f"{v:.1f} MiB", v < 32))
            if len(rss) >= 2:
                lo, hi = rss[min(rss)], rss[max(rss)]
                targets.append(("peak RSS does not grow with the table",
                                f"{lo:.1f} → {hi:.1f} MiB ({hi - lo:+.1f})", hi - lo < 1.0))
        for r in by.get("status_time", []):
            md.append(f"`ecplan status {r.get('plan')} --json`: {r.get('runs')} runs, median "
                      f"{r.get('median_ms')} ms, p90 {r.get('p90_ms')} ms, max {r.get('max_ms')} ms "
                      f"(process start, connect, query, print); for scale, `psql -c 'SELECT 1'` "
                      f"in the same loop: median {r.get('psql_select1_median_ms')} ms.")
            md.append("")

    # 5. parallel backfill (backfill.workers)
    par = by.get("parallel_run", [])
    plains = by.get("parallel_plain", [])
    if par:
        md += ["## 5. Parallel backfill (backfill.workers, no workload)", ""]
        plain = next((p for p in plains if p.get("trigger") in (False, "false")), None)
        ptrig = next((p for p in plains if p.get("trigger") in (True, "true")), None)
        rows = []
        if plain:
            rows.append([fmt(plain["rows"]), "plain UPDATE", fmt(plain["seconds"], 2), fmt(plain["rows_per_s"]),
                         "1.00", fmt(plain["wal_bytes"] / 1048576, 0), "1", "", ""])
        if ptrig:
            rows.append([fmt(ptrig["rows"]), "plain UPDATE through the sync trigger (mark set: early return)",
                         fmt(ptrig["seconds"], 2), fmt(ptrig["rows_per_s"]),
                         fmt(ptrig["rows_per_s"] / plain["rows_per_s"], 2) if plain else "",
                         fmt(ptrig["wal_bytes"] / 1048576, 0), "1", "", ""])
        for r in sorted(par, key=lambda x: (x["rows"], x["workers"])):
            ratio = (r["ecplan_rows_per_s"] / plain["rows_per_s"]) if plain and r.get("ecplan_rows_per_s") and \
                r["rows"] == plain["rows"] else None
            rows.append([fmt(r["rows"]), f"ecplan, {r['workers']} worker{'s' if r['workers'] > 1 else ''}",
                         fmt(r.get("ecplan_seconds"), 2), fmt(r.get("ecplan_rows_per_s")),
                         fmt(ratio, 2) if ratio else "", fmt(r["wal_bytes"] / 1048576, 0), fmt(r["commits"]),
                         fmt(r.get("final_batch_size")), fmt(r.get("split_seconds"), 3)])
        md.append(table(["rows", "run", "seconds", "rows/s", "× plain UPDATE", "WAL MiB", "commits",
                         "last batch size", "key split s"], rows))
        md.append("")
        md.append("Server time per kind of statement (log_min_duration_statement = 0; parse, bind and execute "
                  "summed; a worker's wall time not in its statements is the client and the round trips):")
        md.append("")
        srows = []
        for r in sorted(par, key=lambda x: (x["rows"], x["workers"])):
            tot = sum(v["ms"] for v in r.get("server_ms", {}).values())
            conn_s = (r.get("ecplan_seconds") or 0) * r["workers"]
            for k, v in sorted(r.get("server_ms", {}).items(), key=lambda kv: -kv[1]["ms"]):
                srows.append([fmt(r["rows"]), r["workers"], k, fmt(v["statements"]), fmt(v["ms"] / 1000, 2),
                              fmt(100 * v["ms"] / 1000 / conn_s, 1) if conn_s else ""])
            srows.append([fmt(r["rows"]), r["workers"], "outside statements (client, round trips, waits)", "",
                          fmt(conn_s - tot / 1000, 2), fmt(100 * (conn_s - tot / 1000) / conn_s, 1) if conn_s else ""])
        md.append(table(["rows", "workers", "statement", "executed", "server s", "% of connection time"], srows))
        md.append("")
        rtt = by.get("parallel_rtt", [])
        if rtt and rtt[-1].get("ms"):
            md += [f"One round trip (pgbench, `SELECT 1`, one client): {rtt[-1]['ms']} ms.", ""]
        main_rows = meta.get("rows")
        many = [r for r in par if r["workers"] > 1 and r.get("ecplan_rows_per_s")]
        at_main = next((r for r in many if r["rows"] == main_rows), None)
        if at_main and plain:
            v = at_main["ecplan_rows_per_s"] / plain["rows_per_s"]
            targets.append((f"{at_main['workers']}-worker backfill ≥ 1.0× single UPDATE rows/s at {fmt(main_rows)} rows",
                            f"{v:.2f}×", v >= 1.0))
        at_10m = next((r for r in many if r["rows"] == 10000000), None)
        if at_main and at_10m:
            v = at_10m["ecplan_rows_per_s"] / at_main["ecplan_rows_per_s"]
            targets.append((f"{at_10m['workers']}-worker rows/s at 10,000,000 within 10% of {fmt(main_rows)}",
                            f"{v:.2f}×", v >= 0.9))

    # targets
    if targets:
        md += ["## Targets", ""]
        md.append(table(["target", "measured", "verdict"], [[t, m, verdict(ok)] for t, m, ok in targets]))
        md.append("")
    notes = by.get("note", [])
    if notes:
        md += ["## Notes", ""]
        for n in notes:
            md.append(f"- {n.get('text')}")
        md.append("")

    text = "\n".join(md)
    with open(os.path.join(d, "report.md"), "w") as f:
        f.write(text)
    out = {"meta": meta, "backfill": fill, "backfill_runs": runs, "impact": imp, "trigger": trig,
           "parallel": par, "parallel_plain": plains,
           "status_time": by.get("status_time", []), "notes": notes,
           "targets": [{"target": t, "measured": m, "met": ok} for t, m, ok in targets]}
    with open(os.path.join(d, "figures.json"), "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
    print(text)


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    cmd, args = sys.argv[1], sys.argv[2:]
    {"put": cmd_put, "pgbench": cmd_pgbench, "render": cmd_render}[cmd](args)


if __name__ == "__main__":
    main()
