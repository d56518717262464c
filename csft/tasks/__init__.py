"""Task loops (train / evaluate); they own splits, early stopping and the single test pass."""
