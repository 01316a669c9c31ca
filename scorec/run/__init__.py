"""`scorec run`, `scorec sample` and `scorec eval`: a run directory, and the emitted programs
run in it (they never import scorec).

    jobs.py          the three jobs: run (compile, train, sample, evaluate), resample, reevaluate
    launch.py        one emitted program as a subprocess (torchrun for several processes),
                     a progress bar fed by its JSON-lines events
    lock.py          one job at a time holds a run directory
    evaluate.py      metrics.json from samples.npz (the registered metrics, scorec/metrics/), pictures
                     (plots.py) and report.html (report.py)
    program.py       the run's emitted code imported once: how evaluation, metrics and report reach it
    lockmismatch.py  what changed since the run's spec.lock.json, in words

The run directory ends up holding:

    code/            the emitted programs and spec.lock.json
    checkpoints/     last.pt (when something is trained)
    events.jsonl     training events; sample_events.jsonl
    samples.npz      samples (n, *data_shape); reference.npz: fresh data samples
    metrics.json     flat {name: number}, nfe included; <metric>_floor: the metric between two
                     independent draws of real data of the samples' size
    samples.png      samples beside data;  loss.png: the training loss
"""


class RunFailed(Exception):
    """A job could not finish: an emitted program failed, or the run directory refuses it."""
