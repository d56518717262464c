"""Atomic writes: usual permissions, nothing left behind on failure, old file kept."""

import os

import pytest

from csft.atomic import atomic_path, write_bytes, write_text


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_text_creates_file_with_normal_permissions(tmp_path):
    target = tmp_path / "sub" / "table.md"  # parent folders are created
    write_text(target, "hello ±\n")
    assert target.read_text(encoding="utf-8") == "hello ±\n"
    assert target.stat().st_mode & 0o777 == 0o666 & ~current_umask()
    assert os.listdir(target.parent) == ["table.md"]  # no temp file left


def test_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o640


def test_write_bytes_replaces_existing_file(tmp_path):
    target = tmp_path / "data.bin"
    target.write_bytes(b"old")
    write_bytes(target, b"\x00new")
    assert target.read_bytes() == b"\x00new"
    assert os.listdir(tmp_path) == ["data.bin"]


def test_exception_leaves_neither_target_nor_temp(tmp_path):
    target = tmp_path / "metrics.json"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp != target
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert not target.exists()
    assert os.listdir(tmp_path) == []


def test_exception_leaves_existing_target_untouched(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text("old contents")
    before = target.stat().st_mtime_ns
    with pytest.raises(KeyError):
        with atomic_path(target) as tmp:
            tmp.write_text("new contents")
            raise KeyError("x")
    assert target.read_text() == "old contents"
    assert target.stat().st_mtime_ns == before
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_target_appears_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "out.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("done")
        assert not target.exists()
    assert target.read_text() == "done"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_a_killed_writers_temp_file_goes_with_the_next_write(tmp_path):
    target = tmp_path / "ckpt[1].pt"  # glob characters in the name are taken literally
    leftover = tmp_path / ".ckpt[1].pt.x1y2z3.part"  # what SIGKILL mid-write leaves
    other = tmp_path / ".other.pt.a1b2c3.part"  # another target's: not ours to remove
    leftover.write_bytes(b"half")
    other.write_bytes(b"half")
    write_bytes(target, b"whole")
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, other.name])
