"""CLI verb groups; each module exposes ``register(sub, bench)``."""
