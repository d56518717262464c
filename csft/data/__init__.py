"""Data: download + verify, ETT and UCR loading, and the one module where splits are made."""
