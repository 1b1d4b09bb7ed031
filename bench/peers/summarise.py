#!/usr/bin/env python3
"""The table of bench/run_peers.sh: reads the raw results of every round, writes one JSON file and one
markdown table, and prints the table.

Raw files (in --raw), one per tool run, named r<round>-<tool>-<anything>.<json|jsonl>:
  sigtrain: the JSON of `sigtrain bench --json` (format "sigtrain-bench");
  fann, torch: one JSON line per case, as bench/peers/fann_peer and bench/peers/torch_peer.py print them.

Every tool run measures the median of its own repeats; the table gives, per case, the median over the
rounds, and per peer row the ratio sigtrain ÷ peer taken within each round (the runs of one round ran
minutes apart at most, so drift of a shared machine hits both alike) and then the median over rounds.
Standard library only.
"""
import argparse
import glob
import json
import os
import re
import statistics
import time

TOOL_ORDER = {"sigtrain": 0, "fann": 1, "torch": 2}


def read_raw(folder, hardware_threads):
    """One record per measured case and round."""
    records = []
    for path in sorted(glob.glob(os.path.join(folder, "r*-*"))):
        name = os.path.basename(path)
        match = re.match(r"r(\d+)-(sigtrain|fann|torch)-", name)
        if not match:
            continue
        round_, tool = int(match.group(1)), match.group(2)
        if tool == "sigtrain":
            try:
                bench = json.load(open(path))
            except ValueError:
                continue
            for r in bench["results"]:
                if "skipped" in r:
                    continue
                mode = r["backend"] + (" file-order" if r.get("order") == "file" else "")
                records.append({
                    "round": round_, "tool": "sigtrain", "mode": mode, "network": r["network"],
                    "batch": r["batch"], "threads": 1 if r["backend"] == "cpu-1" else hardware_threads,
                    "samples_per_second": r["samples_per_second"]["median"],
                    "samples_per_repeat": r["samples_per_repeat"], "description": r.get("description", "")})
        else:
            for line in open(path):
                line = line.strip()
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                records.append({
                    "round": round_, "tool": tool, "mode": r["mode"], "network": r["network"], "batch": r["batch"],
                    "threads": r.get("threads"), "samples_per_second": r["samples_per_second"],
                    "samples_per_repeat": r["samples_per_repeat"], "bias": r.get("bias"),
                    "version": r.get("version"), "note": r.get("note")})
    return records


def counterparts(peer, sigtrain_batches):
    """The sigtrain cases a peer case is compared with: same network, batch, threads (or GPU mode).
    FANN's incremental mode (one update per sample) is compared with sigtrain at batch 1 (shuffled and,
    as FANN visits its data, in file order), and, as the
    project's target reads, with sigtrain on one thread at the largest batch up to 256, shuffled and in
    file order (as FANN visits its data); its full-batch mode has no equal: the largest batch measured."""
    if peer["tool"] == "torch":
        # torch's eager GPU mode launches every operation, as sigtrain's cuda-nographs does.
        mode = {"cuda": "cuda-nographs"}.get(peer["mode"], peer["mode"])
        return [(mode, peer["batch"])]
    larger = sorted(b for b in sigtrain_batches.get(peer["network"], []) if b > 1)
    if peer["mode"] == "incremental":
        up_to_256 = [b for b in larger if b <= 256]
        pairs = [("cpu-1", 1), ("cpu-1 file-order", 1)]
        if up_to_256:
            pairs += [("cpu-1", up_to_256[-1]), ("cpu-1 file-order", up_to_256[-1])]
        return pairs
    return [("cpu-1", larger[-1] if larger else None)]


def summarise(records):
    cases = {}
    for r in records:
        cases.setdefault((r["tool"], r["mode"], r["network"], r["batch"]), []).append(r)
    sigtrain = {(k[1], k[2], k[3]): {r["round"]: r["samples_per_second"] for r in v}
                for k, v in cases.items() if k[0] == "sigtrain"}
    sigtrain_batches = {}
    for mode, network, batch in sigtrain:
        sigtrain_batches.setdefault(network, set()).add(batch)
    network_order = {}
    for r in records:
        network_order.setdefault(r["network"], len(network_order))

    rows = []
    for (tool, mode, network, batch), runs in cases.items():
        rates = [r["samples_per_second"] for r in runs]
        row = {"tool": tool, "mode": mode, "network": network, "batch": batch,
               "full_batch": tool == "fann" and mode == "batch", "rounds": len(runs),
               "samples_per_second": {"median": statistics.median(rates), "min": min(rates), "max": max(rates)}}
        if tool == "sigtrain":
            rows.append(row)
            continue
        for their_mode, their_batch in counterparts(runs[0], sigtrain_batches):
            ours = sigtrain.get((their_mode, network, their_batch), {})
            ratios = [ours[r["round"]] / r["samples_per_second"] for r in runs
                      if r["round"] in ours and r["samples_per_second"] > 0]
            compared = dict(row)
            compared["compared_with"] = {"tool": "sigtrain", "mode": their_mode, "batch": their_batch}
            compared["sigtrain_over_peer"] = statistics.median(ratios) if ratios else None
            rows.append(compared)
    # The table's order: networks as run, sigtrain's batch-1 row first, then by batch; sigtrain before peers.
    rows.sort(key=lambda r: (network_order[r["network"]], r["full_batch"], r["batch"], TOOL_ORDER[r["tool"]],
                             r["mode"]))
    return rows


def si(v):
    """1234567 → '1.23 M'"""
    for unit in ("", " k", " M", " G"):
        if abs(v) < 1000:
            return f"{v:.3g}{unit}"
        v /= 1000
    return f"{v:.3g} T"


def markdown(rows):
    lines = ["| network | batch | tool | samples/s (median over rounds) | min … max | sigtrain ÷ peer | against sigtrain |",
             "| --- | ---: | --- | ---: | ---: | ---: | --- |"]
    for r in rows:
        s = r["samples_per_second"]
        batch = f"{r['batch']} (full)" if r["full_batch"] else str(r["batch"])
        tool = f"{r['tool']} {r['mode']}"
        ratio = against = ""
        if r["tool"] != "sigtrain":
            c = r["compared_with"]
            against = f"{c['mode']}, batch {c['batch']}" if c["batch"] is not None else "none measured"
            ratio = f"{r['sigtrain_over_peer']:.3g}×" if r["sigtrain_over_peer"] is not None else "—"
        lines.append(f"| {r['network']} | {batch} | {tool} | {si(s['median'])} | {si(s['min'])} … {si(s['max'])} | "
                     f"{ratio} | {against} |")
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--raw", required=True, help="folder of raw results")
    p.add_argument("--json", required=True, help="write the summary and every raw record here")
    p.add_argument("--markdown", help="also write the table here")
    p.add_argument("--hardware-threads", type=int, default=os.cpu_count())
    p.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE", help="stored under 'run' in the JSON")
    a = p.parse_args()
    records = read_raw(a.raw, a.hardware_threads)
    if not records:
        raise SystemExit("summarise: no results in " + a.raw)
    rows = summarise(records)
    table = markdown(rows)
    run = dict(item.split("=", 1) for item in a.meta)
    versions = {r["tool"]: r["version"] for r in records if r.get("version")}
    result = {"format": "sigtrain-peers", "version": 1, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "run": run, "peer_versions": versions, "summary": rows, "records": records}
    with open(a.json, "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(table)
    print(table, end="")


if __name__ == "__main__":
    main()
