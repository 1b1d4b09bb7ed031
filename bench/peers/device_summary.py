#!/usr/bin/env python3
"""The summary of bench/device_check.sh: reads what the check measured, writes one JSON file and one
markdown file, and prints the markdown.

Inputs (in --raw, the check's raw folder; any of them may be missing, a row then says "not measured"):
  bench-*.json   `sigtrain bench --json` (format "sigtrain-bench"); a replicas row's network reads
                 "2-3-3-1 ×1024". A row may carry train_samples_per_second (what `train` does, beside
                 the kernel-only samples_per_second): printed beside it where present.
  torch.jsonl, jax.jsonl, fann.jsonl
                 one JSON line per case, as bench/peers/torch_peer.py, jax_peer.py and fann_peer print them.
  train.jsonl    one JSON line per timed `sigtrain train` command, written by device_check.sh:
                 {"case", "run", "exit", "wall_seconds", "samples" (trained in all: networks × epochs ×
                 training samples), "epochs", "log_first_epoch_seconds", "log_elapsed_seconds"}
                 (the log fields where the command wrote --log: train's own clock, epoch 1 and all).
--diffs: the "sigtrain-diff:" lines of the GPU tests, largest first. --info KEY=VALUE: the check's
facts (commit, gpu, passed, failed, skipped, gpu_skipped, ctest_status, build_seconds, test_seconds,
sanitizer (each run's verdict), sanitizer_gate (PASS, FAIL or why it did not run), tests_run (1, or 0
for a check run with --no-tests), stage).

The "Targets" table is issue 9's, case by case: sigtrain's figure, the peers' figures on the same
machine in the same run, the ratios, the must and moonshot targets, and whether each was met (yes, no,
or not measured when a figure it needs is missing). "Against the peers" then gives every ratio of a
sigtrain bench row to a PyTorch or JAX row of the same network, batch and number of networks.
Standard library only.
"""
import argparse
import glob
import json
import os
import re
import statistics
import time

NOTES = "2-3-3-1"


def si(v, unit=""):
    """35712345 → '35.7 M'."""
    if v is None:
        return "—"
    for scale, prefix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{prefix}{unit}"
    return f"{v:.3g}{' ' + unit if unit else ''}"


def times(v):
    return "—" if v is None else f"{v:.3g}×"


def median_of(value):
    """A bench figure is {"median", "min", "max"}; a plain number is taken as it is."""
    if isinstance(value, dict):
        return value.get("median")
    return value


def read_json_lines(path):
    rows = []
    try:
        for line in open(path):
            line = line.strip()
            if line.startswith("{"):
                try:
                    rows.append(json.loads(line))
                except ValueError:
                    pass
    except OSError:
        pass
    return rows


def read_bench(raw):
    rows = []
    for path in sorted(glob.glob(os.path.join(raw, "bench-*.json"))):
        try:
            results = json.load(open(path))["results"]
        except (OSError, ValueError, KeyError):
            continue
        for r in results:
            if "skipped" in r or "samples_per_second" not in r:
                continue
            match = re.match(r"(\S+)(?: ×(\d+))?$", r["network"])
            rows.append({
                "network": match.group(1) if match else r["network"],
                "replicas": int(match.group(2)) if match and match.group(2) else 1,
                "batch": r["batch"], "backend": r["backend"], "order": r.get("order"),
                "samples_per_second": median_of(r["samples_per_second"]),
                "us_per_step": median_of(r.get("us_per_step")),
                "train_samples_per_second": median_of(r.get("train_samples_per_second")),
                "max_relative_difference_vs_reference": r.get("max_relative_difference_vs_reference"),
                "description": r.get("description", ""), "file": os.path.basename(path)})
    return rows


class Measurements:
    """Everything one device check measured, and the look-ups the targets need."""

    def __init__(self, raw):
        self.bench = read_bench(raw)
        self.peers = []
        for peer in ("torch", "jax", "fann"):
            for r in read_json_lines(os.path.join(raw, f"{peer}.jsonl")):
                r.setdefault("peer", peer)
                r.setdefault("replicas", 1)
                if "us_per_step" not in r and r.get("samples_per_second"):  # older peers print no µs/step
                    r["us_per_step"] = 1e6 * r["batch"] * r["replicas"] / r["samples_per_second"]
                self.peers.append(r)
        self.train = read_json_lines(os.path.join(raw, "train.jsonl"))

    def bench_row(self, network, batch, replicas, backend):
        rows = [r for r in self.bench if (r["network"], r["batch"], r["replicas"], r["backend"]) == (network, batch, replicas, backend)]
        return rows[-1] if rows else None

    def best_cuda(self, network, batch, replicas):
        """The fastest of sigtrain's cuda paths on a case (fp32: a backend named with tf32 is left out)."""
        rows = [r for r in self.bench if (r["network"], r["batch"], r["replicas"]) == (network, batch, replicas)
                and r["backend"].startswith("cuda") and "tf32" not in r["backend"]]
        return max(rows, key=lambda r: r["samples_per_second"]) if rows else None

    def peer(self, peer, mode, network, batch, replicas=1):
        rows = [r for r in self.peers if (r["peer"], r["mode"], r["network"], r["batch"], r["replicas"]) == (peer, mode, network, batch, replicas)]
        return rows[-1] if rows else None

    def train_runs(self, case):
        return [r for r in self.train if r.get("case") == case and r.get("exit") == 0]

    def train_wall(self, case):
        """Median wall-clock seconds of a train command's successful runs."""
        runs = self.train_runs(case)
        return statistics.median(r["wall_seconds"] for r in runs) if runs else None

    def train_rate(self, case):
        """Samples/s of a train command by its wall clock (start-up, data and all)."""
        runs = self.train_runs(case)
        return statistics.median(r["samples"] / r["wall_seconds"] for r in runs) if runs else None

    def train_log_rate(self, case, after_first_epoch=False):
        """Samples/s by train's own clock (its --log): all epochs, or all but the first (warm-up) one."""
        rates = []
        for r in self.train_runs(case):
            elapsed, first, epochs = r.get("log_elapsed_seconds"), r.get("log_first_epoch_seconds"), r.get("epochs")
            if not elapsed or not epochs:
                continue
            if after_first_epoch:
                if epochs > 1 and first is not None and elapsed > first:
                    rates.append(r["samples"] * (epochs - 1) / epochs / (elapsed - first))
            else:
                rates.append(r["samples"] / elapsed)
        return statistics.median(rates) if rates else None

    def train_marginal_rate(self, short_case, long_case):
        """Samples/s of the epochs the long command trains beyond the short one, by wall clock: what each
        further epoch costs through train, without start-up (process, CUDA context, data) counted."""
        short, long_ = self.train_runs(short_case), self.train_runs(long_case)
        if not short or not long_:
            return None
        extra_samples = long_[0]["samples"] - short[0]["samples"]
        extra_seconds = self.train_wall(long_case) - self.train_wall(short_case)
        return extra_samples / extra_seconds if extra_seconds > 0 and extra_samples > 0 else None


def ratio(a, b):
    return a / b if a is not None and b else None


def verdict(conditions):
    """yes when every condition holds; no when one measured condition fails; else not measured."""
    if any(c is False for c in conditions):
        return "no"
    if not conditions or any(c is None for c in conditions):
        return "not measured"
    return "yes"


def at_least(value, bound):
    return None if value is None or bound is None else value >= bound


def at_most(value, bound):
    return None if value is None or bound is None else value <= bound


def figure(row, what="samples_per_second", unit="samples/s"):
    """'35.7 M samples/s (cuda-fused; train: 1.2 M)' for a bench row."""
    if row is None:
        return "not measured"
    text = f"{si(row[what])} {unit}" if what == "samples_per_second" else f"{row[what]:.3g} {unit}"
    extra = f"; train: {si(row['train_samples_per_second'])}" if row.get("train_samples_per_second") else ""
    return f"{text} ({row['backend']}{extra})"


def peer_figure(name, row, what="samples_per_second", unit=""):
    if row is None:
        return f"{name}: not measured"
    value = si(row[what]) if what == "samples_per_second" else f"{row[what]:.3g} {unit}"
    return f"{name}: {value}"


def targets(m):
    """Issue 9's table of targets, one dict per case."""
    rows = []

    def add(case, sigtrain, peers, ratios, must, moonshot, must_met, moonshot_met, numbers):
        rows.append({"case": case, "sigtrain": sigtrain, "peers": peers, "ratios": ratios, "must": must,
                     "moonshot": moonshot, "met": verdict(must_met),
                     "moonshot_met": verdict(moonshot_met) if moonshot_met else "—", "numbers": numbers})

    def sps(row):
        return row["samples_per_second"] if row else None

    def speed_peers(network, batch, replicas, modes):
        """Peer figures and sigtrain ÷ peer ratios (samples/s) for one case."""
        return [(label, m.peer(peer, mode, network, batch, replicas)) for label, peer, mode in modes]

    single_modes = [("torch graph", "torch", "cuda-graphs"), ("jax", "jax", "cuda-jit-scan")]
    many_modes = [("torch bmm graph", "torch", "cuda-bmm-graphs"), ("torch bmm", "torch", "cuda-bmm"),
                  ("jax vmap", "jax", "cuda-vmap-scan")]

    def peers_text(found, what="samples_per_second", unit=""):
        return "; ".join(peer_figure(label, row, what, unit) for label, row in found)

    def ratios_text(ours, found, what="samples_per_second"):
        """sigtrain ÷ peer in speed: samples/s over samples/s, or µs/step of the peer over ours."""
        out = []
        for label, row in found:
            if row is None or ours is None:
                continue
            r = ratio(ours, row[what]) if what == "samples_per_second" else ratio(row[what], ours)
            out.append(f"÷ {label} {times(r)}")
        return "; ".join(out)

    # 1. The notes' network at batch 256.
    ours = m.best_cuda(NOTES, 256, 1)
    cpu = m.bench_row(NOTES, 256, 1, "cpu-all")
    found = speed_peers(NOTES, 256, 1, single_modes)
    add("2-3-3-1, B=256, one network", figure(ours), f"cpu-all: {si(sps(cpu))}; " + peers_text(found),
        "; ".join(filter(None, [f"÷ cpu-all {times(ratio(sps(ours), sps(cpu)))}", ratios_text(sps(ours), found)])),
        "≥ 150 M samples/s and ≥ 2× cpu-all", "≥ 500 M/s (0.5 µs/step)",
        [at_least(sps(ours), 150e6), at_least(ratio(sps(ours), sps(cpu)), 2.0)], [at_least(sps(ours), 500e6)],
        {"samples_per_second": sps(ours), "cpu_all": sps(cpu)})

    # 2. Batch 32: the time of one step.
    rows32 = [r for r in m.bench if (r["network"], r["batch"], r["replicas"]) == (NOTES, 32, 1)
              and r["backend"].startswith("cuda") and "tf32" not in r["backend"]]
    ours = min(rows32, key=lambda r: r["us_per_step"]) if rows32 else None
    us = ours["us_per_step"] if ours else None
    found = speed_peers(NOTES, 32, 1, single_modes)
    add("2-3-3-1, B=32, one network", figure(ours, "us_per_step", "µs/step"), peers_text(found, "us_per_step", "µs/step"),
        ratios_text(us, found, "us_per_step"), "≤ 1.0 µs/step", "≤ 0.4 µs/step",
        [at_most(us, 1.0)], [at_most(us, 0.4)], {"us_per_step": us})

    # 3. The default train, --backend auto against --backend cpu, by wall clock (median of the runs). Met
    #    within 5%: where auto picks the cpu backend the two commands are the same, and differ by noise.
    auto, cpu_s = m.train_wall("default-auto"), m.train_wall("default-cpu")
    add("default `train` (batch 8), `--backend auto` on a GPU machine",
        f"auto: {auto:.3g} s" if auto else "not measured", f"--backend cpu: {cpu_s:.3g} s" if cpu_s else "not measured",
        f"cpu ÷ auto (time) {times(ratio(cpu_s, auto))}", "no slower than `--backend cpu` (met: auto ≤ 1.05 × cpu)", "—",
        [at_most(auto, cpu_s * 1.05 if cpu_s else None)], [], {"auto_seconds": auto, "cpu_seconds": cpu_s,
                                     "auto_log_seconds": _log_seconds(m, "default-auto"),
                                     "cpu_log_seconds": _log_seconds(m, "default-cpu")})

    # 4. Batch 4096.
    ours = m.best_cuda(NOTES, 4096, 1)
    cpu = m.bench_row(NOTES, 4096, 1, "cpu-all")
    found = speed_peers(NOTES, 4096, 1, single_modes)
    add("2-3-3-1, B=4096, one network", figure(ours), f"cpu-all: {si(sps(cpu))}; " + peers_text(found),
        "; ".join(filter(None, [f"÷ cpu-all {times(ratio(sps(ours), sps(cpu)))}", ratios_text(sps(ours), found)])),
        "≥ 1 G samples/s", "—", [at_least(sps(ours), 1e9)], [], {"samples_per_second": sps(ours)})

    # 5. 1,024 networks at batch 256, in the bench and through train.
    ours = m.best_cuda(NOTES, 256, 1024)
    through_train = m.train_rate("replicas-1024")
    per_epoch = m.train_marginal_rate("replicas-1024", "replicas-1024-long")
    found = speed_peers(NOTES, 256, 1024, many_modes)
    add("1,024 × 2-3-3-1, B=256",
        f"{figure(ours)}; through train: {si(through_train)} (command), {si(per_epoch)} (per further epoch)",
        peers_text(found),
        "; ".join(filter(None, [f"train ÷ bench {times(ratio(through_train, sps(ours)))}", ratios_text(sps(ours), found)])),
        "≥ 35 G samples/s; through `train`, ≥ half of that", "≥ 100 G/s",
        [at_least(sps(ours), 35e9), at_least(ratio(through_train, sps(ours)), 0.5)], [at_least(sps(ours), 100e9)],
        {"samples_per_second": sps(ours), "train_command_samples_per_second": through_train,
         "train_per_epoch_samples_per_second": per_epoch})

    # 6. 16,384 networks at batch 32.
    ours = m.best_cuda(NOTES, 32, 16384)
    found = speed_peers(NOTES, 32, 16384, many_modes)
    add("16,384 × 2-3-3-1, B=32", figure(ours), peers_text(found), ratios_text(sps(ours), found),
        "≥ 55 G samples/s", "—", [at_least(sps(ours), 55e9)], [], {"samples_per_second": sps(ours)})

    # 7. 2-64-64-1 at batch 256: the fused kernel against the cuBLAS path.
    fused = m.bench_row("2-64-64-1", 256, 1, "cuda-fused")
    cublas = m.bench_row("2-64-64-1", 256, 1, "cuda-graphs")
    found = speed_peers("2-64-64-1", 256, 1, single_modes)
    add("2-64-64-1, B=256", f"{figure(fused)}; cuBLAS path: {figure(cublas)}", peers_text(found),
        "; ".join(filter(None, [f"fused ÷ cuBLAS {times(ratio(sps(fused), sps(cublas)))}", ratios_text(sps(fused), found)])),
        "fused ≥ 3× the cuBLAS path", "≥ 100 M samples/s",
        [at_least(ratio(sps(fused), sps(cublas)), 3.0)], [at_least(sps(fused), 100e6)],
        {"fused": sps(fused), "cublas": sps(cublas)})

    # 8. 2-1024-1024-1 at batch 4096: fp32 against PyTorch's graph, and TF32 against fp32.
    wide = "2-1024-1024-1"
    ours = m.best_cuda(wide, 4096, 1)
    torch32 = m.peer("torch", "cuda-graphs", wide, 4096)
    torch_tf32 = m.peer("torch", "cuda-graphs-tf32", wide, 4096)
    jax32 = m.peer("jax", "cuda-jit-scan", wide, 4096)
    tf32_rows = [r for r in m.bench if (r["network"], r["batch"], r["replicas"]) == (wide, 4096, 1) and "tf32" in r["backend"]]
    if tf32_rows:
        tf32 = max(tf32_rows, key=lambda r: r["samples_per_second"])
        tf32_ratio, tf32_text = ratio(sps(tf32), sps(ours)), f"--tf32: {figure(tf32)}"
    else:  # no tf32 runner in the bench: both through train, by train's clock after the first epoch
        tf32_ratio = ratio(m.train_log_rate("wide-tf32", True), m.train_log_rate("wide-fp32", True))
        tf32_text = (f"through train: fp32 {si(m.train_log_rate('wide-fp32', True))}, "
                     f"--tf32 {si(m.train_log_rate('wide-tf32', True))}")
    add("2-1024-1024-1, B=4096", f"{figure(ours)}; {tf32_text}",
        "; ".join([peer_figure("torch graph fp32", torch32), peer_figure("torch graph tf32", torch_tf32),
                   peer_figure("jax fp32", jax32)]),
        f"÷ torch graph fp32 {times(ratio(sps(ours), sps(torch32)))}; tf32 ÷ fp32 {times(tf32_ratio)}",
        "≥ PyTorch CUDA graph in fp32; `--tf32` ≥ 3× fp32", "—",
        [at_least(ratio(sps(ours), sps(torch32)), 1.0), at_least(tf32_ratio, 3.0)], [],
        {"samples_per_second": sps(ours), "torch_graphs_fp32": sps(torch32), "tf32_over_fp32": tf32_ratio})

    # 9. The cpu backend through train against FANN incremental, both on one thread of this machine.
    ours = m.train_log_rate("cpu-1m")
    wall = m.train_rate("cpu-1m")
    fann = m.peer("fann", "incremental", NOTES, 1)
    add("cpu backend, 2-3-3-1, B=256, 1 thread, 1 M samples, shuffled, through `train`",
        f"{si(ours)} samples/s by train's clock ({si(wall)} by the command's wall clock)",
        peer_figure("FANN incremental", fann), f"÷ FANN {times(ratio(ours, sps(fann)))}",
        "≥ 15× FANN incremental", "—", [at_least(ratio(ours, sps(fann)), 15.0)], [],
        {"samples_per_second": ours, "wall_samples_per_second": wall, "fann_incremental": sps(fann)})
    return rows


def _log_seconds(m, case):
    runs = [r.get("log_elapsed_seconds") for r in m.train_runs(case) if r.get("log_elapsed_seconds")]
    return statistics.median(runs) if runs else None


def ratios_against_peers(m):
    """Every sigtrain bench row against every PyTorch and JAX row of the same network, batch and replicas."""
    out = []
    for p in m.peers:
        if p["peer"] not in ("torch", "jax"):
            continue
        for r in m.bench:
            if (r["network"], r["batch"], r["replicas"]) == (p["network"], p["batch"], p["replicas"]):
                out.append({"network": r["network"], "batch": r["batch"], "replicas": r["replicas"],
                            "sigtrain": r["backend"], "peer": p["peer"], "mode": p["mode"],
                            "sigtrain_samples_per_second": r["samples_per_second"],
                            "peer_samples_per_second": p["samples_per_second"],
                            "ratio": r["samples_per_second"] / p["samples_per_second"]})
    return out


def read_diffs(path):
    diffs = []
    try:
        for line in open(path):
            parts = line.split()
            if len(parts) == 4:
                diffs.append({"test": parts[1], "what": parts[2], "relative_difference": float(parts[3])})
    except (OSError, ValueError):
        pass
    return diffs


def sanitizer_gate(info):
    """The gate's verdict, PASS or FAIL (or why it did not run), with each run's: "FAIL (memcheck/warp=errors …)"."""
    gate, runs = info.get("sanitizer_gate", "not run"), info.get("sanitizer", "")
    return f"**{gate}** ({runs})" if runs else f"**{gate}**" if gate in ("PASS", "FAIL") else gate


def markdown(summary):
    info = summary["info"]
    t = summary["tests"]
    md = [f"# Device check {summary['date']}", "", f"- GPU: {info.get('gpu', '')}", f"- commit: {info.get('commit', '')}",
          f"- tests: {t['passed']} passed, {t['failed']} failed, {t['skipped']} skipped, of which GPU tests "
          f"{t['gpu_tests_skipped']} (ctest exit {t['ctest_status']})" if info.get("tests_run", "1") == "1"
          else "- tests: not run (--no-tests)",
          f"- build {info.get('build_seconds', '?')} s, tests {info.get('test_seconds', '?')} s; summary made at: "
          f"{info.get('stage', 'the end')}",
          f"- compute-sanitizer gate (memcheck, racecheck, synccheck on the runtime-shaped, warp and block fused "
          f"kernels): {sanitizer_gate(info)}", "",
          "## Targets (issue 9)", "",
          "| case | sigtrain | peers | ratios | must | moonshot | met? | moonshot met? |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    md += [f"| {r['case']} | {r['sigtrain']} | {r['peers']} | {r['ratios']} | {r['must']} | {r['moonshot']} | "
           f"{r['met']} | {r['moonshot_met']} |" for r in summary["targets"]]
    md += ["", "## Largest GPU-vs-reference differences (tests)", "",
           "| test | quantity | relative difference |", "| --- | --- | ---: |"]
    md += [f"| {d['test']} | {d['what']} | {d['relative_difference']:.3g} |" for d in summary["largest_differences_from_reference"]]
    md += ["", "## Benchmark (sigtrain bench)", "",
           "| network | batch | networks | backend | samples/s | through train (samples/s) | µs/step | rel. diff |",
           "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |"]
    for r in summary["bench"]:
        diff = r.get("max_relative_difference_vs_reference")
        md.append(f"| {r['network']} | {r['batch']} | {r['replicas']} | {r['backend']} | {si(r['samples_per_second'])} | "
                  f"{si(r.get('train_samples_per_second'))} | {r['us_per_step']:.4g} | "
                  f"{'—' if diff is None else f'{diff:.2g}'} |")
    md += ["", "## The peers (same machine, same run)", "",
           "| peer | mode | network | batch | networks | samples/s | µs/step |", "| --- | --- | --- | ---: | ---: | ---: | ---: |"]
    for p in summary["peers"]:
        us = p.get("us_per_step")
        md.append(f"| {p['peer']} {p.get('version', '')} | {p['mode']} | {p['network']} | {p['batch']} | {p['replicas']} | "
                  f"{si(p['samples_per_second'])} | {'—' if us is None else f'{us:.4g}'} |")
    md += ["", "## Timed `sigtrain train` commands", "",
           "| case | run | exit | wall s | samples | by wall (samples/s) | train's clock s |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in summary["train"]:
        wall = r.get("wall_seconds")
        rate = r["samples"] / wall if wall and r.get("samples") and r.get("exit") == 0 else None
        log = r.get("log_elapsed_seconds")
        md.append(f"| {r.get('case')} | {r.get('run')} | {r.get('exit')} | {'—' if wall is None else f'{wall:.3g}'} | "
                  f"{si(r.get('samples'))} | {si(rate)} | "
                  f"{'—' if log is None else f'{log:.3g}'} |")
    md += ["", "## Against the peers (sigtrain ÷ peer, samples/s; above 1: sigtrain is faster)", "",
           "| network | batch | networks | sigtrain | peer | ratio |", "| --- | ---: | ---: | --- | --- | ---: |"]
    md += [f"| {x['network']} | {x['batch']} | {x['replicas']} | {x['sigtrain']} | {x['peer']} {x['mode']} | {x['ratio']:.3g}× |"
           for x in summary["ratios_vs_peers"]]
    return "\n".join(md) + "\n"


def main():
    p = argparse.ArgumentParser(description="the summary of bench/device_check.sh")
    p.add_argument("--raw", required=True, help="the check's raw folder")
    p.add_argument("--diffs", help="the sorted sigtrain-diff lines of the GPU tests")
    p.add_argument("--json", required=True)
    p.add_argument("--markdown", required=True)
    p.add_argument("--info", action="append", default=[], help="KEY=VALUE (commit, gpu, passed, …)")
    p.add_argument("--quiet", action="store_true", help="write the files, print nothing")
    a = p.parse_args()
    info = dict(kv.split("=", 1) for kv in a.info if "=" in kv)

    def count(key):
        try:
            return int(info.get(key, 0))
        except ValueError:
            return 0

    m = Measurements(a.raw)
    summary = {
        "format": "sigtrain-device-check", "version": 2, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "commit": info.get("commit"), "gpu": info.get("gpu"), "info": info,
        "tests": {"passed": count("passed"), "failed": count("failed"), "skipped": count("skipped"),
                  "gpu_tests_skipped": count("gpu_skipped"), "ctest_status": count("ctest_status")},
        "seconds": {"build": count("build_seconds"), "tests": count("test_seconds")},
        "compute_sanitizer": info.get("sanitizer", "not run"),
        "compute_sanitizer_gate": info.get("sanitizer_gate", "not run"),
        "largest_differences_from_reference": read_diffs(a.diffs)[:10] if a.diffs else [],
        "targets": targets(m), "bench": m.bench, "peers": m.peers, "train": m.train,
        "ratios_vs_peers": ratios_against_peers(m),
    }
    with open(a.json, "w") as f:
        json.dump(summary, f, indent=2)
    text = markdown(summary)
    with open(a.markdown, "w") as f:
        f.write(text)
    if not a.quiet:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
