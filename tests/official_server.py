"""A local stand-in for the official data sources: the internet, for tests that may not use it.

`official_layout` copies mirror files to the paths of the official URLs (the ETT CSVs; a UCR
archive zip built from the UCR files, unencrypted since Python cannot write the archive's
password), and `serve` serves such a folder over HTTP from a thread; point
CSFT_DOWNLOAD_BASE_URL at it. Run as a script to serve a copy of a mirror by hand:

    python tests/official_server.py MIRROR FOLDER [PORT]
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import sys
import threading
import zipfile
from collections.abc import Iterable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from csft.data.download import ETT_URL, UCR_ARCHIVE_ROOT, UCR_ARCHIVE_URL, _pins


def pinned_relpaths() -> list[str]:
    """Every file checksums.tsv pins: what a mirror holds, in its layout."""
    return list(_pins())


def url_path(url: str) -> str:
    """The path part of an official URL, without the leading slash."""
    return urlsplit(url).path.lstrip("/")


def ett_file(root: Path, name: str) -> Path:
    """Where the server folder holds ETT `name` (e.g. 'ETTh1')."""
    return root / url_path(ETT_URL.format(name=name))


def ucr_zip(root: Path) -> Path:
    """Where the server folder holds the UCR archive zip."""
    return root / url_path(UCR_ARCHIVE_URL)


def official_layout(mirror: Path, root: Path, relpaths: Iterable[str]) -> Path:
    """Copy `relpaths` of `mirror` into `root` under the official URL layout; returns `root`."""
    relpaths = sorted(relpaths)
    for relpath in relpaths:
        if relpath.startswith("ETT-small/"):
            target = ett_file(root, Path(relpath).stem)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(mirror / relpath, target)
    ucr = [r for r in relpaths if r.startswith("UCR/")]
    if ucr:
        ucr_zip(root).parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(ucr_zip(root), "w") as archive:  # stored: fast, and zips are
            for relpath in ucr:  # read the same either way
                member = f"{UCR_ARCHIVE_ROOT}/{relpath.removeprefix('UCR/')}"
                archive.write(mirror / relpath, member)
    return root


class Handler(SimpleHTTPRequestHandler):
    """Serves files quietly; with `truncate` set on the server, the body stops halfway (the
    connection drops after a full Content-Length was announced)."""

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        self.server.requests.append(self.path)

    def copyfile(self, source, outputfile):
        if not self.server.truncate:
            return super().copyfile(source, outputfile)
        data = source.read()
        outputfile.write(data[: len(data) // 2])
        outputfile.flush()
        self.close_connection = True


@contextlib.contextmanager
def serve(root: Path, port: int = 0) -> Iterator[ThreadingHTTPServer]:
    """Serve `root` on 127.0.0.1 from a thread (attributes .url, .root, .requests, .truncate)."""
    handler = functools.partial(Handler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    server.root, server.requests, server.truncate = root, [], False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def main(argv: list[str]) -> None:
    """Lay out every pinned file of a mirror in FOLDER and serve it until interrupted."""
    mirror, root = Path(argv[0]), Path(argv[1])
    port = int(argv[2]) if len(argv) > 2 else 0
    official_layout(mirror, root, [r for r in pinned_relpaths() if (mirror / r).is_file()])
    with serve(root, port) as server:
        print(f"export CSFT_DOWNLOAD_BASE_URL={server.url}", flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
