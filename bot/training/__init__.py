"""Offline learning: the fanqa data set, its validator, `python -m bot train` (never at serve time)."""
