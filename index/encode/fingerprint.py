"""A model's identity for caching its ONNX export: the SHA-256 of its files' contents, so that
one export serves every data directory and every copy of the model, and a changed model (an
upgraded package, a fine-tune saved over the old one) is exported again.

Hashing ~90 MB of weights costs a few tenths of a second, too much for every start, so each
file's digest is remembered in the cache (``fingerprints.json``) under its path, size,
modification time and inode, and computed again only when one of them changes.
"""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import suppress
from pathlib import Path

MEMO = "fingerprints.json"
_SKIP = {"README.md", ".gitattributes"}  # documentation: not the model


def model_key(model_dir: Path, cache_dir: Path) -> str:
    """The SHA-256 of the model in ``model_dir`` (every file's relative path and content)."""
    files = sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name not in _SKIP
                   and not any(part.startswith(".") for part in p.relative_to(model_dir).parts)
                   ) if model_dir.is_dir() else []
    memo = _read(cache_dir / MEMO)
    changed = False
    digest = hashlib.sha256()
    for path in files:
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino]
        key = str(path.resolve())
        known = memo.get(key)
        if not (isinstance(known, dict) and known.get("stamp") == stamp):
            known = {"stamp": stamp, "sha256": _sha256(path)}
            memo[key] = known
            changed = True
        digest.update(f"{path.relative_to(model_dir).as_posix()}\0{known['sha256']}\n".encode())
    if changed:
        _write(cache_dir / MEMO, memo)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _read(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, memo: dict[str, object]) -> None:
    """Best effort: a cache that cannot be written only costs hashing again next time."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps(memo, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    with suppress(OSError):
        tmp.unlink(missing_ok=True)
