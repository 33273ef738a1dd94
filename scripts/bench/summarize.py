#!/usr/bin/env python3
"""Summarises scripts/bench/gateway.sh results.

Input: results.jsonl, one object per measurement:
  {"round", "scenario", "target" ("direct"|"gateway"), "p50_ms", "p99_ms", "n", "errors"}
Output (stdout): a Markdown table of medians over rounds (direct, gateway,
added = gateway - direct, ratio = gateway / direct) and the per-round values.
With --json FILE also writes the medians as JSON.
"""

import argparse
import json
import statistics
import sys

SCENARIOS = [
    ("nonstream-c1", "Non-streaming, concurrency 1 (oha)"),
    ("nonstream-rate", "Non-streaming, open loop at RATE req/s (oha, latency-corrected)"),
    ("ttft-c1", "Streaming TTFT, concurrency 1 (ttft.py)"),
    ("ttft-rate", "Streaming TTFT, open loop at RATE req/s (ttft.py, from send)"),
]


def fmt(x):
    return "n/a" if x is None else f"{x:.3f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results")
    ap.add_argument("--rate", default="200")
    ap.add_argument("--json")
    a = ap.parse_args()
    rows = [json.loads(line) for line in open(a.results) if line.strip()]
    summary = {}
    for key, _ in SCENARIOS:
        entry = {}
        for target in ("direct", "gateway"):
            ms = [r for r in rows if r["scenario"] == key and r["target"] == target]
            if not ms:
                continue
            entry[target] = {
                "p50_ms": statistics.median(r["p50_ms"] for r in ms),
                "p99_ms": statistics.median(r["p99_ms"] for r in ms),
                "rounds": len(ms),
                "requests": sum(r["n"] for r in ms),
                "errors": sum(r["errors"] for r in ms),
            }
        if "direct" in entry and "gateway" in entry:
            for p in ("p50_ms", "p99_ms"):
                d, g = entry["direct"][p], entry["gateway"][p]
                entry.setdefault("added", {})[p] = g - d
                entry.setdefault("ratio", {})[p] = g / d if d else None
        summary[key] = entry

    out = sys.stdout
    out.write("Medians of the rounds, milliseconds.\n\n")
    out.write(
        "| Scenario | Direct p50 | Direct p99 | Gateway p50 | Gateway p99 "
        "| Added p50 | Added p99 | Ratio p50 | Ratio p99 |\n"
    )
    out.write("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    for key, title in SCENARIOS:
        e = summary.get(key, {})
        if "added" not in e:
            continue
        d, g, ad, ra = e["direct"], e["gateway"], e["added"], e["ratio"]
        out.write(
            f"| {title.replace('RATE', a.rate)} | {fmt(d['p50_ms'])} | {fmt(d['p99_ms'])} "
            f"| {fmt(g['p50_ms'])} | {fmt(g['p99_ms'])} | {fmt(ad['p50_ms'])} | {fmt(ad['p99_ms'])} "
            f"| {ra['p50_ms']:.2f}x | {ra['p99_ms']:.2f}x |\n"
        )
    out.write("\nPer round (p50 / p99 ms; in brackets, CPU used by other processes on the machine meanwhile, % of all cores):\n\n")
    out.write("| Scenario | Target | " + " | ".join(f"Round {i}" for i in sorted({r['round'] for r in rows})) + " |\n")
    out.write("|---|---|" + "---:|" * len({r["round"] for r in rows}) + "\n")
    for key, _ in SCENARIOS:
        for target in ("direct", "gateway"):
            ms = sorted((r for r in rows if r["scenario"] == key and r["target"] == target), key=lambda r: r["round"])
            if ms:
                cells = " | ".join(
                    f"{fmt(r['p50_ms'])} / {fmt(r['p99_ms'])}"
                    + (f" [{r['foreign_cpu_pct']:.0f}%]" if "foreign_cpu_pct" in r else "")
                    for r in ms
                )
                out.write(f"| {key} | {target} | {cells} |\n")
    errors = sum(r["errors"] for r in rows)
    out.write(f"\nRequests measured: {sum(r['n'] for r in rows)}; failed: {errors}.\n")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
