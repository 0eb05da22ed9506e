"""Offline tools around the detector: the labelled corpus, training and evaluation (no Django)."""
