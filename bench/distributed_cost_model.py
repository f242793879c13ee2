#!/usr/bin/env python3
"""Bytes exchanged per data-parallel step and the scaling they allow (docs/distributed.md).

Each rank trains on its own batch (weak scaling: the global batch grows with the ranks) and the
gradients, 4 bytes per parameter, are summed by a ring allreduce: every rank sends and receives
2 (N - 1) / N of them per step, in 2 (N - 1) messages. A step then costs
    compute + max(0, communication - hidden),
where `hidden` is the part of backward the bucketed allreduce overlaps: none (the bound printed
first) or up to backward's two thirds of the step (the second).

Usage: distributed_cost_model.py NIMBLE MODEL=STEP_MS ...   (STEP_MS: one rank's measured step)
"""
import subprocess
import sys

LINKS = {"10 Gbit/s": (1.25e9 * 0.8, 30e-6), "100 Gbit/s": (12.5e9 * 0.8, 5e-6)}  # bytes/s used, latency per message
NODES = [1, 2, 8, 64]


def params_of(nimble):
    out = subprocess.run([nimble, "models"], check=True, capture_output=True, text=True).stdout.splitlines()
    return {line.split()[0]: int(line.split()[1]) for line in out[1:] if line.strip()}


def main():
    nimble, pairs = sys.argv[1], [a.split("=") for a in sys.argv[2:]]
    params = params_of(nimble)
    print("| model | params | MB sent per rank per step (N = 2 / 8 / 64) | link | efficiency at 1 / 2 / 8 / 64 ranks, "
          "no overlap | with overlap |")
    print("| --- | --- | --- | --- | --- | --- |")
    for model, step_ms in pairs:
        step = float(step_ms) / 1000
        size = 4 * params[model]
        sent = " / ".join(f"{2 * (n - 1) / n * size / 1e6:.1f}" for n in NODES[1:])
        for link, (bandwidth, latency) in LINKS.items():
            plain, hidden = [], []
            for n in NODES:
                comm = 0.0 if n == 1 else 2 * (n - 1) / n * size / bandwidth + 2 * (n - 1) * latency
                plain.append(f"{step / (step + comm):.0%}")
                hidden.append(f"{step / (step + max(0.0, comm - 2 * step / 3)):.0%}")
            print(f"| `{model}` | {params[model]:,} | {sent} | {link} | {' / '.join(plain)} | {' / '.join(hidden)} |")


if __name__ == "__main__":
    main()
