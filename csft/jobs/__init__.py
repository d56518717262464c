"""One module per job type: what a Snakemake job runs, end to end."""
