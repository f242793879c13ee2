"""ONNX import against PyTorch: torchvision classifiers exported by torch.onnx, loaded with
nimble.Model.load(model.onnx) and run in fp32, must give PyTorch's logits.

Each case exports a seeded, randomly initialised model with tests/onnx/torchvision_models.py
(batch norms recalibrated on a random batch, so they are not identities; nothing is
downloaded), then checks

    max |nimble - torch| / max |torch| <= 1e-4      (printed for every case; pytest -s shows it)

ONNX Runtime meets this with a margin (worst case 1e-5 over these families at 224x224, see
`torchvision_models.py check`). Skipped only when torch or torchvision cannot be imported
(Debian: apt-get install python3-torch python3-torchvision, or scripts/install-deps.sh --peers).

    PYTHONPATH=build/python /usr/bin/python3 -m pytest -q python/tests/test_onnx_torchvision.py -s

NIMBLE_ONNX_TEST_SIZE=N exports at N x N instead of 224 x 224 (any N >= 32: every family ends in
a global pooling), for a quicker run.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import nimble

try:
    import torch  # noqa: F401
    import torchvision  # noqa: F401
except Exception as e:  # ImportError, or a broken install failing on import
    pytest.skip(f"torch/torchvision not importable ({type(e).__name__}: {e}); these tests export "
                "torchvision models with them (apt-get install python3-torch python3-torchvision)",
                allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "onnx"))
from torchvision_models import FAMILIES, export, relative_error  # noqa: E402

TOLERANCE = 1e-4
SIZE = int(os.environ.get("NIMBLE_ONNX_TEST_SIZE", "224"))
BATCH = 2

# (family, opset, dynamic batch). Every family at opset 13; then the ones whose graphs change with
# the opset or with a symbolic batch:
#  - mobilenet_v3_small: HardSigmoid + Mul at 13, HardSwish from opset 14 (17 here);
#  - shufflenet_v2_x0_5: its channel split is Shape/Gather/Div/Slice arithmetic at 13 and 17, a
#    Split at 9; the channel shuffle's Reshape takes a computed shape with a symbolic batch;
#  - mobilenet_v2 at 9: ReLU6 as Clip with min/max attributes (inputs from opset 11);
#  - resnet18 at 11 and with a symbolic batch ("batch" as the first input/output dimension).
CASES = [(f, 13, False) for f in FAMILIES] + [
    ("mobilenet_v3_small", 17, False),
    ("shufflenet_v2_x0_5", 17, False),
    ("shufflenet_v2_x0_5", 9, False),
    ("mobilenet_v2", 9, False),
    ("resnet18", 11, False),
    ("resnet18", 13, True),
    ("shufflenet_v2_x0_5", 13, True),
]


def case_id(case):
    family, opset, dynamic = case
    return f"{family}-opset{opset}" + ("-dynamic_batch" if dynamic else "")


def check_logits(what, got, want):
    err = relative_error(got, want)
    print(f"\n{what}: max |nimble - torch| / max |torch| = {err:.3e} (max |torch| = {np.abs(want).max():.3g})")
    assert got.shape == want.shape, f"{what}: logits shape {got.shape}, PyTorch's {want.shape}"
    assert got.dtype == np.float32
    assert np.all(np.isfinite(got)), f"{what}: non-finite logits"
    assert err <= TOLERANCE, f"{what}: relative error {err:.3e} > {TOLERANCE:g}"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_torchvision_onnx_matches_torch(case, tmp_path):
    family, opset, dynamic = case
    paths = export(family, tmp_path, opset=opset, input_size=SIZE, batch=BATCH, seed=0, dynamic_batch=dynamic)
    x = np.load(paths["input"])  # (BATCH, 3, SIZE, SIZE) float32, already normalised
    want = np.load(paths["torch"])  # (BATCH, 1000)

    model = nimble.Model.load(paths["model"])
    assert tuple(model.input_shape) == (3, SIZE, SIZE)
    assert model.num_classes == 1000
    assert not model.quantized

    what = f"{case_id(case)} {SIZE}x{SIZE}"
    check_logits(what, model.run(x, precision="fp32"), want)
    if dynamic:
        # A symbolic batch: any batch runs, and one image gives its row of the batch's logits.
        check_logits(f"{what} batch 1", model.run(np.ascontiguousarray(x[:1]), precision="fp32"), want[:1])
