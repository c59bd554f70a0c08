"""Benchmarks with their own command (``python -m bench.<name>``); results go to the README."""
