"""CSFT, the layers it shares with the baselines, its objectives and placements, and the
registry every model is reached through."""
