"""Download and verification: pinned hashes hold, bad bytes and unsafe zips never land."""

import zipfile
from pathlib import Path

import pytest

from csft.data import download
from csft.data.download import (
    ChecksumError,
    MissingDataError,
    extract_ucr_dataset,
    fetch,
    mirror_from_env,
    pinned_sha256,
    sha256_of,
)

TRAIN = "UCR/Chinatown/Chinatown_TRAIN.tsv"
TEST = "UCR/Chinatown/Chinatown_TEST.tsv"
ARCHIVE_TRAIN = "UCRArchive_2018/Chinatown/Chinatown_TRAIN.tsv"
ARCHIVE_TEST = "UCRArchive_2018/Chinatown/Chinatown_TEST.tsv"


def make_mirror(root: Path, relpath: str, data: bytes) -> Path:
    """A mirror folder holding one file at `relpath`."""
    (root / relpath).parent.mkdir(parents=True, exist_ok=True)
    (root / relpath).write_bytes(data)
    return root


def flip_one_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def files_under(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()}


@pytest.fixture
def chinatown(mirror: Path) -> dict[str, bytes]:
    return {TRAIN: (mirror / TRAIN).read_bytes(), TEST: (mirror / TEST).read_bytes()}


def test_fetch_from_mirror_returns_pinned_hash(tmp_path, chinatown):
    mirror = make_mirror(tmp_path / "mirror", TRAIN, chinatown[TRAIN])
    dest = tmp_path / "data" / TRAIN
    actual = fetch(TRAIN, dest, mirror=mirror, url=None)
    assert actual == pinned_sha256(TRAIN)
    assert dest.read_bytes() == chinatown[TRAIN]


def test_fetch_one_flipped_byte_raises_and_leaves_nothing(tmp_path, chinatown):
    bad = flip_one_byte(chinatown[TRAIN])
    mirror = make_mirror(tmp_path / "mirror", TRAIN, bad)
    dest = tmp_path / "data" / TRAIN
    with pytest.raises(ChecksumError) as info:
        fetch(TRAIN, dest, mirror=mirror, url=None)
    message = str(info.value)
    assert TRAIN in message
    assert pinned_sha256(TRAIN) in message
    assert sha256_of(mirror / TRAIN) in message
    assert str(mirror / TRAIN) in message
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # no .part file either


def test_fetch_missing_from_mirror_names_file_and_mirror(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    with pytest.raises(MissingDataError) as info:
        fetch(TRAIN, tmp_path / "data" / TRAIN, mirror=mirror, url=None)
    assert TRAIN in str(info.value)
    assert str(mirror) in str(info.value)


def test_fetch_unpinned_file_warns_and_returns_hash(tmp_path):
    relpath = "UCR/NotPinned/NotPinned_TRAIN.tsv"
    assert pinned_sha256(relpath) is None
    mirror = make_mirror(tmp_path / "mirror", relpath, b"1\t0.5\t0.25\n")
    dest = tmp_path / "data" / relpath
    with pytest.warns(UserWarning, match="no pinned sha256") as record:
        actual = fetch(relpath, dest, mirror=mirror, url=None)
    assert actual == sha256_of(mirror / relpath)
    assert actual in str(record[0].message)
    assert dest.read_bytes() == b"1\t0.5\t0.25\n"


def test_fetch_needs_a_source(tmp_path):
    with pytest.raises(ValueError, match="mirror or a url"):
        fetch(TRAIN, tmp_path / TRAIN, mirror=None, url=None)


def test_mirror_from_env(tmp_path, monkeypatch):
    monkeypatch.delenv(download.MIRROR_ENV, raising=False)
    assert mirror_from_env() is None
    monkeypatch.setenv(download.MIRROR_ENV, "")
    assert mirror_from_env() is None
    monkeypatch.setenv(download.MIRROR_ENV, str(tmp_path))
    assert mirror_from_env() == tmp_path
    not_a_dir = tmp_path / "file.txt"
    not_a_dir.write_text("x")
    monkeypatch.setenv(download.MIRROR_ENV, str(not_a_dir))
    with pytest.raises(MissingDataError, match=download.MIRROR_ENV) as info:
        mirror_from_env()
    assert str(not_a_dir) in str(info.value)


def test_extract_ucr_dataset_from_zip(tmp_path, chinatown):
    archive = make_zip(
        tmp_path / "ucr.zip",
        {
            ARCHIVE_TRAIN: chinatown[TRAIN],
            ARCHIVE_TEST: chinatown[TEST],
            "UCRArchive_2018/Chinatown/README.md": b"readme",
            "UCRArchive_2018/Other/Other_TRAIN.tsv": b"1\t2\n",
        },
    )
    dest = tmp_path / "data"
    hashes = extract_ucr_dataset(archive, "Chinatown", dest)
    assert hashes == {TRAIN: pinned_sha256(TRAIN), TEST: pinned_sha256(TEST)}
    assert files_under(dest) == {Path(TRAIN), Path(TEST)}
    assert (dest / TEST).read_bytes() == chinatown[TEST]


def test_extract_tampered_member_raises(tmp_path, chinatown):
    archive = make_zip(
        tmp_path / "ucr.zip",
        {ARCHIVE_TRAIN: flip_one_byte(chinatown[TRAIN]), ARCHIVE_TEST: chinatown[TEST]},
    )
    dest = tmp_path / "data"
    with pytest.raises(ChecksumError, match=TRAIN):
        extract_ucr_dataset(archive, "Chinatown", dest)
    assert not (dest / TRAIN).exists()


def test_extract_dataset_not_in_zip(tmp_path, chinatown):
    archive = make_zip(tmp_path / "ucr.zip", {ARCHIVE_TRAIN: chinatown[TRAIN]})
    with pytest.raises(MissingDataError, match="Chinatown"):
        extract_ucr_dataset(archive, "Chinatown", tmp_path / "data")
    with pytest.raises(MissingDataError, match="Coffee"):
        extract_ucr_dataset(archive, "Coffee", tmp_path / "data")


@pytest.mark.parametrize(
    "evil",
    [
        "UCRArchive_2018/Chinatown/../../../evil.tsv",
        "UCRArchive_2018/Chinatown/../../../../Chinatown_TRAIN.tsv",
        "/tmp/UCRArchive_2018/Chinatown/Chinatown_TRAIN.tsv",
        "C:/UCRArchive_2018/Chinatown/evil.tsv",
    ],
)
def test_extract_refuses_members_outside_dest(tmp_path, chinatown, evil):
    # zipfile.writestr keeps the name as given; that is what a crafted archive looks like.
    archive = make_zip(
        tmp_path / "evil.zip",
        {ARCHIVE_TRAIN: chinatown[TRAIN], ARCHIVE_TEST: chinatown[TEST], evil: b"pwned"},
    )
    dest = tmp_path / "a" / "b" / "data"
    dest.mkdir(parents=True)
    before = files_under(tmp_path)
    with pytest.raises(ValueError, match="refusing zip member") as info:
        extract_ucr_dataset(archive, "Chinatown", dest)
    assert evil in str(info.value)
    assert files_under(tmp_path) == before
    assert not Path("/tmp/UCRArchive_2018").exists()


def test_extract_encrypted_archive_member_uses_published_password(tmp_path, chinatown):
    # Python cannot write encrypted zips; check that the password is passed on open instead.
    archive = make_zip(
        tmp_path / "ucr.zip", {ARCHIVE_TRAIN: chinatown[TRAIN], ARCHIVE_TEST: chinatown[TEST]}
    )
    seen = []
    original = zipfile.ZipFile.open

    def spy(self, name, mode="r", pwd=None, **kwargs):
        seen.append(pwd)
        return original(self, name, mode, pwd=pwd, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(zipfile.ZipFile, "open", spy)
        extract_ucr_dataset(archive, "Chinatown", tmp_path / "data")
    assert seen == [download.UCR_ARCHIVE_PASSWORD] * 2


def test_checksums_cover_mirror(mirror):
    pins = download._pins()
    ett = sorted(p.name for p in (mirror / "ETT-small").glob("*.csv"))
    assert ett == ["ETTh1.csv", "ETTh2.csv", "ETTm1.csv", "ETTm2.csv"]
    for name in ett:
        assert f"ETT-small/{name}" in pins
    datasets = sorted(p.name for p in (mirror / "UCR").iterdir() if p.is_dir())
    assert len(datasets) == 88
    for name in datasets:
        for split in ("TRAIN", "TEST"):
            assert f"UCR/{name}/{name}_{split}.tsv" in pins
    assert len(pins) == 4 + 2 * 88
    assert list(pins) == sorted(pins)
    for relpath in (TRAIN, "ETT-small/ETTh2.csv", "UCR/PLAID/PLAID_TEST.tsv"):
        assert sha256_of(mirror / relpath) == pins[relpath]


def test_fetch_truncated_file_raises_and_leaves_nothing(tmp_path, chinatown):
    mirror = make_mirror(tmp_path / "mirror", TRAIN, chinatown[TRAIN][: len(chinatown[TRAIN]) // 2])
    dest = tmp_path / "data" / TRAIN
    with pytest.raises(ChecksumError, match="Chinatown_TRAIN.tsv"):
        fetch(TRAIN, dest, mirror=mirror, url=None)
    assert list(dest.parent.iterdir()) == []
