"""What the Python peers (torch_peer.py, jax_peer.py) share: the network argument and sigtrain bench's
count of FLOPs, so that a peer's samples per repeat are the bench's."""


def parse_widths(network, peer):
    """2-3-3-1 → [2, 3, 3, 1]; exits with a line naming the peer for anything else."""
    try:
        widths = [int(w) for w in network.split("-")]
    except ValueError:
        widths = []
    if len(widths) < 2 or any(w < 1 for w in widths):
        raise SystemExit(f"{peer}: --networks: '{network}' is not a network like 2-3-3-1")
    return widths


def training_flops_per_sample(widths):
    """sigtrain bench's count (host/tools/bench.cpp): 6 FLOPs per weight and sample, biases not counted."""
    return 6.0 * sum(a * b for a, b in zip(widths, widths[1:]))
