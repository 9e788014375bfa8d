"""Offline learning: the fanqa data set, its validator, and `python -m bot train` (never run at serve time)."""
