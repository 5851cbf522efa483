"""A cache of pytest's assertion-rewritten test modules, for environments that set
PYTHONDONTWRITEBYTECODE (this one does).

pytest rewrites the asserts of every test module and conftest before importing it, and normally keeps
the result in a `.pyc` beside the module. With `sys.dont_write_bytecode` it writes none, so every run,
and under pytest-xdist every worker, parses, rewrites and compiles every test module again (about
15 s per worker on the 2-core CI machine). This plugin (loaded by tests/conftest.py) keeps the
rewritten code objects under the run's cache directory instead (`.pytest_cache/d/assertion-rewrite`),
never beside the sources.

An entry is used only if it was made from the same bytes at the same path by the same Python (its
bytecode magic number), the same pytest and the same rewriting options: the key hashes the source
itself, so a change within the same second that keeps the size (which a `.pyc`'s mtime/size check
would miss) still misses. Entries are written to a temporary file and renamed into place, so workers
racing on one module each read a whole entry or none.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import sys
import tempfile
import types
from pathlib import Path

import pytest
from _pytest.assertion import rewrite

_original_rewrite_test = rewrite._rewrite_test


def entry_key(path: Path, source: bytes, config: pytest.Config) -> bytes:
    """What the rewritten code depends on: the interpreter, pytest, the options, the path and the bytes."""
    digest = hashlib.sha256()
    for part in (importlib.util.MAGIC_NUMBER, pytest.__version__.encode(), str(sys.flags.optimize).encode(),
                 str(config.getini("enable_assertion_pass_hook")).encode(), os.fsencode(path)):
        digest.update(len(part).to_bytes(4, "big") + part)
    digest.update(source)
    return digest.digest()


class RewriteCache:
    def __init__(self, directory: Path, config: pytest.Config) -> None:
        self.directory, self.config = directory, config
        self.hits = self.misses = 0

    def _entry(self, path: Path) -> Path:
        return self.directory / (hashlib.sha256(os.fsencode(path)).hexdigest()[:32] + ".bin")

    def load(self, path: Path, source: bytes) -> types.CodeType | None:
        try:
            data = self._entry(path).read_bytes()
        except OSError:
            return None
        key = entry_key(path, source, self.config)
        if data[:len(key)] != key:
            return None
        try:
            code = marshal.loads(data[len(key):])
        except (EOFError, ValueError, TypeError):
            return None
        return code if isinstance(code, types.CodeType) else None

    def store(self, path: Path, source: bytes, code: types.CodeType) -> None:
        data = entry_key(path, source, self.config) + marshal.dumps(code)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, self._entry(path))
        except OSError:  # a read-only checkout: rewrite every time, as pytest would
            return

    def rewrite_test(self, fn: Path, config: pytest.Config) -> tuple[os.stat_result, types.CodeType]:
        """`_pytest.assertion.rewrite._rewrite_test`, answered from the cache when it can be."""
        stat = os.stat(fn)
        source = fn.read_bytes()
        code = self.load(fn, source)
        if code is not None:
            self.hits += 1
            return stat, code
        self.misses += 1
        stat, code = _original_rewrite_test(fn, config)
        self.store(fn, source, code)
        return stat, code


@pytest.hookimpl(trylast=True)  # after the cache provider has made `config.cache`
def pytest_configure(config: pytest.Config) -> None:
    # With bytecode allowed, pytest's own .pyc files do this job; with no cache directory
    # (`-p no:cacheprovider`) there is nowhere to keep the entries.
    if not sys.dont_write_bytecode or getattr(config, "cache", None) is None or rewrite._rewrite_test is not _original_rewrite_test:
        return
    cache = RewriteCache(config.cache.mkdir("assertion-rewrite"), config)
    rewrite._rewrite_test = cache.rewrite_test
    config.add_cleanup(lambda: setattr(rewrite, "_rewrite_test", _original_rewrite_test))
