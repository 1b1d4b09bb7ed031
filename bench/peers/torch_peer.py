#!/usr/bin/env python3
"""The PyTorch peer of bench/run_peers.sh and bench/device_check.sh: the networks of `sigtrain bench`,
trained the same way.

Prints one JSON line per network, batch and thread count (or device mode):
  {"peer":"torch","mode":"cpu-1","network":"2-3-3-1","batch":256,"replicas":1,"samples_per_second":..., ...}

Matched to sigtrain (DESIGN.md section 1): nn.Linear layers without bias (sigtrain bench's networks
have none; --bias adds them), sigmoid hidden layers, a linear output, the loss
((yhat - y)**2).sum(1).mean() (summed over outputs, averaged over the batch), plain SGD, float32,
Glorot-uniform weights, inputs uniform in [-2, 2], targets uniform in [-1, 1], a fixed seed, and the
same number of samples per repeat as `sigtrain bench --work W`: ceil(W / FLOPs per sample / batch)
whole batches, FLOPs counted as 6 per weight and sample.

Timing: the data are tensors on the device, cut into batches (views) before the clock starts, so no
data loading is timed; max(2, steps/10) warm-up steps; --repeats timed passes; median, min, max.

Modes: cpu-N (torch.set_num_threads(N); --threads 1,0 runs one thread and all), cuda (--cuda: one
kernel launch per operation, torch.cuda.synchronize() before the clock reads), cuda-graphs (--cuda
--graphs: the whole step, forward, loss, backward and the SGD update, captured once as a CUDA graph
and replayed, each batch copied into the graph's static input first). --tf32 (with --cuda) lets the
matrix products use TF32 tensor cores and appends "-tf32" to the mode; the default is true fp32.

--replicas R: R networks at once as batched tensors, every layer one torch.bmm over the R networks
(weights R × n_in × n_out), the loss the sum of the R networks' losses (so each network's gradient is
its own), one SGD step for all; modes cpu-N-bmm, cuda-bmm (eager) and cuda-bmm-graphs (the whole
step of all R networks as one CUDA graph). Each network gets its own initial weights and its own
random data (samples per repeat as `sigtrain bench --replicas`: per network), laid out step-major so
that a step's batch of all networks is one contiguous view; samples/s count all networks.

Without torch (or, with --cuda, without a CUDA device) it says why on stderr and exits 0, printing
nothing on stdout, so that bench/run_peers.sh carries on with the other peers.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_common import parse_widths, training_flops_per_sample  # noqa: E402


def parse_arguments():
    p = argparse.ArgumentParser(description="PyTorch beside sigtrain (see bench/README.md)")
    p.add_argument("--networks", default="2-3-3-1", help="comma-separated, e.g. 2-3-3-1,2-64-64-1")
    p.add_argument("--batches", default="256", help="comma-separated batch sizes")
    p.add_argument("--threads", default="1,0", help="CPU thread counts, comma-separated; 0 means all cores")
    p.add_argument("--work", type=float, default=1e9, help="FLOPs per repeat, as `sigtrain bench --work`")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lr", type=float, default=1e-4, help="small, so that long runs stay finite")
    p.add_argument("--bias", action="store_true", help="give every layer a bias (sigtrain bench's networks have none)")
    p.add_argument("--cuda", action="store_true", help="train on the GPU instead of the CPU")
    p.add_argument("--graphs", action="store_true", help="with --cuda: replay the whole step as one CUDA graph")
    p.add_argument("--tf32", action="store_true", help="with --cuda: let matrix products use TF32 (default: true fp32)")
    p.add_argument("--replicas", type=int, default=1, help="train this many networks at once with torch.bmm")
    a = p.parse_args()
    if (a.graphs or a.tf32) and not a.cuda:
        p.error("--graphs and --tf32 need --cuda")
    if a.repeats < 1 or not a.work > 0 or a.replicas < 1:
        p.error("--repeats and --replicas must be at least 1 and --work above 0")
    a.networks = [n for n in a.networks.split(",") if n]
    a.widths = {n: parse_widths(n, "torch_peer") for n in a.networks}
    try:
        a.batches = [int(b) for b in a.batches.split(",") if b]
        a.threads = [int(t) for t in a.threads.split(",") if t]
    except ValueError:
        p.error("--batches and --threads take comma-separated whole numbers")
    if any(b < 1 for b in a.batches) or any(t < 0 for t in a.threads):
        p.error("batches must be at least 1, threads 0 (all) or more")
    return a


def all_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def make_model(torch, widths, bias, device, generator):
    layers = []
    for l, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        linear = torch.nn.Linear(n_in, n_out, bias=bias)
        try:  # sigtrain's Glorot-uniform initialisation; `generator` arrived in torch 2.1
            torch.nn.init.xavier_uniform_(linear.weight, generator=generator)
        except TypeError:
            torch.nn.init.xavier_uniform_(linear.weight)
        if bias:
            torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if l + 2 < len(widths):
            layers.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*layers).to(device=device, dtype=torch.float32)


class BatchedNetworks:
    """R networks of the same widths as batched tensors: each layer one torch.bmm (or torch.baddbmm with
    a bias) of the R networks' activations (R × B × n_in) by their weights (R × n_in × n_out)."""

    def __init__(self, torch, widths, replicas, bias, device, generator):
        self.torch = torch
        self.weights, self.biases = [], []
        for n_in, n_out in zip(widths, widths[1:]):
            limit = math.sqrt(6.0 / (n_in + n_out))  # Glorot-uniform, every network its own draw
            w = (torch.rand(replicas, n_in, n_out, generator=generator, device=device) * 2 - 1) * limit
            self.weights.append(w.requires_grad_())
            self.biases.append(torch.zeros(replicas, 1, n_out, device=device, requires_grad=True) if bias else None)

    def parameters(self):
        return self.weights + [b for b in self.biases if b is not None]

    def __call__(self, x):
        a = x
        for l, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = self.torch.bmm(a, w) if b is None else self.torch.baddbmm(b, a, w)
            a = self.torch.sigmoid(z) if l + 1 < len(self.weights) else z
        return a


def mse(yhat, y):
    """sigtrain's loss: summed over the outputs, averaged over the batch; with replicas (R × B × outputs)
    the sum of the networks' losses, whose gradient for each network is that network's own."""
    return ((yhat - y) ** 2).sum(-1).mean(-1).sum()


class Trainer:
    """One SGD step on a batch, plain (eager) or replayed from a CUDA graph."""

    def __init__(self, torch, model, lr, batch_shape, inputs, outputs, device, graphs):
        self.torch, self.model = torch, model
        self.optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        self.graph = None
        if graphs:
            self._capture(batch_shape, inputs, outputs, device)

    def _eager_step(self, x, y):
        self.optimizer.zero_grad(set_to_none=True)
        loss = mse(self.model(x), y)
        loss.backward()
        self.optimizer.step()
        return loss

    def _capture(self, batch_shape, inputs, outputs, device):
        # The pattern of PyTorch's "whole network capture": warm up on a side stream (so that lazy
        # initialisation and the allocator's first allocations happen outside the graph), then capture
        # forward, loss, backward and step once; replays read the static input and target tensors.
        torch = self.torch
        self.static_x = torch.zeros(batch_shape + (inputs,), device=device)
        self.static_y = torch.zeros(batch_shape + (outputs,), device=device)
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                self._eager_step(self.static_x, self.static_y)
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(self.graph):
            self.static_loss = self._eager_step(self.static_x, self.static_y)

    def step(self, x, y):
        if self.graph is None:
            self._eager_step(x, y)
            return
        self.static_x.copy_(x, non_blocking=True)
        self.static_y.copy_(y, non_blocking=True)
        self.graph.replay()


def make_batches(torch, widths, steps, batch, device, generator):
    """One network's data, row-major (samples × features), cut into batches: contiguous views, made once."""
    samples = steps * batch
    x = (torch.rand(samples, widths[0], generator=generator) * 4 - 2).to(device)
    y = (torch.rand(samples, widths[-1], generator=generator) * 2 - 1).to(device)
    return [(x[s * batch:(s + 1) * batch], y[s * batch:(s + 1) * batch]) for s in range(steps)]


def make_replica_batches(torch, widths, steps, batch, replicas, device, generator):
    """R networks' data, step-major (steps × R × batch × features), made on the device (hundreds of
    millions of numbers for the larger replica cases), so that a step's batches are one contiguous view."""
    x = torch.rand(steps, replicas, batch, widths[0], generator=generator, device=device) * 4 - 2
    y = torch.rand(steps, replicas, batch, widths[-1], generator=generator, device=device) * 2 - 1
    return [(x[s], y[s]) for s in range(steps)]


def run_case(torch, args, network, batch, mode, device):
    widths = args.widths[network]
    R = args.replicas
    steps = max(1, math.ceil(args.work / training_flops_per_sample(widths) / batch))
    samples = steps * batch
    print(f"torch_peer: {network}, batch {batch}, {mode}, {R} × {samples} samples per repeat", file=sys.stderr)
    if R == 1:
        generator = torch.Generator().manual_seed(args.seed)
        batches = make_batches(torch, widths, steps, batch, device, generator)
        model = make_model(torch, widths, args.bias, device, generator)
        batch_shape = (batch,)
    else:
        generator = torch.Generator(device=device).manual_seed(args.seed)
        batches = make_replica_batches(torch, widths, steps, batch, R, device, generator)
        model = BatchedNetworks(torch, widths, R, args.bias, device, generator)
        batch_shape = (R, batch)
    trainer = Trainer(torch, model, args.lr, batch_shape, widths[0], widths[-1], device, args.graphs)

    def synchronize():
        if device == "cuda":
            torch.cuda.synchronize()

    for s in range(max(2, steps // 10)):
        trainer.step(*batches[s % steps])
    synchronize()
    rates = []
    for _ in range(args.repeats):
        synchronize()
        start = time.perf_counter()
        for xb, yb in batches:
            trainer.step(xb, yb)
        synchronize()
        rates.append(samples * R / (time.perf_counter() - start))
    median = statistics.median(rates)
    record = {
        "peer": "torch", "mode": mode, "network": network, "batch": batch, "replicas": R,
        "threads": torch.get_num_threads() if device == "cpu" else None,
        "samples_per_repeat": samples, "repeats": args.repeats,
        "samples_per_second": median,
        "samples_per_second_min": min(rates), "samples_per_second_max": max(rates),
        "us_per_step": 1e6 * batch * R / median,
        "bias": args.bias, "version": torch.__version__,
    }
    if device == "cuda":
        record["device"] = torch.cuda.get_device_name()
        record["precision"] = "tf32" if args.tf32 else "fp32"
    print(json.dumps(record), flush=True)


def main():
    args = parse_arguments()
    try:
        import torch
    except ImportError as e:
        print(f"torch_peer: skipped: PyTorch is not importable with {sys.executable} ({e}); "
              "see bench/README.md for installing it", file=sys.stderr)
        return 0
    torch.manual_seed(args.seed)
    if args.cuda:
        if not torch.cuda.is_available():
            print(f"torch_peer: skipped: --cuda, but torch {torch.__version__} sees no CUDA device", file=sys.stderr)
            return 0
        # Plain FP32, as sigtrain without --tf32; TF32 tensor cores with --tf32, as sigtrain with it.
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        mode = "cuda" + ("-bmm" if args.replicas > 1 else "") + ("-graphs" if args.graphs else "") + ("-tf32" if args.tf32 else "")
        for network in args.networks:
            for batch in args.batches:
                run_case(torch, args, network, batch, mode, "cuda")
        return 0
    for network in args.networks:
        for batch in args.batches:
            for threads in args.threads:
                torch.set_num_threads(threads or all_cores())
                mode = ("cpu-1" if threads == 1 else f"cpu-{threads or 'all'}") + ("-bmm" if args.replicas > 1 else "")
                run_case(torch, args, network, batch, mode, "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
