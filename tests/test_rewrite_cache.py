"""tests/rewrite_cache.py: rewritten test modules come from the cache only while their source is
unchanged, and what comes from it still reports assertions the way pytest's rewriting does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.rewrite_cache import RewriteCache


def _failure(code) -> str:
    namespace: dict = {}
    exec(code, namespace)
    with pytest.raises(AssertionError) as failed:
        namespace["test_it"]()
    return str(failed.value)


def _write_keeping_mtime_and_size(path: Path, text: str, like: os.stat_result) -> None:
    path.write_text(text)
    assert path.stat().st_size == like.st_size
    os.utime(path, ns=(like.st_atime_ns, like.st_mtime_ns))


def test_a_module_is_rewritten_once_then_read_from_the_cache(tmp_path, pytestconfig) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text("def test_it():\n    left = 1\n    assert left == 2\n")
    cache = RewriteCache(tmp_path / "cache", pytestconfig)
    _, first = cache.rewrite_test(module, pytestconfig)
    _, again = RewriteCache(tmp_path / "cache", pytestconfig).rewrite_test(module, pytestconfig)
    assert (cache.hits, cache.misses) == (0, 1)
    assert _failure(again) == _failure(first) == "assert 1 == 2"  # rewritten: the values are shown


def test_a_changed_module_misses_even_with_the_same_mtime_and_size(tmp_path, pytestconfig) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text("def test_it():\n    left = 1\n    assert left == 2\n")
    before = module.stat()
    cache = RewriteCache(tmp_path / "cache", pytestconfig)
    cache.rewrite_test(module, pytestconfig)
    _write_keeping_mtime_and_size(module, "def test_it():\n    left = 3\n    assert left == 4\n", before)
    _, changed = cache.rewrite_test(module, pytestconfig)
    assert (cache.hits, cache.misses) == (0, 2)
    assert _failure(changed) == "assert 3 == 4"
    _, cached = cache.rewrite_test(module, pytestconfig)
    assert cache.hits == 1 and _failure(cached) == "assert 3 == 4"


def test_the_same_source_at_another_path_is_an_entry_of_its_own(tmp_path, pytestconfig) -> None:
    text = "def test_it():\n    assert __file__ == 'nowhere'\n"
    one, two = tmp_path / "test_one.py", tmp_path / "test_two.py"
    one.write_text(text)
    two.write_text(text)
    cache = RewriteCache(tmp_path / "cache", pytestconfig)
    _, first = cache.rewrite_test(one, pytestconfig)
    _, second = cache.rewrite_test(two, pytestconfig)
    assert cache.misses == 2 and (first.co_filename, second.co_filename) == (str(one), str(two))


def test_a_damaged_entry_is_rewritten_again(tmp_path, pytestconfig) -> None:
    module = tmp_path / "test_sample.py"
    module.write_text("def test_it():\n    left = 1\n    assert left == 2\n")
    cache = RewriteCache(tmp_path / "cache", pytestconfig)
    cache.rewrite_test(module, pytestconfig)
    [entry] = (tmp_path / "cache").iterdir()
    entry.write_bytes(entry.read_bytes()[:40])  # the key, and a truncated code object
    _, code = cache.rewrite_test(module, pytestconfig)
    assert (cache.hits, cache.misses) == (0, 2) and _failure(code) == "assert 1 == 2"


def test_the_suite_loads_the_plugin(pytestconfig) -> None:
    assert pytestconfig.pluginmanager.has_plugin("tests.rewrite_cache")
