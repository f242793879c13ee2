"""nimble.Model: properties, save/load and run() against the CLI's evaluation."""
import json
import subprocess

import numpy as np
import pytest

import nimble


def test_properties(trained):
    m = nimble.Model.load(trained["checkpoint"])
    assert m.input_shape == (1, 28, 28)
    assert m.num_classes == 10
    assert not m.quantized
    pre = m.preprocessing
    assert len(pre["mean"]) == len(pre["std"]) == 1 and pre["pixel_max"] == 255
    assert 0.2 < pre["mean"][0] < 0.4  # Fashion-MNIST's mean pixel
    meta = m.metadata
    assert isinstance(meta, dict) and json.dumps(meta)
    assert "10 classes" in repr(m)


def test_run_accuracy_equals_cli_eval(trained, test_split, cli):
    """run() over the test split gives exactly the accuracy `nimble eval --json` reports."""
    images, labels = test_split
    m = nimble.Model.load(trained["checkpoint"])
    logits = m.run(images, batch=500)  # eval's batch
    assert logits.shape == (10000, 10) and logits.dtype == np.float32
    accuracy = float(np.mean(logits.argmax(axis=1) == labels))
    out = subprocess.run([cli, "eval", trained["checkpoint"], "--json"], check=True, capture_output=True, text=True)
    assert accuracy == json.loads(out.stdout)["test_accuracy"]
    assert accuracy == trained["test_accuracy"]


def test_uint8_layouts_agree(trained, test_split):
    images = test_split[0][:37]
    m = nimble.Model.load(trained["checkpoint"])
    nhw = m.run(images)
    np.testing.assert_array_equal(m.run(images[:, None, :, :]), nhw)  # NCHW
    np.testing.assert_array_equal(m.run(np.ascontiguousarray(images[:, :, :, None])), nhw)  # NHWC
    np.testing.assert_array_equal(m.run(images[:, :, :, None]), nhw)  # a non-contiguous view


def test_float_input_is_preprocessed(trained, test_split):
    images = test_split[0][:16]
    m = nimble.Model.load(trained["checkpoint"])
    pre = m.preprocessing
    x = ((images[:, None].astype(np.float32) / pre["pixel_max"]) - pre["mean"][0]) / pre["std"][0]
    np.testing.assert_allclose(m.run(x), m.run(images), rtol=1e-4, atol=1e-4)


def test_any_batch(trained, test_split):
    images = test_split[0][:23]
    m = nimble.Model.load(trained["checkpoint"])
    np.testing.assert_allclose(m.run(images, batch=5), m.run(images), rtol=1e-4, atol=1e-4)
    assert m.run(images[:1]).shape == (1, 10)


def test_bad_images(trained):
    m = nimble.Model.load(trained["checkpoint"])
    with pytest.raises(TypeError, match="images"):
        m.run(np.zeros((2, 28, 28), np.int64))
    with pytest.raises(nimble.Error):
        m.run(np.zeros((2, 3, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="precision"):
        m.run(np.zeros((2, 28, 28), np.uint8), precision="fp64")


def test_save_load(trained, workdir):
    m = nimble.Model.load(trained["checkpoint"])
    names = [f"class {i}" for i in range(10)]
    m.class_names = names
    m.save(workdir / "named.nimble")  # a pathlib.Path works as a path
    assert nimble.Model.load(str(workdir / "named.nimble")).class_names == names


def test_missing_file_is_nimble_error(workdir):
    with pytest.raises(nimble.Error) as e:
        nimble.Model.load(str(workdir / "absent.nimble"))
    assert isinstance(e.value, RuntimeError)


def test_concurrent_runs_agree(trained, test_split):
    """run() releases the GIL; concurrent calls on one Model each get their own Session."""
    from concurrent.futures import ThreadPoolExecutor
    images = test_split[0][:64]
    m = nimble.Model.load(trained["checkpoint"])
    expected = m.run(images)
    with ThreadPoolExecutor(4) as pool:
        for logits in pool.map(lambda _: m.run(images), range(8)):
            np.testing.assert_array_equal(logits, expected)
