"""Decoupled evaluation (paper 6): parsing, strict and reference scorers, scoring, statistics."""
