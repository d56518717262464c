"""Reference results (csft.report.reference): published with their provenance, and every result
table in README/docs generated from reference/, so a number cannot drift."""

import json
import subprocess

import pytest

from csft.report import reference


def finished_run(tmp_path):
    results = tmp_path / "results" / "check"
    (results / "tables").mkdir(parents=True)
    (results / "tables" / "claims.md").write_text("# Claims\n\n| claim | verdict |\n|---|---|\n")
    (results / "tables" / "claims.csv").write_text("claim,verdict\nx,insufficient\n")
    (results / "tables" / "figure.png").write_bytes(b"not a table")
    checkout = tmp_path / "repo"
    (checkout / "config").mkdir(parents=True)
    (checkout / "config" / "check.yaml").write_text("seeds: [1]\n")
    subprocess.run(["git", "init", "-q", str(checkout)], check=True)
    return results, checkout


def test_publish_copies_the_tables_with_their_provenance(tmp_path):
    results, checkout = finished_run(tmp_path)
    target = reference.publish(
        results, "check", [reference.Path("config/check.yaml")], 7380, checkout, tmp_path / "ref"
    )
    assert sorted(p.name for p in target.iterdir()) == [
        "claims.csv", "claims.md", "provenance.json"
    ]  # fmt: skip
    record = json.loads((target / "provenance.json").read_text())
    assert record["wall_time_s"] == 7380 and record["wall_time_source"] == "stated"
    assert set(record["configfiles"]) == {"config/check.yaml"}
    assert len(record["configfiles"]["config/check.yaml"]) == 64
    assert record["machine"]["cpu_count"] >= 1 and record["date"]
    line = reference.provenance_line("check", record)
    assert "2 h 03 min" in line and "`check.yaml`" in line


def test_publish_refuses_an_unfinished_run_and_a_missing_config(tmp_path):
    results, checkout = finished_run(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        reference.publish(results, "x", [reference.Path("config/missing.yaml")], 1, checkout)
    for table in (results / "tables").iterdir():
        table.unlink()
    with pytest.raises(FileNotFoundError, match="no tables to publish"):
        reference.publish(results, "x", [reference.Path("config/check.yaml")], 1, checkout)


def test_a_block_is_regenerated_from_reference_and_a_stale_one_is_found(tmp_path):
    results, checkout = finished_run(tmp_path)
    ref = tmp_path / "ref"
    reference.publish(results, "check", [reference.Path("config/check.yaml")], 60, checkout, ref)
    doc = "Intro\n<!-- reference check/claims.md -->\nold numbers\n<!-- /reference -->\nEnd\n"
    new = reference.render(doc, ref)
    assert "old numbers" not in new and "| claim | verdict |" in new
    assert "# Claims" not in new and "`reference/check`" in new
    assert new.startswith("Intro\n") and new.endswith("<!-- /reference -->\nEnd\n")
    assert reference.render(new, ref) == new  # rendering is idempotent
    with pytest.raises(FileNotFoundError, match="check/other.md"):
        reference.render("<!-- reference check/other.md -->\n<!-- /reference -->", ref)


def test_readme_and_docs_tables_equal_the_generated_ones():
    assert reference.stale() == [], "run: python -m csft.report.reference render"
