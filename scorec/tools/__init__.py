"""Tools over specs, beside the pipeline: `scorec fmt` (fmt.py) and `scorec diff` (specdiff.py)."""
