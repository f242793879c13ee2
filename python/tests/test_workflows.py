"""nimble.train / quantize / prune / distill / evaluate / benchmark / search / optimize: the CLI's reports, keyword errors."""
import json
import subprocess

import numpy as np
import pytest

import nimble


def test_train_report(trained):
    assert 0.6 < trained["test_accuracy"] <= 1
    assert trained["precision"] == "fp32"
    assert nimble.Model.load(trained["checkpoint"]).metadata


def test_quantize_returns_the_cli_report(trained, workdir, cli):
    common = ["--calib", "256", "--iters", "5", "--batch", "64"]
    out = subprocess.run([cli, "quantize", trained["checkpoint"], "--out", str(workdir / "cli-int8.nimble"), "--json",
                          *common], check=True, capture_output=True, text=True)
    expected = json.loads(out.stdout)
    r = nimble.quantize(model=trained["checkpoint"], out=str(workdir / "int8.nimble"), calib=256, iters=5, batch=64,
                        observer="minmax", quiet=True)
    assert set(r) == set(expected)
    assert r["mode"] == "static" and r["calibration_samples"] == 256
    assert r["test_accuracy_fp32"] == expected["test_accuracy_fp32"] == trained["test_accuracy"]
    assert abs(r["test_accuracy_int8"] - r["test_accuracy_fp32"]) < 0.05
    assert r["size_bytes_int8"] < r["size_bytes_fp32"]
    assert nimble.Model.load(r["checkpoint"]).quantized


def test_prune_channels(trained, workdir):
    r = nimble.prune(model=trained["checkpoint"], out=str(workdir / "pruned.nimble"), method="channel", ratio=0.25,
                     iters=5, batch=64, quiet=True)
    assert r["method"] == "channel" and r["macs_after"] < r["macs_before"]
    assert nimble.Model.load(r["checkpoint"]).num_classes == 10


def test_prune_to_a_macs_target_with_per_layer_ratios(trained, workdir):
    target = 0.6 * trained["macs"]
    r = nimble.prune(model=trained["checkpoint"], out=str(workdir / "planned.nimble"), method="channel",
                     target_macs=target, iters=5, batch=64, quiet=True)
    assert r["macs_after"] <= target < r["macs_before"]
    plan = r["layer_plan"]
    assert plan["cost"] == r["macs_after"] and plan["base_cost"] == r["macs_before"]
    assert plan["spaces"] and all(s["levels"]["ratio"][0] == 0 for s in plan["spaces"])
    uniform = nimble.prune(model=trained["checkpoint"], out=str(workdir / "uniform.nimble"), method="channel",
                           target_macs=target, uniform=True, iters=5, batch=64, quiet=True)
    assert uniform["macs_after"] <= target and "layer_plan" not in uniform


def test_distill(trained, workdir):
    r = nimble.distill(teacher=trained["checkpoint"], teacher_form="fp32", model="cnn", width=0.5, limit=512, val=128,
                       epochs=1, precision="fp32", alpha=0.5, out=str(workdir / "student.nimble"), quiet=True)
    assert r["alpha"] == 0.5 and r["teacher"] == trained["checkpoint"] and r["teacher_precision"] == "fp32"
    assert r["test_accuracy"] > 0.2


def test_evaluate_and_benchmark(trained):
    e = nimble.evaluate(model=trained["checkpoint"], quiet=True)
    assert e["test_accuracy"] == trained["test_accuracy"] and e["samples"] == 10000
    b = nimble.benchmark(zoo_model="cnn", input=(1, 28, 28), batch=8, iters=3, warmup=1, precision="fp32", quiet=True)
    assert b["latency_ms_p50"] > 0 and b["batch"] == 8


def test_search_resumes_from_its_directory(workdir, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the latency table's per-machine cache
    small = dict(out=str(workdir / "search"), limit=480, val=96, epochs=1, batch=32, population=4, generations=1,
                 random_evaluations=4, latency_iters=5, latency_validation=4, select=1, quiet=True)
    r = nimble.search(**small)
    assert r["supernet"]["epochs"] == 1 and not r["supernet"]["reused"]
    assert r["search"]["nsga2_evaluations"] == 8 and r["latency"]["validation_models"] == 4
    model = nimble.Model.load(r["models"][0]["path"])
    assert model.num_classes == 10
    again = nimble.search(**small)
    assert again["supernet"]["reused"] and again["latency"]["cached"]
    assert again["models"][0]["arch"] == r["models"][0]["arch"]


def write_banded_idx(folder, train=600, test=200, classes=4):
    """An IDX data set whose class is the images' brightness band: learnt in an epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", train), ("t10k", test)):
        labels = (np.arange(n) % classes).astype(np.uint8)
        noise = (np.arange(784)[None, :] * 7 + np.arange(n)[:, None]) % 30
        images = (30 + (220 // classes) * labels[:, None] + noise).astype(np.uint8)
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(
            bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (n, 28, 28)) + images.tobytes())
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(
            bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + labels.tobytes())


def test_optimize_recommends_and_resumes(tmp_path):
    write_banded_idx(tmp_path / "data")
    run = dict(data=str(tmp_path / "data"), out=str(tmp_path / "opt"), preset="quick", precision="fp32", iters=10,
               max_drop=5.0, quiet=True)
    r = nimble.optimize(**run)
    assert [s["name"] for s in r["stages"]] == ["teacher", "baseline", "student", "distill", "prune", "quantize",
                                                "final"]
    assert r["goals_met"] and r["recommended"] is not None
    assert nimble.Model.load(r["model"]).num_classes == 4
    assert (tmp_path / "opt" / "report.html").exists()
    again = nimble.optimize(**run)
    assert all(s["reused"] == (s["name"] != "final") for s in again["stages"])


def test_unknown_keyword_is_type_error():
    with pytest.raises(TypeError, match="'epoch'"):
        nimble.train(epoch=1)
    with pytest.raises(TypeError, match="'teacher'"):
        nimble.distill(model="cnn")


def test_wrong_type_is_type_error():
    with pytest.raises(TypeError, match="epochs"):
        nimble.train(epochs="three")
    with pytest.raises(TypeError, match="keep_float"):
        nimble.quantize(model="m.nimble", out="o.nimble", keep_float=3)


@pytest.mark.parametrize("call, keyword", [
    (lambda: nimble.train(lr=-1.0), "lr"),
    (lambda: nimble.train(precision="fp64"), "precision"),
    (lambda: nimble.train(alpha=0.5), "alpha"),  # a teacher setting without a teacher
    (lambda: nimble.train(teacher="t.nimble", alpha=2.0), "alpha"),
    (lambda: nimble.quantize(model="m.nimble", out="o.nimble", observer="nope"), "observer"),
    (lambda: nimble.quantize(model="m.nimble"), "out"),
    (lambda: nimble.prune(model="m.nimble", out="o.nimble", method="channel", ratio=1.5), "ratio"),
    (lambda: nimble.prune(model="m.nimble", out="o.nimble", method="channel", uniform=True), "uniform"),
    (lambda: nimble.benchmark(input="1x28"), "input"),
    (lambda: nimble.search(population=5), "population"),
    (lambda: nimble.search(deploy="fp8"), "deploy"),
    (lambda: nimble.optimize(preset="slow"), "preset"),
    (lambda: nimble.optimize(from_stage="nowhere"), "from_stage"),
])
def test_bad_value_is_value_error_naming_the_keyword(call, keyword):
    with pytest.raises(ValueError, match=f"^{keyword}: "):
        call()
