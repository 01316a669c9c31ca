"""The registered metrics, one module each (scorec/metrics/registry.py says what a module declares).

Every module here is imported by the registry and registers itself; the compiler reads the
declarations, so a module imports nothing heavier than the registry at its top: numpy and the
numerics (points.py, two_sample.py, nearest.py, images.py ...) inside its compute function.
"""
