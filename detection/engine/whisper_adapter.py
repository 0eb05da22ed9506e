"""Whisper tiny.en adapted to telephone speech: low-rank weight updates merged into the shipped model.

The adapter (``models/whisper_adapter.npz``, trained by ``amd_train --only recognizer``) holds two factors
per linear weight W of the model, B (out × rank) and A (rank × in); the adapted weight is W + B·A. The
recognizer reads a CTranslate2 model folder, so ``adapted_model_dir`` merges the adapter into the base
model's ``model.bin`` once and keeps the result in a cache folder named by the hashes of both files: a new
adapter or another base model gets its own folder, and a folder is never half written (it is built beside
its final name and renamed into place). Only numpy is needed here; training needs torch.

``read_model_bin`` / ``write_model_bin`` read and write CTranslate2's model file (format version 6: the
spec's name and revision, then each variable's name, shape, type and bytes, then aliases).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_ADAPTER = MODELS_DIR / "whisper_adapter.npz"
ADAPTED_NAME = "tiny.en-telephone"  # the adapted model's folder name, before the hashes
MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "preprocessor_config.json")
CACHE_ENV = "AMD_MODEL_CACHE_DIR"
BINARY_VERSION = 6
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
_DTYPE_IDS = {np.dtype(t): i for i, t in _DTYPES.items()}
_BUILD_LOCK = threading.Lock()


@dataclass
class ModelBin:
    """The contents of a CTranslate2 ``model.bin``."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray] = field(default_factory=dict)
    aliases: list[tuple[str, str]] = field(default_factory=list)
    version: int = BINARY_VERSION


class _Reader:
    def __init__(self, f, path) -> None:
        self.f, self.path = f, path

    def bytes(self, size: int) -> bytes:
        data = self.f.read(size)
        if len(data) != size:
            raise ValueError(f"{self.path}: truncated CTranslate2 model file")
        return data

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.bytes(struct.calcsize(fmt)))

    def string(self) -> str:
        (length,) = self.unpack("<H")
        return self.bytes(length)[:-1].decode("utf-8")


def _write_string(f, text: str) -> None:
    data = text.encode("utf-8")
    f.write(struct.pack("<H", len(data) + 1) + data + b"\0")


def read_model_bin(path: str | os.PathLike) -> ModelBin:
    with open(path, "rb") as f:
        r = _Reader(f, path)
        (version,) = r.unpack("<I")
        if version != BINARY_VERSION:
            raise ValueError(f"{path}: CTranslate2 model format {version}, expected {BINARY_VERSION}")
        spec = r.string()
        (revision, count) = r.unpack("<II")
        variables = {}
        for _ in range(count):
            name = r.string()
            (rank,) = r.unpack("<B")
            shape = r.unpack(f"<{rank}I")
            (type_id, size) = r.unpack("<BI")
            if type_id not in _DTYPES:
                raise ValueError(f"{path}: variable {name} has an unsupported type ({type_id})")
            variables[name] = np.frombuffer(r.bytes(size), dtype=_DTYPES[type_id]).reshape(shape)
        (n_aliases,) = r.unpack("<I")
        aliases = [(r.string(), r.string()) for _ in range(n_aliases)]
    return ModelBin(spec, revision, variables, aliases, version)


def write_model_bin(model: ModelBin, path: str | os.PathLike) -> None:
    with open(path, "wb") as f:
        f.write(struct.pack("<I", model.version))
        _write_string(f, model.spec)
        f.write(struct.pack("<II", model.revision, len(model.variables)))
        for name, value in model.variables.items():
            value = np.require(value, requirements="C")
            _write_string(f, name)
            f.write(struct.pack("<B", value.ndim) + struct.pack(f"<{value.ndim}I", *value.shape))
            f.write(struct.pack("<BI", _DTYPE_IDS[value.dtype], value.nbytes))
            f.write(value.tobytes())
        f.write(struct.pack("<I", len(model.aliases)))
        for alias, target in model.aliases:
            _write_string(f, alias)
            _write_string(f, target)


def adapter_key(variable: str) -> str:
    """The adapter's key prefix of a model variable (``/`` is not kept in ``.npz`` names)."""
    return variable.replace("/", "__")


def load_adapter(path: str | os.PathLike) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{variable name: (B, A)} of an adapter file."""
    with np.load(path) as data:
        keys = set(data.files)
        factors = {}
        for key in sorted(keys):
            if key.endswith("__B"):
                stem = key[: -len("__B")]
                if stem + "__A" not in keys:
                    raise ValueError(f"{path}: {stem} has B but no A")
                factors[stem.replace("__", "/")] = (data[key].astype(np.float32), data[stem + "__A"].astype(np.float32))
    if not factors:
        raise ValueError(f"{path}: no low-rank factors")
    return factors


def merge(model: ModelBin, factors: dict[str, tuple[np.ndarray, np.ndarray]]) -> ModelBin:
    """The model with W + B·A for every factored weight (in the weight's own type)."""
    variables = dict(model.variables)
    for name, (b, a) in factors.items():
        if name not in variables:
            raise ValueError(f"the adapter updates {name}, which the model does not have")
        weight = variables[name]
        if weight.shape != (b.shape[0], a.shape[1]) or b.shape[1] != a.shape[0]:
            raise ValueError(f"{name}: adapter {b.shape}·{a.shape} does not fit the weight {weight.shape}")
        if weight.dtype not in (np.float16, np.float32):
            raise ValueError(f"{name}: a quantized ({weight.dtype}) model cannot be adapted")
        variables[name] = (weight.astype(np.float32) + b @ a).astype(weight.dtype)
    return ModelBin(model.spec, model.revision, variables, list(model.aliases), model.version)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def cache_root() -> Path:
    """Where adapted models are kept: ``$AMD_MODEL_CACHE_DIR``, else the user's cache folder."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or (Path.home() / ".cache")
    return Path(base) / "pyai-amd"


def adapted_model_dir(base_dir: str | os.PathLike, adapter: str | os.PathLike = DEFAULT_ADAPTER,
                      root: str | os.PathLike | None = None) -> Path:
    """The folder of the base model with the adapter merged in, built on first use."""
    base_dir, adapter = Path(base_dir), Path(adapter)
    tag = hashlib.sha256((file_sha256(base_dir / "model.bin") + file_sha256(adapter)).encode()).hexdigest()[:12]
    root = Path(root) if root is not None else cache_root()
    final = root / f"{ADAPTED_NAME}-{tag}"
    if (final / "model.bin").is_file():
        return final
    with _BUILD_LOCK:
        if (final / "model.bin").is_file():
            return final
        root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=root))
        try:
            write_model_bin(merge(read_model_bin(base_dir / "model.bin"), load_adapter(adapter)), work / "model.bin")
            for name in MODEL_FILES:
                if (base_dir / name).is_file():
                    shutil.copy2(base_dir / name, work / name)
            (work / "adapter.json").write_text(json.dumps({"base": str(base_dir), "adapter": str(adapter)}) + "\n")
            try:
                os.replace(work, final)
            except OSError:  # another process finished first
                if not (final / "model.bin").is_file():
                    raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final
