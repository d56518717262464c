"""A per-user cache of the pinned data files, filled once from the official sources.

Without a mirror (a fresh laptop), the tests still need the real ETT and UCR files. They come
from where the workflow gets them (the ETT CSVs, the UCR archive zip), verified against
`checksums.tsv`, into a folder laid out like a mirror, so it can stand in for one. Every write is
atomic (`fetch`, `download`, `extract_ucr_dataset`): a file present in the cache was verified
before it got its name, so it is not fetched or hashed again.
"""

from __future__ import annotations

import logging
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from csft.data.download import ETT_URL, UCR_ARCHIVE_URL, download, extract_ucr_dataset, fetch

logger = logging.getLogger(__name__)

CACHE_ENV = "CSFT_CACHE"
CACHE_NAME = "csft-bench"
UCR_ZIP = "UCRArchive_2018.zip"


def cache_dir() -> Path:
    """$CSFT_CACHE, else $XDG_CACHE_HOME/csft-bench, else ~/.cache/csft-bench (XDG's rule)."""
    explicit = os.environ.get(CACHE_ENV, "").strip()
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / CACHE_NAME


def _ucr_name(relpath: str) -> str:
    """'UCR/NAME/NAME_TRAIN.tsv' -> 'NAME'."""
    parts = PurePosixPath(relpath).parts
    if len(parts) != 3 or parts[0] != "UCR":
        raise ValueError(f"not a UCR data file: {relpath!r}")
    return parts[1]


def _fill_ett(relpath: str, cache: Path) -> None:
    """One ETT csv straight from its official URL."""
    fetch(relpath, cache / relpath, mirror=None, url=ETT_URL.format(name=Path(relpath).stem))


def _archive(cache: Path) -> Path:
    """The UCR archive zip in the cache, downloaded once (it holds every dataset)."""
    path = cache / UCR_ZIP
    if not path.is_file():
        download(UCR_ARCHIVE_URL, path)
    return path


def _fill_ucr(names: Iterable[str], cache: Path) -> None:
    """Extract the datasets from the archive; an unreadable zip is removed so a retry refetches."""
    archive = _archive(cache)
    try:
        for name in sorted(names):
            extract_ucr_dataset(archive, name, cache)
    except zipfile.BadZipFile as exc:
        archive.unlink(missing_ok=True)
        raise zipfile.BadZipFile(f"{archive} is not a readable zip ({exc}); removed it") from exc


def ensure(relpaths: Iterable[str], cache: Path | None = None) -> Path:
    """Make every `relpath` (mirror layout) present in `cache`, fetching only the missing ones.

    Returns the cache folder, which can then be used wherever a mirror is.
    """
    cache = cache_dir() if cache is None else Path(cache)
    missing = sorted(r for r in set(relpaths) if not (cache / r).is_file())
    ett = [r for r in missing if r.startswith("ETT-small/")]
    ucr = {_ucr_name(r) for r in missing if r not in ett}
    if missing:
        logger.info("filling the data cache %s with %d file(s)", cache, len(missing))
    for relpath in ett:
        _fill_ett(relpath, cache)
    if ucr:
        _fill_ucr(ucr, cache)
    return cache
