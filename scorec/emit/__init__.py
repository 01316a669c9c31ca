"""The emit stage: the IR -> the emitted programs' text (render.py, through templates/),
tidied as if written by hand (tidy.py), with the run's spec.lock.json (lockfile.py)."""
