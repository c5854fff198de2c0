"""The kernel cache: entries come back byte for byte, a corrupted one is detected and removed
(then rebuilt), writes leave no partial files, and PLUGRAD_CUDA_CACHE moves or disables it."""

from __future__ import annotations

import pytest

from plugrad_cuda import cache


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGRAD_CUDA_CACHE", str(tmp_path / "kernels"))
    return tmp_path / "kernels"


def test_a_stored_entry_loads_back(cache_dir):
    key = cache.key_of("source", "--opt", "sm_90")
    path = cache.store(key, ".cubin", b"\x7fELF payload")
    assert path.parent == cache_dir and path.is_file()
    assert cache.load(key, ".cubin") == b"\x7fELF payload"
    assert [p.name for p in cache_dir.iterdir()] == [path.name]  # no temporary files remain


def test_keys_separate_their_parts():
    assert cache.key_of("ab", "c") != cache.key_of("a", "bc")
    assert cache.key_of("x", b"y") == cache.key_of("x", "y")


def test_a_corrupted_entry_is_detected_and_removed(cache_dir):
    key = cache.key_of("corrupt me")
    path = cache.store(key, ".ptx", b"some ptx text")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert cache.load(key, ".ptx") is None
    assert not path.exists()


def test_a_truncated_entry_is_a_miss(cache_dir):
    key = cache.key_of("truncated")
    path = cache.store(key, ".o", b"x" * 100)
    path.write_bytes(path.read_bytes()[:40])
    assert cache.load(key, ".o") is None


@pytest.mark.parametrize("value", ["off", "0", "none"])
def test_the_cache_can_be_disabled(monkeypatch, value):
    monkeypatch.setenv("PLUGRAD_CUDA_CACHE", value)
    assert cache.cache_dir() is None
    assert cache.store(cache.key_of("k"), ".o", b"data") is None
    assert cache.load(cache.key_of("k"), ".o") is None


def test_the_default_lives_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.delenv("PLUGRAD_CUDA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_dir() == tmp_path / "plugrad" / "cuda"


def test_an_unwritable_cache_is_not_an_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PLUGRAD_CUDA_CACHE", str(blocker / "sub"))
    assert cache.store(cache.key_of("k"), ".o", b"data") is None
