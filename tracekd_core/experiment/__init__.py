"""The experiment: conditions, the grid runner, inference-time interventions (paper 1, 5-7)."""
