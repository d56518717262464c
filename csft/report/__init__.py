"""Tables, claims and verdicts, figures: read results, never models."""
