"""Teacher traces: LLM backends and the teacher pipeline."""
