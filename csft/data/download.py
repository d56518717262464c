"""Get data files from their official source or a local mirror, verified against pinned hashes.

Every data file the suite reads has its SHA-256 pinned in `checksums.tsv` (package data), so a
result can be traced to the exact bytes it came from, whichever way the bytes arrived. Files are
written atomically: a failed download or a hash mismatch leaves no file at the destination, so
Snakemake never mistakes a bad or truncated file for a finished output.
"""

from __future__ import annotations

import functools
import hashlib
import http.client
import logging
import os
import urllib.parse
import urllib.request
import warnings
import zipfile
from collections.abc import Iterable
from importlib import resources
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from csft.atomic import atomic_path

logger = logging.getLogger(__name__)

MIRROR_ENV = "CSFT_DATA_MIRROR"
BASE_URL_ENV = "CSFT_DOWNLOAD_BASE_URL"
ETT_URL = "https://raw.githubusercontent.com/zhouhaoyi/ETDataset/main/ETT-small/{name}.csv"
UCR_ARCHIVE_URL = "https://www.cs.ucr.edu/~eamonn/time_series_data_2018/UCRArchive_2018.zip"
UCR_ARCHIVE_PASSWORD = b"someone"  # published on the archive's web page
UCR_ARCHIVE_ROOT = "UCRArchive_2018"
UCR_SPLITS = ("TRAIN", "TEST")

CHUNK_SIZE = 1 << 20
DOWNLOAD_TIMEOUT_S = 60
CHECKSUMS_FILE = "checksums.tsv"


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the pinned one: wrong version, corrupt, or tampered."""


class MissingDataError(FileNotFoundError):
    """A data file (or the mirror meant to hold it) is not where it should be."""


def mirror_from_env() -> Path | None:
    """The mirror named by CSFT_DATA_MIRROR, or None; a set but wrong value is an error."""
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return None
    mirror = Path(value).expanduser()
    if not mirror.is_dir():
        raise MissingDataError(f"{MIRROR_ENV}={value!r}: {mirror} is not a directory")
    return mirror


@functools.cache
def _pins() -> dict[str, str]:
    """relpath -> sha256 from the packaged checksums.tsv (read once per process)."""
    text = resources.files("csft.data").joinpath(CHECKSUMS_FILE).read_text(encoding="utf-8")
    lines = text.splitlines()
    if not lines or lines[0].split("\t") != ["relpath", "sha256"]:
        raise ValueError(f"{CHECKSUMS_FILE}: expected header 'relpath<TAB>sha256'")
    pins = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != 2:
            raise ValueError(f"{CHECKSUMS_FILE}:{number}: expected 2 tab-separated fields")
        pins[fields[0]] = fields[1].lower()
    return pins


def pinned_sha256(relpath: str) -> str | None:
    """The pinned SHA-256 of `relpath` (e.g. 'ETT-small/ETTh1.csv'), or None if it is not pinned."""
    return _pins().get(relpath)


def sha256_of(path: str | os.PathLike) -> str:
    """SHA-256 of a file, read in chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_SIZE), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(source: BinaryIO, target: Path) -> str:
    """Stream `source` into `target`, hashing on the way, so each byte is read only once."""
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for chunk in iter(lambda: source.read(CHUNK_SIZE), b""):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _verify(relpath: str, source: str, actual: str) -> None:
    """Raise ChecksumError on a pin mismatch; accept an unpinned file with a loud warning."""
    expected = pinned_sha256(relpath)
    if expected is None:
        message = (
            f"{relpath} (from {source}) has no pinned sha256 in {CHECKSUMS_FILE}; "
            f"accepting it UNVERIFIED with sha256 {actual}"
        )
        logger.warning(message)
        warnings.warn(message, UserWarning, stacklevel=3)
        return
    if actual != expected:
        raise ChecksumError(
            f"checksum mismatch for {relpath} (from {source}): "
            f"expected sha256 {expected}, got {actual}; the file was not kept"
        )
    logger.info("verified %s (sha256 %s) from %s", relpath, actual, source)


def resolve_url(url: str) -> str:
    """`url`, or its path under CSFT_DOWNLOAD_BASE_URL: a stand-in server (a test's, a proxy's)
    serves the official layout, so one variable redirects every source."""
    base = os.environ.get(BASE_URL_ENV, "").strip().rstrip("/")
    if not base:
        return url
    return base + urllib.parse.urlsplit(url).path


def _check_length(target: Path, announced: str | None) -> None:
    """Refuse a body shorter or longer than its Content-Length (a dropped connection can
    look like a clean end of file)."""
    if announced is None:
        return
    received = target.stat().st_size
    if received != int(announced):
        raise OSError(f"incomplete download: got {received} of {announced} bytes (Content-Length)")


def _download_to(url: str, target: Path) -> str:
    """Download `url` into `target` with a timeout; network errors say what was being fetched."""
    url = resolve_url(url)
    logger.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S) as response:
            actual = _copy_hashing(response, target)
            _check_length(target, response.headers.get("Content-Length"))
            return actual
    except (OSError, http.client.HTTPException) as exc:
        raise OSError(
            f"could not download {url}: {exc}; nothing was kept. Without internet access, point "
            f"{MIRROR_ENV} at a local data mirror (or {BASE_URL_ENV} at a server with the "
            "official layout)"
        ) from exc


def download(url: str, dest: Path) -> str:
    """Download `url` to `dest` atomically with no pin (e.g. the UCR zip); returns its sha256."""
    with atomic_path(dest) as tmp:
        actual = _download_to(url, tmp)
    logger.info("downloaded %s to %s (sha256 %s)", url, dest, actual)
    return actual


def fetch(relpath: str, dest: Path, *, mirror: Path | None, url: str | None) -> str:
    """Copy `relpath` from `mirror` (preferred) or download `url` to `dest`, verified.

    On a hash mismatch nothing new is left at `dest`; returns the file's actual sha256.
    """
    if mirror is not None:
        source = Path(mirror) / relpath
        if not source.is_file():
            raise MissingDataError(
                f"{relpath} is not in the data mirror {mirror} (looked for {source})"
            )
        source_name = str(source)
    elif url is not None:
        source_name = resolve_url(url)
    else:
        raise ValueError(f"fetch({relpath!r}): give a mirror or a url")
    with atomic_path(dest) as tmp:
        if mirror is not None:
            with open(source, "rb") as handle:
                actual = _copy_hashing(handle, tmp)
        else:
            actual = _download_to(url, tmp)
        _verify(relpath, source_name, actual)
    logger.info("wrote %s", dest)
    return actual


def _is_absolute(name: str) -> bool:
    """Absolute in POSIX or Windows terms (zip names may come from either)."""
    windows = PureWindowsPath(name)
    return PurePosixPath(name).is_absolute() or bool(windows.drive or windows.root)


def _member_target(member: str, dest_dir: Path) -> Path:
    """Where `member` would land (archive root -> dest_dir/UCR); refuse any path outside it."""
    root = Path(dest_dir).resolve()
    if _is_absolute(member):
        raise ValueError(f"refusing zip member {member!r}: absolute path")
    parts = PurePosixPath(member).parts
    inside = parts[1:] if parts and parts[0] == UCR_ARCHIVE_ROOT else parts
    target = (root / "UCR").joinpath(*inside).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"refusing zip member {member!r}: it would be written outside {root}")
    return target


def _dataset_members(infos: Iterable[zipfile.ZipInfo], name: str) -> list[zipfile.ZipInfo]:
    """Zip entries that sit in the dataset's folder (however the name is spelled)."""
    marker = f"{UCR_ARCHIVE_ROOT}/{name}/"
    return [info for info in infos if marker in info.filename and not info.is_dir()]


def extract_ucr_dataset(zip_path: Path, name: str, dest_dir: Path) -> dict[str, str]:
    """Extract NAME_TRAIN.tsv and NAME_TEST.tsv from the archive zip into dest_dir/UCR/NAME/.

    Each file is verified against its pinned hash and written atomically; every member of the
    dataset's folder is checked for path traversal before anything is written. Returns
    {relpath: sha256}.
    """
    dest_dir = Path(dest_dir)
    with zipfile.ZipFile(zip_path) as archive:
        members = _dataset_members(archive.infolist(), name)
        for info in members:
            _member_target(info.filename, dest_dir)
        by_name = {info.filename: info for info in members}
        wanted = {
            f"UCR/{name}/{name}_{split}.tsv": f"{UCR_ARCHIVE_ROOT}/{name}/{name}_{split}.tsv"
            for split in UCR_SPLITS
        }
        absent = [member for member in wanted.values() if member not in by_name]
        if absent:
            raise MissingDataError(
                f"UCR dataset {name!r} is not (fully) in {zip_path}: missing {absent}"
            )
        return {
            relpath: _extract_member(archive, by_name[member], relpath, zip_path, dest_dir)
            for relpath, member in wanted.items()
        }


def _extract_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, relpath: str, zip_path: Path, dest_dir: Path
) -> str:
    """Stream one (possibly encrypted) member to its target atomically and verify it."""
    target = _member_target(info.filename, dest_dir)
    with atomic_path(target) as tmp:
        with archive.open(info, pwd=UCR_ARCHIVE_PASSWORD) as source:
            actual = _copy_hashing(source, tmp)
        _verify(relpath, f"{zip_path}:{info.filename}", actual)
    logger.info("extracted %s to %s", info.filename, target)
    return actual
