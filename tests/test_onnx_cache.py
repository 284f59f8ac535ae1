"""The ONNX export is kept once per user, keyed by the model's content: every data directory
and every copy of the model share it, a changed model is exported again, and processes or
threads exporting at once export once. The export itself is replaced by a fake that writes a
small file (the real one takes ~10 s; tests/test_embed.py runs it)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from config.settings import Settings
from index.encode import onnx_encoder

Exports = list[Path]


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> Exports:
    """Every export made, in order (each writes a small file through the real staging)."""
    made: Exports = []

    def fake(model_dir: Path, target: Path) -> None:
        with onnx_encoder._staged(target) as tmp:
            time.sleep(0.2)  # as a real export, long enough for others to arrive meanwhile
            tmp.write_bytes((model_dir / "model.safetensors").read_bytes())
        made.append(target)

    monkeypatch.setattr(onnx_encoder, "_export_fp32", fake)
    return made


def _model(where: Path, weights: bytes = b"weights-1") -> Path:
    where.mkdir(parents=True)
    (where / "config.json").write_text('{"hidden_size": 4}')
    (where / "model.safetensors").write_bytes(weights)
    (where / "README.md").write_text("about the model")
    return where


def _settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]


def test_the_cache_is_per_user_not_per_data_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CITEBOT_MODEL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    one, two = _settings(tmp_path / "one"), _settings(tmp_path / "two")
    assert one.model_cache == two.model_cache == tmp_path / "xdg" / "citebot"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _settings(tmp_path / "one").model_cache == tmp_path / "home" / ".cache" / "citebot"
    monkeypatch.setenv("CITEBOT_MODEL_CACHE_DIR", str(tmp_path / "mine"))
    assert _settings(tmp_path / "one").model_cache == tmp_path / "mine"


def test_one_export_serves_every_copy_of_the_same_model(tmp_path: Path, exports: Exports) -> None:
    cache = tmp_path / "cache"
    first = onnx_encoder.export(_model(tmp_path / "a" / "minilm"), cache, quantize=False)
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # the same model elsewhere
    again = onnx_encoder.export(tmp_path / "b" / "minilm", cache, quantize=False)
    assert again == first and len(exports) == 1


def test_a_changed_model_is_exported_again(tmp_path: Path, exports: Exports) -> None:
    cache = tmp_path / "cache"
    model = _model(tmp_path / "minilm")
    first = onnx_encoder.export(model, cache, quantize=False)
    (model / "README.md").write_text("edited documentation")  # not the model: kept
    assert onnx_encoder.export(model, cache, quantize=False) == first
    (model / "model.safetensors").write_bytes(b"weights-2")  # same size, new weights
    second = onnx_encoder.export(model, cache, quantize=False)
    assert second != first and second.read_bytes() == b"weights-2"
    assert len(exports) == 2


def test_exports_at_once_export_once(tmp_path: Path, exports: Exports) -> None:
    model, cache = _model(tmp_path / "minilm"), tmp_path / "cache"
    found: list[Path] = []
    threads = [threading.Thread(target=lambda: found.append(
        onnx_encoder.export(model, cache, quantize=False))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(found) == 6 and len(set(found)) == 1 and len(exports) == 1
    assert found[0].read_bytes() == b"weights-1"
    assert not list(cache.rglob("*.tmp*"))
