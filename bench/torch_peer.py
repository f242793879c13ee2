#!/usr/bin/env python3
"""Runs the PyTorch peer (bench/peers/torch_fmnist.py) with torch.nn.ReLU6 replaced by a clamp.

Debian's torch 1.13 has no bf16 kernel for ReLU6's backward ("hardshrink_backward_cpu" not
implemented for 'BFloat16'), so the peer cannot train mobilenet_v2 under bf16 autocast as it is.
clamp(x, 0, 6) is the same function and has bf16 kernels; its gradient differs from ReLU6's only
at exactly 0 and 6. In-place stays in-place, as torchvision asks for it. Every peer run of the
bench goes through here, fp32 too, so both precisions time the same model.

  /usr/bin/python3 bench/torch_peer.py PEER_SCRIPT [PEER ARGS...]
"""
import runpy
import sys

import torch


class ClampReLU6(torch.nn.Module):
    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.clamp_(0.0, 6.0) if self.inplace else x.clamp(0.0, 6.0)


if len(sys.argv) < 2:
    sys.exit("usage: torch_peer.py PEER_SCRIPT [PEER ARGS...]")
torch.nn.ReLU6 = ClampReLU6
torch.nn.modules.activation.ReLU6 = ClampReLU6
peer = sys.argv[1]
sys.argv = [peer] + sys.argv[2:]
runpy.run_path(peer, run_name="__main__")
