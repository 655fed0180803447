"""Traces (paper 2-4): prompts, decomposition into gold traces, corruptions, SFT records."""
