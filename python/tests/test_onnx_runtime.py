"""nimble's ONNX export run by ONNX Runtime on real test images (Fashion-MNIST's test split):

- the fp32 export gives nimble's fp32 logits within 1e-4 relative (max |ort - nimble| / max |nimble|);
- the int8 export (QDQ: QuantizeLinear / DequantizeLinear around each int8 layer, which ONNX
  Runtime runs with its own int8 kernels) agrees with nimble's int8 top-1 on at least 99 % of
  the images;
- both files reload in nimble (import(export(m))) and compute what m computes.

ONNX Runtime for Node comes from scripts/install-onnxruntime.sh (the test command runs it); CTest
sets NIMBLE_ORT_NODE_PATH to its folder. Without it these tests fail rather than skip.
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

import nimble

ROOT = Path(__file__).resolve().parents[2]
IMAGES = 2000


def ort_logits(model_path, images_f32, tmp_path):
    node_path = os.environ.get("NIMBLE_ORT_NODE_PATH") or str(ROOT / "build" / "_deps" / "onnxruntime" /
                                                              "node_modules")
    inp, out = tmp_path / "input.npy", tmp_path / "output.npy"
    np.save(inp, np.ascontiguousarray(images_f32, dtype=np.float32))
    subprocess.run(["node", str(ROOT / "tests" / "onnx" / "ort_run.js"), str(model_path), str(inp), str(out), "1"],
                   check=True, env={**os.environ, "NODE_PATH": node_path})
    return np.load(out)


def preprocessed(model, images_u8):
    """What run() feeds the graph: (pixels / pixel_max - mean) / std, NCHW float32."""
    p = model.preprocessing
    x = images_u8.astype(np.float32)[:, None, :, :] / np.float32(p["pixel_max"])
    if p["mean"]:
        x = (x - np.array(p["mean"], np.float32)[None, :, None, None]) / np.array(p["std"], np.float32)[None, :, None, None]
    return x


@pytest.fixture(scope="module")
def int8_model(trained, workdir):
    out = str(workdir / "cnn-int8.nimble")
    nimble.quantize(model=trained["checkpoint"], out=out, calib=512, iters=5, quiet=True)
    return out


def test_fp32_export_runs_in_onnx_runtime_with_nimbles_logits(trained, test_split, tmp_path):
    model = nimble.Model.load(trained["checkpoint"])
    images = test_split[0][:IMAGES]
    want = model.run(images, precision="fp32")
    model.export_onnx(str(tmp_path / "cnn.onnx"))
    got = ort_logits(tmp_path / "cnn.onnx", preprocessed(model, images), tmp_path)
    err = float(np.abs(got - want).max() / np.abs(want).max())
    print(f"fp32: ONNX Runtime vs nimble, max relative error {err:.2e} over {IMAGES} images")
    assert got.shape == want.shape
    assert err <= 1e-4
    back = nimble.Model.load(str(tmp_path / "cnn.onnx"))  # import(export(m))
    again = back.run(preprocessed(model, images), precision="fp32")
    assert float(np.abs(again - want).max() / np.abs(want).max()) <= 1e-5


def test_int8_qdq_export_agrees_with_nimbles_int8(int8_model, test_split, tmp_path):
    model = nimble.Model.load(int8_model)
    assert model.quantized
    images, labels = test_split[0][:IMAGES], test_split[1][:IMAGES]
    want = model.run(images)
    model.export_onnx(str(tmp_path / "cnn-int8.onnx"))
    got = ort_logits(tmp_path / "cnn-int8.onnx", preprocessed(model, images), tmp_path)
    agree = float((got.argmax(1) == want.argmax(1)).mean())
    print(f"int8: ONNX Runtime (QDQ) agrees with nimble int8 on {agree:.2%} of {IMAGES} top-1 predictions; "
          f"accuracy {float((got.argmax(1) == labels).mean()):.2%} vs {float((want.argmax(1) == labels).mean()):.2%}")
    assert agree >= 0.99
    # import(export(m)): the QDQ file reads back as a float graph with fake-quant at nimble's scales.
    back = nimble.Model.load(str(tmp_path / "cnn-int8.onnx")).run(preprocessed(model, images), precision="fp32")
    assert float((back.argmax(1) == want.argmax(1)).mean()) >= 0.99
    assert float(np.abs(back - want).max() / np.abs(want).max()) <= 0.02


def test_export_refuses_a_wrong_path_and_keeps_what_was_there(trained, cli, tmp_path):
    target = tmp_path / "keep.onnx"
    target.write_bytes(b"old")
    r = subprocess.run([cli, "export", trained["checkpoint"], "--out", str(tmp_path / "no-such-dir" / "m.onnx")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    r = subprocess.run([cli, "export", trained["checkpoint"], "--out", str(tmp_path / "m.nimble")], capture_output=True,
                       text=True)
    assert r.returncode == 2 and ".onnx" in r.stderr, r.stderr
    assert target.read_bytes() == b"old"


def write_idx(path, array):
    """An uncompressed IDX file of uint8 data (images (N, H, W) or labels (N,))."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    path.write_bytes(header + np.ascontiguousarray(array, np.uint8).tobytes())


def test_an_imported_model_quantizes_on_a_small_data_set(trained, test_split, tmp_path):
    """An imported model has no training recipe: the validation hold-out must fit 1,500 images."""
    nimble.Model.load(trained["checkpoint"]).export_onnx(str(tmp_path / "cnn.onnx"))
    data = tmp_path / "small"
    data.mkdir()
    images, labels = test_split
    write_idx(data / "train-images-idx3-ubyte", images[:1500])
    write_idx(data / "train-labels-idx1-ubyte", labels[:1500])
    write_idx(data / "t10k-images-idx3-ubyte", images[1500:2000])
    write_idx(data / "t10k-labels-idx1-ubyte", labels[1500:2000])
    r = nimble.quantize(model=str(tmp_path / "cnn.onnx"), data=str(data), out=str(tmp_path / "int8.nimble"),
                        calib=256, iters=5, quiet=True)
    assert r["calibration_samples"] == 256
    assert nimble.Model.load(str(tmp_path / "int8.nimble")).quantized
