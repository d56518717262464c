"""The data cache: filled once from the official sources (a local stand-in server here, never the
internet), verified, and never left holding a bad or partial file."""

from pathlib import Path

import pytest
from official_server import ett_file, official_layout, serve

from csft.data import cache, download
from csft.data.download import ChecksumError, pinned_sha256, resolve_url, sha256_of

ETT = "ETT-small/ETTh1.csv"
TRAIN = "UCR/Chinatown/Chinatown_TRAIN.tsv"
TEST = "UCR/Chinatown/Chinatown_TEST.tsv"
FILES = [ETT, TRAIN, TEST]


def files_under(folder: Path) -> set[str]:
    """Every file below `folder`, hidden .part files included."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def official(tmp_path, mirror, monkeypatch):
    """A stand-in for the official sources serving three real files; downloads go there."""
    root = official_layout(mirror, tmp_path / "official", FILES)
    with serve(root) as server:
        monkeypatch.setenv(download.BASE_URL_ENV, server.url)
        yield server


@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    """A fresh CSFT_CACHE folder (not created yet)."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(cache.CACHE_ENV, str(folder))
    return folder


def test_cache_dir_follows_csft_cache_then_xdg_then_home(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / "mine"))
    assert cache.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv(cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache.cache_dir() == tmp_path / "xdg" / "csft-bench"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache.cache_dir() == tmp_path / "home" / ".cache" / "csft-bench"


def test_base_url_keeps_the_official_path(monkeypatch):
    monkeypatch.delenv(download.BASE_URL_ENV, raising=False)
    assert resolve_url(download.UCR_ARCHIVE_URL) == download.UCR_ARCHIVE_URL
    monkeypatch.setenv(download.BASE_URL_ENV, "http://127.0.0.1:8000/")
    assert resolve_url(download.ETT_URL.format(name="ETTh1")) == (
        "http://127.0.0.1:8000/zhouhaoyi/ETDataset/main/ETT-small/ETTh1.csv"
    )
    assert resolve_url(download.UCR_ARCHIVE_URL) == (
        "http://127.0.0.1:8000/~eamonn/time_series_data_2018/UCRArchive_2018.zip"
    )


def test_fills_the_cache_verified_and_only_once(official, empty_cache, mirror):
    assert cache.ensure(FILES) == empty_cache
    assert files_under(empty_cache) == {*FILES, cache.UCR_ZIP}
    for relpath in FILES:
        assert sha256_of(empty_cache / relpath) == pinned_sha256(relpath)
        assert (empty_cache / relpath).read_bytes() == (mirror / relpath).read_bytes()
    assert len(official.requests) == 2  # one ETT csv, one archive zip
    cache.ensure(FILES)
    assert len(official.requests) == 2  # the second call fetches nothing


def test_corrupted_download_names_file_and_both_hashes_and_keeps_nothing(official, empty_cache):
    served = ett_file(official.root, "ETTh1")
    data = bytearray(served.read_bytes())
    data[len(data) // 2] ^= 0x01
    served.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as info:
        cache.ensure([ETT])
    message = str(info.value)
    assert ETT in message and official.url in message
    assert pinned_sha256(ETT) in message and sha256_of(served) in message
    assert files_under(empty_cache) == set()


@pytest.mark.parametrize("relpath", [ETT, TRAIN], ids=["ett_csv", "ucr_zip"])
def test_interrupted_download_keeps_nothing_and_a_retry_succeeds(official, empty_cache, relpath):
    official.truncate = True
    with pytest.raises(OSError, match="incomplete download") as info:
        cache.ensure([relpath])
    assert official.url in str(info.value)
    assert files_under(empty_cache) == set()  # no half file, no .part either
    official.truncate = False
    cache.ensure([relpath])
    assert sha256_of(empty_cache / relpath) == pinned_sha256(relpath)


def test_unreadable_archive_is_removed_so_a_retry_refetches(official, empty_cache):
    empty_cache.mkdir()
    (empty_cache / cache.UCR_ZIP).write_bytes(b"not a zip")
    with pytest.raises(Exception, match="not a readable zip"):
        cache.ensure([TRAIN])
    assert not (empty_cache / cache.UCR_ZIP).exists()
    cache.ensure([TRAIN])
    assert sha256_of(empty_cache / TRAIN) == pinned_sha256(TRAIN)


def test_a_filled_cache_serves_as_the_mirror(official, empty_cache):
    folder = cache.ensure([TRAIN, TEST])
    assert download.fetch(TRAIN, empty_cache.parent / "data" / TRAIN, mirror=folder, url=None) == (
        pinned_sha256(TRAIN)
    )


def test_mirror_is_the_env_else_shared_data_beside_the_checkout_else_none(tmp_path, monkeypatch):
    import conftest

    monkeypatch.delenv("CSFT_DATA_MIRROR", raising=False)
    monkeypatch.setattr(conftest, "__file__", str(tmp_path / "clone" / "tests" / "conftest.py"))
    assert conftest._local_mirror() is None  # no shared/data beside this (pretend) checkout
    monkeypatch.setenv("CSFT_DATA_MIRROR", str(tmp_path))
    assert conftest._local_mirror() == tmp_path
