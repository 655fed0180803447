"""tracekd: re-implementing and checking trace-based knowledge distillation.

Bhambri, Biswas, Kambhampati, "Interpretable Traces, Unexpected Outcomes: Investigating the
Disconnect in Trace-Based Knowledge Distillation" (arXiv 2505.13792). The package is the only
source of logic; notebooks and the book consume it.
"""

__version__ = "0.1.0"
