#!/usr/bin/env python3
"""The JAX peer of bench/device_check.sh: the networks of `sigtrain bench`, trained the same way, in JAX.

Prints one JSON line per network and batch, in torch_peer.py's format:
  {"peer":"jax","mode":"cuda-jit-scan","network":"2-3-3-1","batch":256,"replicas":1,"samples_per_second":…}

Matched to sigtrain and torch_peer.py (DESIGN.md section 1): weights without bias (--bias adds them,
zero-initialised), sigmoid hidden layers, a linear output, the loss ((yhat - y)**2).sum(1).mean()
(summed over outputs, averaged over the batch), plain SGD, float32 (matrix products at "highest"
precision, i.e. true fp32; --tf32 lets them use TF32), Glorot-uniform weights, inputs uniform in
[-2, 2], targets uniform in [-1, 1], a fixed seed, and the same samples per repeat as `sigtrain bench
--work W`: ceil(W / FLOPs per sample / batch) whole batches, FLOPs counted as 6 per weight and sample
(with --replicas R, per network, as `sigtrain bench --replicas`).

What is timed (the "mode"): one epoch over the repeat's samples as ONE jit-compiled call: a fresh
permutation of the data (jax.random.permutation, keyed by the epoch number, inside the compiled
epoch), then a `lax.scan` over the batches, each step gathering its batch by the permutation, taking
the gradient and updating the weights; the call returns the epoch's mean loss, which is read back.
  <device>-jit-scan    one network;
  <device>-vmap-scan   --replicas R: R networks (their own initial weights and their own permutation
                       of the shared data each epoch) as one `vmap` of that epoch.
<device> is cuda (--cuda) or cpu; "-tf32" is appended with --tf32. The first epoch compiles and warms
up and is not timed; then --repeats epochs, each timed from the call to block_until_ready on its
result; the median, min and max of samples/s (over all networks) are reported. Unlike `sigtrain
bench`, whose epoch order is made before its clock starts, the permutation is inside the timed epoch.

Without jax (or, with --cuda, without a GPU that jax can use) it says why on stderr and exits 0,
printing nothing on stdout, so that the device check carries on.
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

# JAX takes 75% of the GPU's memory at its first use unless told not to; the other peers and sigtrain
# run after it in the same check, and the replica cases need only what they allocate.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")


def parse_arguments():
    p = argparse.ArgumentParser(description="JAX beside sigtrain (see bench/README.md)")
    p.add_argument("--networks", default="2-3-3-1", help="comma-separated, e.g. 2-3-3-1,2-64-64-1")
    p.add_argument("--batches", default="256", help="comma-separated batch sizes")
    p.add_argument("--replicas", type=int, default=1, help="train this many networks at once (vmap)")
    p.add_argument("--work", type=float, default=1e9, help="FLOPs per repeat (per network), as `sigtrain bench --work`")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--lr", type=float, default=1e-4, help="small, so that long runs stay finite")
    p.add_argument("--bias", action="store_true", help="give every layer a bias (sigtrain bench's networks have none)")
    p.add_argument("--cuda", action="store_true", help="train on the GPU instead of the CPU")
    p.add_argument("--tf32", action="store_true", help="let matrix products use TF32 (default: true fp32)")
    a = p.parse_args()
    if a.repeats < 1 or not a.work > 0 or a.replicas < 1:
        p.error("--repeats and --replicas must be at least 1 and --work above 0")
    a.networks = [n for n in a.networks.split(",") if n]
    a.widths = {n: parse_widths(n, "jax_peer") for n in a.networks}
    try:
        a.batches = [int(b) for b in a.batches.split(",") if b]
    except ValueError:
        p.error("--batches takes comma-separated whole numbers")
    if any(b < 1 for b in a.batches):
        p.error("batches must be at least 1")
    return a


def init_parameters(jax, jnp, key, widths, bias):
    """Glorot-uniform weights (fan_in × fan_out, so a layer is x @ W), zero biases where asked."""
    params = []
    for n_in, n_out in zip(widths, widths[1:]):
        key, sub = jax.random.split(key)
        limit = math.sqrt(6.0 / (n_in + n_out))
        w = jax.random.uniform(sub, (n_in, n_out), jnp.float32, -limit, limit)
        params.append((w, jnp.zeros((n_out,), jnp.float32) if bias else None))
    return params


def make_epoch(jax, jnp, samples, batch, lr):
    """One epoch of one network: a fresh permutation, then lax.scan over the batches (SGD steps)."""
    steps = samples // batch

    def forward(params, x):
        a = x
        for l, (w, b) in enumerate(params):
            z = a @ w
            if b is not None:
                z = z + b
            a = jax.nn.sigmoid(z) if l + 1 < len(params) else z
        return a

    def loss(params, x, y):
        return jnp.sum((forward(params, x) - y) ** 2, axis=1).mean()

    value_and_grad = jax.value_and_grad(loss)

    def epoch(params, x, y, key):
        order = jax.random.permutation(key, samples).reshape(steps, batch)

        def step(carry, rows):
            params, loss_sum = carry
            value, grads = value_and_grad(params, x[rows], y[rows])
            params = jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)
            return (params, loss_sum + value), None

        (params, loss_sum), _ = jax.lax.scan(step, (params, jnp.float32(0)), order)
        return params, loss_sum / steps

    return epoch


def run_case(jax, jnp, args, network, batch, device, mode):
    widths = args.widths[network]
    steps = max(1, math.ceil(args.work / training_flops_per_sample(widths) / batch))
    samples = steps * batch
    R = args.replicas
    print(f"jax_peer: {network}, batch {batch}, {mode}, {R} × {samples} samples per repeat", file=sys.stderr)
    key = jax.random.PRNGKey(args.seed)
    kx, ky, kp, kepoch = jax.random.split(key, 4)
    with jax.default_device(device):
        x = jax.random.uniform(kx, (samples, widths[0]), jnp.float32, -2.0, 2.0)
        y = jax.random.uniform(ky, (samples, widths[-1]), jnp.float32, -1.0, 1.0)
        one_epoch = make_epoch(jax, jnp, samples, batch, args.lr)
        if R == 1:
            params = init_parameters(jax, jnp, kp, widths, args.bias)
            run_epoch = jax.jit(lambda p, x, y, e: one_epoch(p, x, y, jax.random.fold_in(kepoch, e)), donate_argnums=0)
        else:
            # Each network its own initial weights and, every epoch, its own permutation of the shared data.
            params = jax.vmap(lambda k: init_parameters(jax, jnp, k, widths, args.bias))(jax.random.split(kp, R))
            many = jax.vmap(one_epoch, in_axes=(0, None, None, 0))
            run_epoch = jax.jit(lambda p, x, y, e: many(p, x, y, jax.random.split(jax.random.fold_in(kepoch, e), R)),
                                donate_argnums=0)
        # The data are arguments, not constants folded into the compiled program.
        params, loss = run_epoch(params, x, y, 0)  # compiles, and warms up
        loss.block_until_ready()
        rates = []
        for epoch in range(1, args.repeats + 1):
            start = time.perf_counter()
            params, loss = run_epoch(params, x, y, epoch)
            loss.block_until_ready()
            rates.append(samples * R / (time.perf_counter() - start))
    median = statistics.median(rates)
    record = {
        "peer": "jax", "mode": mode, "network": network, "batch": batch, "replicas": R, "threads": None,
        "samples_per_repeat": samples, "repeats": args.repeats, "samples_per_second": median,
        "samples_per_second_min": min(rates), "samples_per_second_max": max(rates),
        "us_per_step": 1e6 * batch * R / median, "bias": args.bias, "version": jax.__version__,
        "device": getattr(device, "device_kind", str(device)), "precision": "tf32" if args.tf32 else "fp32",
        "final_mean_loss": float(jnp.mean(loss)),
    }
    print(json.dumps(record), flush=True)


def main():
    args = parse_arguments()
    try:
        import jax
        import jax.numpy as jnp
    except ImportError as e:
        print(f"jax_peer: skipped: JAX is not importable with {sys.executable} ({e})", file=sys.stderr)
        return 0
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if args.tf32 else "highest")
    kind = "cuda" if args.cuda else "cpu"
    try:
        device = jax.devices("gpu" if args.cuda else "cpu")[0]
    except RuntimeError as e:
        print(f"jax_peer: skipped: jax {jax.__version__} has no {kind} device ({e})", file=sys.stderr)
        return 0
    mode = f"{kind}-{'jit' if args.replicas == 1 else 'vmap'}-scan" + ("-tf32" if args.tf32 else "")
    for network in args.networks:
        for batch in args.batches:
            run_case(jax, jnp, args, network, batch, device, mode)
    return 0


if __name__ == "__main__":
    sys.exit(main())
