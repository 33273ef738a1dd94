#!/usr/bin/env python3
"""Summarises a scripts/bench/engine.sh run: `engine_summary.py OUTDIR SHAPE:QUANT...`.

Reads OUTDIR/<shape>-<quant>.{ours,llama}.{json,time,cpu} and prints a markdown table
(tokens/s mean ± sd, ratios ours / llama.cpp, peak RSS) and writes OUTDIR/summary.json.
With TG_PAIRS, it also reads OUTDIR/<shape>-<quant>.pair<k>.{ours,llama}.json (generation-only
runs, adjacent in time) and reports each pair's ratio and their median.
"other CPU" is the share of all cores that processes other than the measured one used during
its run: (machine busy time from /proc/stat - the process's user+system time) / (wall × cores).
"""

import json
import os
import re
import statistics
import sys

NAMES = {"llama1b": "Llama-3.2-1B shape", "qwen05b": "Qwen2.5-0.5B shape"}
QUANTS = {"q8_0": "Q8_0", "q4_k_m": "Q4_K_M"}


def read_time(path):
    text = open(path).read()

    def field(label):
        for line in text.splitlines():
            if line.strip().startswith(label) and ": " in line:
                return line.rsplit(": ", 1)[1].strip()
        raise SystemExit(f"{path}: no '{label}' (did the command fail?)\n{text[-2000:]}")

    wall = 0.0
    for part in field("Elapsed (wall clock) time").split(":"):
        wall = wall * 60 + float(part)
    status = int(field("Exit status"))
    if status != 0:
        raise SystemExit(f"{path}: exit status {status}")
    return {
        "max_rss_kib": int(field("Maximum resident set size")),
        "cpu_s": float(field("User time")) + float(field("System time")),
        "wall_s": wall,
    }


def other_cpu_pct(path, own_cpu_s, wall_s):
    lines = open(path).read().split("\n")
    before, after = ([int(x) for x in l.split()[1:9]] for l in lines[:2])
    busy = lambda c: sum(c) - c[3] - c[4]  # minus idle and iowait
    hz = os.sysconf("SC_CLK_TCK")
    busy_s = (busy(after) - busy(before)) / hz
    return max(0.0, busy_s - own_cpu_s) / (wall_s * os.cpu_count()) * 100


def ours(out, key):
    j = json.load(open(f"{out}/{key}.ours.json"))
    return {"pp": (j["pp_tps"], j["pp_tps_sd"]), "tg": (j["tg_tps"], j["tg_tps_sd"]), "raw": j}


def llama(out, key):
    rows = json.load(open(f"{out}/{key}.llama.json"))
    res = {"raw": rows}
    for r in rows:
        kind = "pp" if r["n_gen"] == 0 else "tg" if r["n_prompt"] == 0 else None
        if kind:
            res[kind] = (r["avg_ts"], r["stddev_ts"])
    return res


def pairs(out, key):
    """(ours tg t/s, llama.cpp tg t/s) of each generation-only pair, in run order."""
    res = []
    k = 1
    while os.path.exists(f"{out}/{key}.pair{k}.ours.json"):
        o = json.load(open(f"{out}/{key}.pair{k}.ours.json"))["tg_tps"]
        l = [r["avg_ts"] for r in json.load(open(f"{out}/{key}.pair{k}.llama.json"))
             if r["n_prompt"] == 0 and r["n_gen"] > 0][0]
        res.append((o, l))
        k += 1
    return res


def main():
    out, models = sys.argv[1], sys.argv[2:]
    cfg = dict(l.rstrip("\n").split(": ", 1) for l in open(f"{out}/machine.txt") if ": " in l)
    run = dict(re.findall(r"(\w+): (\S+)", cfg["threads"]))
    run["threads"] = cfg["threads"].split()[0]
    summary = []
    for m in models:
        shape, quant = m.split(":")
        key = f"{shape}-{quant}"
        o, l = ours(out, key), llama(out, key)
        row = {"model": NAMES.get(shape, shape), "quant": QUANTS.get(quant, quant)}
        for who, r in (("ours", o), ("llama", l)):
            t = read_time(f"{out}/{key}.{who}.time")
            row[who] = {
                "pp_tps": r["pp"][0], "pp_sd": r["pp"][1],
                "tg_tps": r["tg"][0], "tg_sd": r["tg"][1],
                "max_rss_mib": t["max_rss_kib"] / 1024, "wall_s": t["wall_s"],
                "other_cpu_pct": other_cpu_pct(f"{out}/{key}.{who}.cpu", t["cpu_s"], t["wall_s"]),
            }
        row["llama"]["build_commit"] = l["raw"][0].get("build_commit")
        row["llama"]["flash_attn"] = l["raw"][0].get("flash_attn")
        row["pp_ratio"] = row["ours"]["pp_tps"] / row["llama"]["pp_tps"]
        row["tg_ratio"] = row["ours"]["tg_tps"] / row["llama"]["tg_tps"]
        row["rss_ratio"] = row["ours"]["max_rss_mib"] / row["llama"]["max_rss_mib"]
        row["tg_pairs"] = pairs(out, key)
        if row["tg_pairs"]:
            row["tg_pair_median"] = statistics.median(o / l for o, l in row["tg_pairs"])
        summary.append(row)
    json.dump(summary, open(f"{out}/summary.json", "w"), indent=1)

    p, n = run["n_prompt"], run["n_gen"]
    print(f"{cfg['cpu']}, nproc {cfg['nproc']}, {run['threads']} threads, {run['reps']} reps; "
          f"loadavg before {cfg.get('loadavg before', '?')}, after {cfg.get('loadavg after', '?')}")
    print()
    print(f"| Model | Quant | ours pp{p} t/s | llama.cpp pp{p} t/s | pp ratio | ours tg{n} t/s "
          f"| llama.cpp tg{n} t/s | tg ratio | ours RSS MiB | llama.cpp RSS MiB | RSS ratio "
          f"| other CPU % (ours / llama.cpp) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in summary:
        o, l = r["ours"], r["llama"]
        print(f"| {r['model']} | {r['quant']} "
              f"| {o['pp_tps']:.1f} ± {o['pp_sd']:.1f} | {l['pp_tps']:.1f} ± {l['pp_sd']:.1f} "
              f"| **{r['pp_ratio']:.2f}×** "
              f"| {o['tg_tps']:.1f} ± {o['tg_sd']:.1f} | {l['tg_tps']:.1f} ± {l['tg_sd']:.1f} "
              f"| **{r['tg_ratio']:.2f}×** "
              f"| {o['max_rss_mib']:.0f} | {l['max_rss_mib']:.0f} | **{r['rss_ratio']:.2f}×** "
              f"| {o['other_cpu_pct']:.0f} / {l['other_cpu_pct']:.0f} |")
    paired = [r for r in summary if r["tg_pairs"]]
    if paired:
        print()
        print(f"Generation in adjacent pairs (tg{n}, -r 1 each, alternating order): "
              "ours / llama.cpp t/s per pair, and the median of the pairs' ratios.")
        print()
        print("| Model | Quant | pairs (ours / llama.cpp t/s) | pair ratios | median ratio |")
        print("|---|---|---|---|---:|")
        for r in paired:
            ps = ", ".join(f"{o:.1f}/{l:.1f}" for o, l in r["tg_pairs"])
            rs = ", ".join(f"{o / l:.2f}" for o, l in r["tg_pairs"])
            print(f"| {r['model']} | {r['quant']} | {ps} | {rs} | **{r['tg_pair_median']:.2f}×** |")
    print()
    print("Bar (generation ≥ 1.0×, prompt ≥ 0.8×, RSS ≤ 1.10×):")
    for r in summary:
        ok = lambda c: "met" if c else "MISSED"
        tg = f"tg {ok(r['tg_ratio'] >= 1.0)}"
        if r["tg_pairs"]:
            tg += f" (paired median {ok(r['tg_pair_median'] >= 1.0)})"
        print(f"- {r['model']} {r['quant']}: {tg}, "
              f"pp {ok(r['pp_ratio'] >= 0.8)}, RSS {ok(r['rss_ratio'] <= 1.10)}")
    print()
    print(f"llama.cpp build {summary[0]['llama']['build_commit']}, "
          f"flash_attn {summary[0]['llama']['flash_attn']}")


if __name__ == "__main__":
    main()
