"""Experiment trackers (train.log): train.py hands each training event's numbers to them, by step.

events.jsonl stays the record; a tracker gets the same scalars (loss, lr: each number of a "train" event
but its step, a non-finite one left out) as train/<name>, from rank 0 only. Each tracker's library is
imported only when train.log names it; one that is not installed is a one-line error before the first
step (EXIT_MISSING_PACKAGE). A resume continues the tracker's run where it has one (wandb, mlflow).
"""

import atexit
import math
import os
import time

from runtime import EXIT_MISSING_PACKAGE, atomic_write, fail, rank_and_world


def with_trackers(log, trackers, run_dir, start, name):
    """`log`, also handing each training event's numbers to the trackers named in train.log (rank 0
    only). `start` is the step this launch resumes from (0: a new run); `name` the spec's name."""
    if not trackers or rank_and_world()[0] != 0:
        return log
    opened = [TRACKERS[tracker](run_dir, start, name) for tracker in trackers]

    def tracked(**event):
        log(**event)
        if event.get("event") == "train":
            scalars = {f"train/{key}": value for key, value in event.items()
                       if isinstance(value, (int, float)) and not isinstance(value, bool) and key != "step"
                       and math.isfinite(value)}
            for write, _ in opened:
                write(event["step"], scalars)
        elif event.get("event") == "train_done":
            for _, finish in opened:
                finish()

    return tracked


def tracker_library(tracker, module):
    """Import the tracker's library, or exit with one line saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        fail(EXIT_MISSING_PACKAGE, f"train.log names {tracker}, which is not installed: "
                                   f"pip install 'scorec[{tracker}]' (or {tracker})")


def kept_run_id(folder, start):
    """On a resume (start > 0), the id of the tracker run this run directory logged to (folder/run_id)."""
    path = os.path.join(folder, "run_id")
    if not start or not os.path.exists(path):
        return None
    with open(path) as fh:
        return fh.read().strip() or None


def keep_run_id(folder, run_id):
    """Record the tracker run's id in folder/run_id, atomically, for the next resume."""
    def write(tmp):
        with open(tmp, "w") as fh:
            fh.write(run_id + "\n")

    atomic_write(os.path.join(folder, "run_id"), write)
    return run_id


def tensorboard_tracker(run_dir, start, name):
    """RUN_DIR/tensorboard/, through torch.utils.tensorboard; a resume purges the events after `start`."""
    writer = tracker_library("tensorboard", "torch.utils.tensorboard").SummaryWriter(
        os.path.join(run_dir, "tensorboard"), purge_step=start + 1 if start else None)

    def write(step, scalars):
        for key, value in scalars.items():
            writer.add_scalar(key, value, step)
        writer.flush()

    return write, writer.close


def wandb_tracker(run_dir, start, name):
    """Weights & Biases: project and run named after the spec, files in RUN_DIR/wandb/; offline (`wandb
    sync RUN_DIR/wandb/offline-run-*` uploads it) unless WANDB_MODE or WANDB_API_KEY is set."""
    wandb = tracker_library("wandb", "wandb")
    folder = os.path.join(run_dir, "wandb")
    os.makedirs(folder, exist_ok=True)
    online = os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY")
    run = wandb.init(project=os.environ.get("WANDB_PROJECT") or name, name=name, dir=run_dir,
                     id=kept_run_id(folder, start), resume="allow", mode=None if online else "offline",
                     settings=wandb.Settings(silent=True, console="off"))
    keep_run_id(folder, run.id)

    def write(step, scalars):
        run.log(scalars, step=step)

    return write, run.finish


def mlflow_tracker(run_dir, start, name):
    """MLflow: experiment and run named after the spec, in MLFLOW_TRACKING_URI when it is set, else in a
    store of RUN_DIR/mlflow/ (mlflow.db, SQLite: `mlflow ui --backend-store-uri sqlite:///RUN_DIR/mlflow/
    mlflow.db` shows it). A run that stops before train_done is marked FAILED."""
    mlflow = tracker_library("mlflow", "mlflow")
    folder = os.path.abspath(os.path.join(run_dir, "mlflow"))
    os.makedirs(folder, exist_ok=True)
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    client = mlflow.MlflowClient(tracking_uri=uri or "sqlite:///" + os.path.join(folder, "mlflow.db"))
    experiment = client.get_experiment_by_name(name)
    experiment_id = experiment.experiment_id if experiment else client.create_experiment(
        name, artifact_location=None if uri else "file://" + os.path.join(folder, "artifacts"))
    run_id = kept_run_id(folder, start)
    if run_id is None or not mlflow_has_run(mlflow, client, run_id):
        run_id = client.create_run(experiment_id, run_name=name).info.run_id
    keep_run_id(folder, run_id)
    client.update_run(run_id, status="RUNNING")
    finished = []

    def write(step, scalars):
        now = int(time.time() * 1000)
        metrics = [mlflow.entities.Metric(key, value, now, step) for key, value in scalars.items()]
        client.log_batch(run_id, metrics=metrics)

    def finish(status="FINISHED"):
        if not finished:
            finished.append(status)
            client.set_terminated(run_id, status)

    atexit.register(finish, "FAILED")
    return write, finish


def mlflow_has_run(mlflow, client, run_id):
    """Whether the tracking store holds the run (a resume into another MLFLOW_TRACKING_URI starts a new one)."""
    try:
        client.get_run(run_id)
    except mlflow.exceptions.MlflowException:
        return False
    return True


# train.log's choices: each opens its run and returns (write(step, scalars), finish())
TRACKERS = {"tensorboard": tensorboard_tracker, "wandb": wandb_tracker, "mlflow": mlflow_tracker}
