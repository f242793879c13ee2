"""Shared fixtures: one tiny model trained once per session, Fashion-MNIST's test split, the CLI."""
import gzip
import os
import shutil

import numpy as np
import pytest

import nimble

DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    """An IDX file (gzip) as a numpy array: images (N, H, W) uint8 or labels (N,)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * rank).reshape(dims)


@pytest.fixture(scope="session")
def test_split():
    return read_idx(f"{DATA}/t10k-images-idx3-ubyte.gz"), read_idx(f"{DATA}/t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("nimble")


@pytest.fixture(scope="session")
def trained(workdir):
    """A cnn trained on 2048 samples for two epochs in fp32: its train report."""
    return nimble.train(model="cnn", limit=2048, val=256, epochs=2, precision="fp32",
                        out=str(workdir / "cnn.nimble"), quiet=True)


@pytest.fixture(scope="session")
def cli():
    """The `nimble` command of this build (CTest sets NIMBLE_CLI), else one on PATH."""
    path = os.environ.get("NIMBLE_CLI") or shutil.which("nimble")
    if not path:
        pytest.skip("no nimble command to compare with")
    return path
