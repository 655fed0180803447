"""Benchmarks behind ``tracekd bench`` (ours against a baseline, side by side)."""
