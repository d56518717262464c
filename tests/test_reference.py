"""Reference results (csft.report.reference): published with their provenance, and every result
table in README/docs generated from reference/, so a number cannot drift."""

import json
import subprocess

import pytest

from csft.report import reference


def finished_run(tmp_path):
    results = tmp_path / "results" / "check"
    (results / "tables").mkdir(parents=True)
    (results / "tables" / "claims.md").write_text(
        "# Claims\n\n| claim | verdict |\n|---|---|\n| x | [insufficient](../figures/a.png) |\n"
    )
    (results / "tables" / "claims.csv").write_text(
        "claim,paper,verdict,figure\nx,0.31,insufficient,figures/a.png\n"
    )
    (results / "tables" / "figure.png").write_bytes(b"not a table")
    (results / "figures").mkdir()
    (results / "figures" / "a.png").write_bytes(b"\x89PNG")
    (results / "figures" / "a.pdf").write_bytes(b"%PDF-")
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
    published = sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file())
    assert published == [
        "figures/a.png", "provenance.json", "tables/claims.csv", "tables/claims.md"
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
    doc = "Intro\n<!-- reference check/tables/claims.md -->\nold\n<!-- /reference -->\nEnd\n"
    docs = tmp_path / "docs"  # a document one folder below the root, beside ref/
    new = reference.render(doc, ref, docs)
    assert "old" not in new and "| claim | verdict |" in new
    assert "# Claims" not in new and "`reference/check`" in new
    assert "[insufficient](../ref/check/figures/a.png)" in new  # the link, rebased to docs/
    assert new.startswith("Intro\n") and new.endswith("<!-- /reference -->\nEnd\n")
    assert reference.render(new, ref, docs) == new  # rendering is idempotent
    with pytest.raises(FileNotFoundError, match="check/tables/other.md"):
        reference.render("<!-- reference check/tables/other.md -->\n<!-- /reference -->", ref)


def test_a_csv_block_shows_the_named_columns_and_links_the_figure(tmp_path):
    results, checkout = finished_run(tmp_path)
    ref = tmp_path / "ref"
    reference.publish(results, "check", [reference.Path("config/check.yaml")], 60, checkout, ref)
    doc = "<!-- reference check/tables/claims.csv claim,verdict,figure -->\n<!-- /reference -->"
    new = reference.render(doc, ref, tmp_path)  # a document at the root, beside ref/
    assert "| claim | verdict | figure |\n|---|---|---|\n" in new  # unpadded
    assert "| x | insufficient | [figure](ref/check/figures/a.png) |" in new
    assert "0.31" not in new  # the paper column was not named
    numbers = reference.render(doc.replace("verdict,figure", "paper"), ref, tmp_path)
    assert "| x | 0.31 |" in numbers
    with pytest.raises(ValueError, match=r"claims.csv: no column\(s\) \['nope'\]"):
        reference.render(doc.replace("figure -->", "nope -->"), ref, tmp_path)


def test_a_csv_block_keeps_only_the_rows_its_filter_names(tmp_path):
    """One table may take some rows from one run and the rest from another: `where COL~RE`
    keeps the matching rows, `!~` the others; a filter that keeps nothing is an error."""
    import pandas as pd

    path = tmp_path / "claims.csv"
    pd.DataFrame({"claim": ["ETT MSE-uf", "ETT MAE-uf", "UCR accuracy"], "v": [1, 2, 3]}).to_csv(
        path, index=False
    )
    ett = reference.csv_table(path, ["claim", "v"], tmp_path, "claim~^ETT")
    assert "ETT MSE-uf" in ett and "ETT MAE-uf" in ett and "UCR" not in ett
    rest = reference.csv_table(path, ["claim", "v"], tmp_path, "claim!~^ETT")
    assert "UCR accuracy | 3" in rest and "ETT" not in rest
    with pytest.raises(ValueError, match=r"claims.csv: no row where claim~\^TS"):
        reference.csv_table(path, ["claim"], tmp_path, "claim~^TS")
    with pytest.raises(ValueError, match=r"no column\(s\) \['verdict'\]"):
        reference.csv_table(path, ["claim"], tmp_path, "verdict~x")
    block = "<!-- reference check/tables/claims.csv claim,v where claim!~uf -->\n"
    match = reference.BLOCK.search(block + "<!-- /reference -->")
    assert match["columns"] == "claim,v" and match["where"] == "claim!~uf"


def test_a_csv_block_rounds_floats_to_three_digits_and_escapes_pipes(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"model": ["a|b"], "mse": [0.302717], "rank": [137.455], "n": [12]})
    assert reference.compact_markdown(table).splitlines()[2] == "| a\\|b | 0.303 | 137 | 12 |"


def test_a_csv_column_with_blank_cells_is_rounded_like_the_others(tmp_path):
    """A baseline row leaves `difference` and `p` blank, which makes pandas read them as text:
    the filled cells are still rounded, blanks stay blank, text columns stay as written."""
    path = tmp_path / "objectives.csv"
    path.write_text(
        "arm,difference,p,seed\nbaseline,,,2021\nmasked,-0.001099,0.750000,2022\n"
        "both,0.0123456,0.04,1e-3x\n"
    )
    lines = reference.csv_table(path, ["arm", "difference", "p", "seed"], tmp_path).splitlines()
    assert lines[2:] == [
        "| baseline |  |  | 2021 |",
        "| masked | -0.0011 | 0.75 | 2022 |",
        "| both | 0.0123 | 0.04 | 1e-3x |",
    ]


def test_a_section_block_shows_only_the_text_under_its_heading(tmp_path):
    results, checkout = finished_run(tmp_path)
    (results / "tables" / "forecast.md").write_text(
        "# Forecast\n\n## Main\n\nmain table\n\n## Uf track\n\nintro\n\n"
        "### Against crop\n\n| a |\n|---|\n| 1 |\n\n## Later\n\nlater text\n"
    )
    ref = tmp_path / "ref"
    reference.publish(results, "check", [reference.Path("config/check.yaml")], 60, checkout, ref)
    doc = "<!-- reference check/tables/forecast.md#Uf track -->\n<!-- /reference -->"
    new = reference.render(doc, ref, tmp_path)
    assert "intro" in new and "### Against crop" in new and "| 1 |" in new  # sub-headings stay
    assert "main table" not in new and "later text" not in new and "## Uf track" not in new
    only = reference.render(doc.replace("Uf track", "Against crop"), ref, tmp_path)
    assert "| 1 |" in only and "intro" not in only and "later text" not in only
    with pytest.raises(ValueError, match=r"forecast.md: no heading 'Nope'; it has \['Main'"):
        reference.render(doc.replace("Uf track", "Nope"), ref, tmp_path)


def test_readme_and_docs_tables_equal_the_generated_ones():
    assert reference.stale() == [], "run: python -m csft.report.reference render"


def test_publish_records_the_commits_that_trained_the_jobs(tmp_path):
    # Tables regenerated at a later commit must still name the code that trained the numbers.
    from mlflow.tracking import MlflowClient

    results, checkout = finished_run(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("check", artifact_location=(tmp_path / "a").as_uri())
    runs = [client.create_run(experiment, tags={"git.commit": c}).info.run_id
            for c in ("a" * 40, "a" * 40, "b" * 40)]  # fmt: skip
    for i, run_id in enumerate([*runs, "0" * 32]):  # the last: a run the store no longer holds
        job = results / "forecast" / f"seed{i}"
        job.mkdir(parents=True)
        (job / "metrics.json").write_text(json.dumps([{"mlflow_run_id": run_id, "seed": i}] * 2))
    target = reference.publish(
        results, "check", [reference.Path("config/check.yaml")], 60, checkout,
        tmp_path / "ref", tracking_uri=uri,
    )  # fmt: skip
    record = json.loads((target / "provenance.json").read_text())
    assert record["job_commits"] == {"a" * 40: 2, "b" * 40: 1, "not in the store": 1}
    line = reference.provenance_line("check", record)
    assert "(jobs trained at aaaaaaa: 2, bbbbbbb: 1, not in the store: 1)" in line
    # Jobs trained at the tables' own commit need no mention.
    record["job_commits"] = {record["commit"]: 3}
    assert "jobs trained" not in reference.provenance_line("check", record)
