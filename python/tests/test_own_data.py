"""Training on an image folder from Python, and running a model on image files of any size."""
import numpy as np
import pytest
from PIL import Image

import nimble

COLOURS = {"blue": (20, 40, 220), "green": (30, 200, 40), "red": (220, 30, 30)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes told apart by colour: JPEG and PNG, grey and RGB files, sizes from 18 to 40 px."""
    root = tmp_path_factory.mktemp("folder")
    rng = np.random.default_rng(0)
    for name, colour in COLOURS.items():
        (root / name).mkdir()
        for i in range(40):
            h, w = rng.integers(18, 41, 2)
            pixels = np.clip(np.array(colour) + rng.integers(-25, 26, (h, w, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    return root


@pytest.fixture(scope="module")
def model_file(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "colours.nimble"
    report = nimble.train(model="cnn", data=str(folder), input="3x16x16", epochs=3, precision="fp32",
                          out=str(out), quiet=True)
    assert report["test_accuracy"] >= 0.9  # colours are trivially separable
    assert 0.0 <= report["data_wait_fraction"] < 1.0
    return out


def test_trained_model_keeps_its_classes_and_preprocessing(model_file):
    m = nimble.Model.load(str(model_file))
    assert m.input_shape == (3, 16, 16)
    assert m.class_names == sorted(COLOURS)
    assert m.preprocessing["fit"] == "crop" and len(m.preprocessing["mean"]) == 3


def test_read_images_and_run_on_raw_pixels_agree(model_file, folder):
    m = nimble.Model.load(str(model_file))
    files = [str(folder / "red" / "1.png"), str(folder / "blue" / "3.png")]
    fitted = m.read_images(files)
    assert fitted.shape == (2, 3, 16, 16) and fitted.dtype == np.uint8
    by_files = m.run(fitted)
    # The same PNG as raw pixels of its own size: run() fits it to the input the same way.
    raw = np.asarray(Image.open(files[0]))
    np.testing.assert_array_equal(m.run(raw[None]), by_files[:1])
    assert [m.class_names[k] for k in by_files.argmax(axis=1)] == ["red", "blue"]


def test_unreadable_file_names_itself(model_file, tmp_path):
    bad = tmp_path / "not_an_image.png"
    bad.write_text("hello")
    m = nimble.Model.load(str(model_file))
    with pytest.raises(nimble.Error, match="not_an_image.png"):
        m.read_images([str(bad)])


def test_evaluate_on_the_folder(model_file, folder):
    r = nimble.evaluate(model=str(model_file), data=str(folder))
    assert r["test_accuracy"] >= 0.9


def test_given_statistics_are_kept_and_a_fine_tuned_model_keeps_its_own(folder, model_file, tmp_path):
    given = nimble.train(model="cnn", data=str(folder), input="3x16x16", epochs=1, precision="fp32",
                         mean=[0.5, 0.4, 0.3], std=[0.25, 0.25, 0.2], out=str(tmp_path / "given.nimble"), quiet=True)
    pre = nimble.Model.load(given["checkpoint"]).preprocessing
    np.testing.assert_allclose(pre["mean"], [0.5, 0.4, 0.3])
    np.testing.assert_allclose(pre["std"], [0.25, 0.25, 0.2])
    # Training on from a model file keeps the statistics its weights were trained with.
    tuned = nimble.train(model=str(model_file), data=str(folder), epochs=1, precision="fp32",
                         out=str(tmp_path / "tuned.nimble"), quiet=True)
    assert (nimble.Model.load(tuned["checkpoint"]).preprocessing["mean"]
            == nimble.Model.load(str(model_file)).preprocessing["mean"])
