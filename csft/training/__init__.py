"""The loops that fit models (forecasting, pretraining, classification), with checkpoints
and seeding."""
