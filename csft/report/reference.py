"""Reference results shipped with the repo: every check run's tables and figures under
reference/<name>/ (tables/ and figures/, as the run wrote them under its results_dir) with their
provenance, and the docs' result tables generated from them, so a number lives in one place and
cannot drift.

    python -m csft.report.reference publish results/claims_check claims_check \
        --configfile config/quick.yaml config/claims_check.yaml \
        [--tracking-uri sqlite:///results/mlflow.db]
    python -m csft.report.reference render          # rewrite the marked blocks in README/docs
    python -m csft.report.reference render --check  # exit 1 if a block differs (the test)

A block in README.md or docs/*.md is marked

    <!-- reference NAME/tables/FILE.md -->
    (generated: the provenance line, then the file's text, its links rebased to the document)
    <!-- /reference -->

or, for one section of a markdown file (the text under that heading, up to the next heading of
the same or a higher level),

    <!-- reference NAME/tables/FILE.md#Heading text -->

or, for a table of some columns of a CSV (a `figure` column becomes a link to the figure; numbers
shown to 3 significant digits; cells unpadded, so a wide table stays short),

    <!-- reference NAME/tables/FILE.csv claim,paper,ours,verdict,figure -->

with, optionally, only the rows whose column matches (`~`) or does not match (`!~`) a regular
expression, so one table can take some rows from one run and the rest from another:

    <!-- reference NAME/tables/FILE.csv claim,paper,ours,verdict where claim~^ETT -->
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sys
from collections import Counter
from pathlib import Path

from csft import atomic, tracking
from csft.data.download import sha256_of

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "reference"
PROVENANCE = "provenance.json"
TABLE_SUFFIXES = (".md", ".csv", ".json")
FIGURE_SUFFIXES = (".png",)  # the pdf twins stay in results/
BLOCK = re.compile(
    r"(?P<open><!-- reference (?P<target>[\w.-]+(?:/[\w.-]+)+)"
    r"(?:#(?P<section>[^\n>]+?)| (?P<columns>[\w,]+)(?: where (?P<where>\w+!?~[^\n>]+?))?)?"
    r" -->\n)"
    r"(?P<body>.*?)(?P<close><!-- /reference -->)",
    re.S,
)
LINK = re.compile(r"\]\((?!https?:|#|/)(?P<path>[^)\s]+)\)")  # a relative markdown link


def output_span_s(results: Path) -> float:
    """Seconds from the first to the last file written under `results`: the run's wall time
    when nothing else wrote there (a rerun that skipped finished jobs shortens it)."""
    times = [p.stat().st_mtime for p in results.rglob("*") if p.is_file()]
    return max(times) - min(times) if times else 0.0


def job_run_ids(results: Path) -> list[str]:
    """The MLflow run of every job of a run: the `mlflow_run_id` of each metrics.json record."""
    from csft.report import tables  # pandas, only when publishing

    jobs = tables.read_jobs(sorted(results.rglob("metrics.json")))
    if "mlflow_run_id" not in jobs:
        return []
    return sorted(set(jobs.mlflow_run_id.dropna()) - {""})


def job_commits(run_ids: list[str], uri: str) -> dict[str, int]:
    """How many of the runs each git commit trained (their `git.commit` tag in the store at
    `uri`; "not in the store" for a run it no longer holds): tables regenerated at a later
    commit still name the code that trained their numbers."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)

    def commit_of(run_id: str) -> str:
        try:
            return client.get_run(run_id).data.tags.get("git.commit", "untagged")
        except MlflowException:
            return "not in the store"

    counts = Counter(map(commit_of, run_ids))
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def provenance(
    results: Path,
    configfiles: list[Path],
    wall_time_s: float | None,
    checkout: Path,
    tracking_uri: str | None = None,
) -> dict:
    """Where the tables came from: commit, configs (with hashes), machine, date, wall time,
    and (given the run's MLflow store) the commits that trained its jobs."""
    record = {
        "commit": tracking.git("rev-parse", "HEAD", cwd=checkout),
        "dirty": bool(tracking.git("status", "--porcelain", "--untracked-files=no", cwd=checkout)),
        "configfiles": {str(p): sha256_of(checkout / p) for p in configfiles},
        "machine": {
            "platform": platform.platform(),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
        },
        "date": dt.date.today().isoformat(),
        "wall_time_s": round(output_span_s(results) if wall_time_s is None else wall_time_s),
        "wall_time_source": "output timestamps" if wall_time_s is None else "stated",
    }
    if tracking_uri:
        record["job_commits"] = job_commits(job_run_ids(results), tracking_uri)
    return record


def publish(
    results: Path,
    name: str,
    configfiles: list[Path],
    wall_time_s: float | None = None,
    checkout: Path = ROOT,
    reference: Path = REFERENCE,
    tracking_uri: str | None = None,
) -> Path:
    """Copy a finished run's tables (results/<run>/tables/*.md|csv|json) and figures
    (figures/*.png) to reference/<name>/tables|figures/ with provenance.json beside them, so the
    tables' links to figures still resolve; refuses a run without tables."""
    tables = sorted(p for p in (results / "tables").glob("*") if p.suffix in TABLE_SUFFIXES)
    if not tables:
        raise FileNotFoundError(f"{results / 'tables'}: no tables to publish (run unfinished?)")
    missing = [str(p) for p in configfiles if not (checkout / p).is_file()]
    if missing:
        raise FileNotFoundError(f"config file(s) not found under {checkout}: {missing}")
    figures = sorted(p for p in (results / "figures").glob("*") if p.suffix in FIGURE_SUFFIXES)
    target = reference / name
    for file in tables + figures:
        copied = target / file.parent.name / file.name
        copied.parent.mkdir(parents=True, exist_ok=True)
        with atomic.atomic_path(copied) as tmp:
            shutil.copyfile(file, tmp)
    record = provenance(results, configfiles, wall_time_s, checkout, tracking_uri)
    atomic.write_text(target / PROVENANCE, json.dumps(record, indent=2) + "\n")
    return target


def _duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def _short(commit: str) -> str:
    return commit[:7] if re.fullmatch(r"[0-9a-f]{40}", commit) else commit


def provenance_line(name: str, record: dict) -> str:
    """One italic line: run, commit, configs, machine, date, wall time; the commits that trained
    the jobs where they are not the tables' commit."""
    configs = " + ".join(f"`{Path(p).name}`" for p in record["configfiles"])
    notes = " (with uncommitted changes)" if record.get("dirty") else ""
    trained = record.get("job_commits", {})
    if trained and set(trained) != {record["commit"]}:
        shown = ", ".join(f"{_short(commit)}: {n}" for commit, n in trained.items())
        notes += f" (jobs trained at {shown})"
    machine = record["machine"]
    return (
        f"*`reference/{name}`: commit {record['commit'][:7]}{notes}, {configs}, "
        f"{machine['cpu_count']} CPU cores ({machine['cpu']}), {record['date']}, "
        f"{_duration(record['wall_time_s'])} ({record['wall_time_source']}).*"
    )


def rebased(text: str, source: Path, document: Path) -> str:
    """`text` (from a file in folder `source`) with its relative links made relative to
    `document`'s folder instead."""

    def move(match: re.Match) -> str:
        path = os.path.relpath(source / match["path"], document)
        return f"]({Path(path).as_posix()})"

    return LINK.sub(move, text)


def csv_table(path: Path, columns: list[str], document: Path, where: str | None = None) -> str:
    """The named columns of a CSV as a markdown table, only the rows `where` ("COLUMN~REGEX" or
    "COLUMN!~REGEX") keeps; a `figure` column (a path relative to the run's folder) becomes a
    link from `document`'s folder."""
    import pandas as pd

    table = pd.read_csv(path, keep_default_na=False)
    column, negate, pattern = (
        re.fullmatch(r"(\w+)(!?)~(.+)", where).groups() if where else ("",) * 3
    )
    unknown = [c for c in [*columns, column] if c and c not in table.columns]
    if unknown:
        raise ValueError(f"{path}: no column(s) {unknown}; it has {list(table.columns)}")
    if column:
        keep = table[column].astype(str).str.contains(pattern, regex=True)
        table = table[~keep if negate else keep]
        if table.empty:
            raise ValueError(f"{path}: no row where {where}")
    table = table[columns].apply(_numbers_with_blanks)
    if "figure" in columns:
        run = path.parent.parent
        table = table.assign(
            figure=[rebased(f"[figure]({f})", run, document) for f in table.figure]
        )
    return compact_markdown(table)


def _numbers_with_blanks(column):
    """A text column (keep_default_na leaves one so when any cell is blank) whose filled cells
    are all numbers, as floats with the blanks kept: so _shown rounds them like the others."""
    import pandas as pd

    if column.dtype != object:
        return column
    filled = column.astype(str).str.strip().ne("")
    numbers = pd.to_numeric(column.where(filled), errors="coerce")
    if not filled.any() or numbers[filled].isna().any():
        return column
    return numbers.astype(object).where(filled, "")


def _shown(value) -> str:
    """A cell: floats to 3 significant digits (a table of 0.302717 reads no better than 0.303),
    everything else as written, with `|` escaped so it cannot split the cell."""
    text = f"{value:.3g}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|")


def compact_markdown(table) -> str:
    """A pipe table without alignment padding: the same table on GitHub, a third of the bytes
    for tables with long cells."""
    lines = ["| " + " | ".join(map(str, table.columns)) + " |", "|---" * len(table.columns) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_shown(v) for v in row) + " |")
    return "\n".join(lines)


def section(text: str, heading: str, path: Path) -> str:
    """The text under markdown heading `heading` (any level), up to the next heading of the same
    or a higher level; the heading line itself dropped."""
    match = re.search(rf"^(?P<level>#+) {re.escape(heading)}[ \t]*$", text, re.M)
    if not match:
        found = re.findall(r"^#+ (.+)$", text, re.M)
        raise ValueError(f"{path}: no heading {heading!r}; it has {found}")
    rest = text[match.end() :]
    end = re.search(rf"^#{{1,{len(match['level'])}}} ", rest, re.M)
    return rest[: end.start() if end else len(rest)].strip("\n")


def generated(
    target: str,
    reference: Path = REFERENCE,
    document: Path = ROOT,
    columns: str | None = None,
    heading: str | None = None,
    where: str | None = None,
) -> str:
    """The text of a block: provenance line, then the file (its leading H1 dropped, its links
    rebased to `document`, the folder of the file holding the block), the section under
    `heading`, or the CSV's `columns`."""
    name = target.partition("/")[0]
    path = reference / target
    if not path.is_file():
        raise FileNotFoundError(f"reference block names {target}: {path} does not exist")
    record = json.loads((reference / name / PROVENANCE).read_text())
    if columns:
        text = csv_table(path, columns.split(","), document, where)
    else:
        text = re.sub(r"\A# [^\n]*\n+", "", path.read_text().strip("\n"))
        if heading:
            text = section(text, heading, path)
        text = rebased(text, path.parent, document)
    return f"{provenance_line(name, record)}\n\n{text}\n"


def render(text: str, reference: Path = REFERENCE, document: Path = ROOT) -> str:
    """`text` (a file in folder `document`) with every marked block regenerated from
    reference/."""

    def block(m: re.Match) -> str:
        body = generated(m["target"], reference, document, m["columns"], m["section"], m["where"])
        return m["open"] + body + m["close"]

    return BLOCK.sub(block, text)


def documents(root: Path = ROOT) -> list[Path]:
    """The files that may hold blocks: README.md and docs/*.md."""
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def stale(root: Path = ROOT, reference: Path = REFERENCE) -> list[Path]:
    """Documents whose blocks differ from what reference/ generates."""
    return [
        p for p in documents(root) if render(p.read_text(), reference, p.parent) != p.read_text()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m csft.report.reference",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish", help="copy a finished run's tables to reference/NAME")
    pub.add_argument("results", type=Path, help="the run's results_dir, e.g. results/claims_check")
    pub.add_argument("name", help="reference/NAME")
    pub.add_argument("--configfile", nargs="+", type=Path, required=True)
    pub.add_argument("--wall-time-s", type=float, help="default: span of output timestamps")
    pub.add_argument("--reference", type=Path, default=REFERENCE, help="default: %(default)s")
    pub.add_argument(
        "--tracking-uri", help="the run's MLflow store: record the commits that trained its jobs"
    )
    ren = commands.add_parser("render", help="regenerate the marked blocks in README/docs")
    ren.add_argument("--check", action="store_true", help="exit 1 if a block is stale")
    args = parser.parse_args(argv)
    if args.command == "publish":
        print(publish(args.results, args.name, args.configfile, args.wall_time_s, Path.cwd(),
                      args.reference, args.tracking_uri))  # fmt: skip
        return 0
    if args.check:
        outdated = stale()
        for path in outdated:
            print(f"{path}: stale reference block (python -m csft.report.reference render)")
        return 1 if outdated else 0
    for path in documents():
        new = render(path.read_text(), REFERENCE, path.parent)
        if new != path.read_text():
            atomic.write_text(path, new)
            print(f"rewrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
