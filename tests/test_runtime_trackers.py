"""templates/runtime_trackers.py: train.log's experiment trackers get the scalars of events.jsonl by step,
read back through each tracker's own reader (TensorBoard's EventAccumulator, MLflow's client, the
records of a W&B offline run decoded with wandb's own protobuf messages). Each tracker's tests run
where its library is installed (`pip install 'scorec[wandb]'`; .ci/run installs only tensorboard).
"""

from __future__ import annotations

import glob
import json
import math
import os
import struct
import subprocess
import sys

import pytest

from emitted import REPO, compile_text
from runtime_helpers import one_line_exit
from scorec.emit.render import emit, write_files

TRACKER_NAMES = ("tensorboard", "wandb", "mlflow")
TRAIN = [(10, 1.5), (20, 0.75), (30, float("nan"))]  # (step, loss): the last one not finite
# what a tracker gets of TRAIN's events: each number but the step and the flag, none non-finite
LOGGED = {"train/loss": [(10, 1.5), (20, 0.75)], "train/lr": [(10, 0.01), (20, 0.02), (30, 0.03)]}


@pytest.fixture
def no_tracker_settings(monkeypatch):
    """Neither rank nor tracker settings from the environment: offline W&B, MLflow in the run directory."""
    for name in ("RANK", "WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)


def log_train_events(rt, tracker, run_dir, start=0, events=TRAIN):
    """Hand `events` (step, loss) to the tracker as train.py does, then end the run; return events.jsonl's share."""
    kept = []
    log = rt.with_trackers(lambda **event: kept.append(event), [tracker], str(run_dir), start, "tiny-spec")
    log(event="train_start", step=start)
    for step, loss in events:
        log(event="train", step=step, loss=loss, finite=math.isfinite(loss), lr=step / 1000)
    log(event="train_done", step=events[-1][0])
    if tracker == "wandb":  # its service writes the run file in the background until shut down (as at exit)
        sys.modules["wandb"].teardown()
    return kept


def tensorboard_scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in RUN_DIR/tensorboard/, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def wandb_records(path):
    """The records of a W&B run file (run-ID.wandb), decoded with wandb's own protobuf message. wandb has
    no offline reader: the file is a 7-byte header (":W&B", magic, version) then LevelDB-log blocks of
    32 KiB, each record in chunks with a 7-byte header (CRC, length, type: 1 full, 2 first, 3 middle, 4 last)."""
    from wandb.proto.wandb_internal_pb2 import Record

    data = open(path, "rb").read()
    assert data[:4] == b":W&B"
    position, pieces = 7, b""
    while position + 7 <= len(data):
        if 32768 - position % 32768 < 7:  # a block's tail too short for a header is padding
            position += 32768 - position % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[position:position + 7])
        if kind == 0:
            break
        pieces += data[position + 7:position + 7 + length]
        position += 7 + length
        if kind in (1, 4):
            record = Record()
            record.ParseFromString(pieces)
            yield record
            pieces = b""


def wandb_scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """train/* of every history record of the offline runs in RUN_DIR/wandb/, by step, in logging order."""
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(str(run_dir / "wandb" / "offline-run-*" / "run-*.wandb"))):
        for record in wandb_records(path):
            if record.WhichOneof("record_type") == "history":
                for item in record.history.item:
                    key = item.key or "/".join(item.nested_key)
                    if key.startswith("train/"):
                        scalars.setdefault(key, []).append((record.history.step.num, json.loads(item.value_json)))
    return scalars


def mlflow_client(run_dir):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri="sqlite:///" + str(run_dir / "mlflow" / "mlflow.db"))


def mlflow_scalars(run_dir) -> dict[str, list[tuple[int, float]]]:
    """Every metric's history of the run named in RUN_DIR/mlflow/run_id, read by MLflow's own client."""
    client = mlflow_client(run_dir)
    run = client.get_run((run_dir / "mlflow" / "run_id").read_text().strip())
    return {key: [(m.step, m.value) for m in sorted(client.get_metric_history(run.info.run_id, key),
                                                    key=lambda m: (m.step, m.timestamp))]
            for key in run.data.metrics}


SCALARS = {"tensorboard": tensorboard_scalars, "wandb": wandb_scalars, "mlflow": mlflow_scalars}


def test_train_log_tensorboard_gets_the_scalars_of_events_jsonl(rt, tmp_path, no_tracker_settings):
    """tensorboard: each train event's numbers by step, beside events.jsonl; a resume from step 20 purges
    what was logged after it."""
    pytest.importorskip("tensorboard")
    kept = log_train_events(rt, "tensorboard", tmp_path)
    assert [e["event"] for e in kept] == ["train_start", "train", "train", "train", "train_done"]
    # TensorBoard keeps float32
    assert tensorboard_scalars(tmp_path) == {key: [(step, pytest.approx(value)) for step, value in values]
                                             for key, values in LOGGED.items()}
    log_train_events(rt, "tensorboard", tmp_path, start=20, events=[(30, 0.5)])
    after = tensorboard_scalars(tmp_path)
    assert after["train/loss"] == [(10, 1.5), (20, 0.75), (30, 0.5)]
    assert after["train/lr"] == [(10, pytest.approx(0.01)), (20, pytest.approx(0.02)), (30, pytest.approx(0.03))]


def test_train_log_wandb_is_an_offline_run_of_the_same_scalars_resumed_by_id(rt, tmp_path, no_tracker_settings):
    """wandb without WANDB_MODE or an API key: an offline run in RUN_DIR/wandb/, named after the spec;
    a resume continues the run of the same id (a second offline part; `wandb sync` joins them)."""
    pytest.importorskip("wandb")
    log_train_events(rt, "wandb", tmp_path)
    assert wandb_scalars(tmp_path) == LOGGED
    run_id = (tmp_path / "wandb" / "run_id").read_text().strip()
    first = [r for r in wandb_records(glob.glob(str(tmp_path / "wandb" / "offline-run-*" / "run-*.wandb"))[0])
             if r.WhichOneof("record_type") == "run"][0].run
    assert (first.run_id, first.project, first.display_name) == (run_id, "tiny-spec", "tiny-spec")
    log_train_events(rt, "wandb", tmp_path, start=20, events=[(30, 0.5)])
    parts = glob.glob(str(tmp_path / "wandb" / "offline-run-*"))
    assert len(parts) == 2 and all(part.endswith(f"-{run_id}") for part in parts)
    assert wandb_scalars(tmp_path)["train/loss"] == [(10, 1.5), (20, 0.75), (30, 0.5)]


def test_train_log_mlflow_is_a_run_of_the_same_scalars_in_the_run_directory(rt, tmp_path, no_tracker_settings):
    """mlflow without MLFLOW_TRACKING_URI: a SQLite store in RUN_DIR/mlflow/, experiment and run named
    after the spec, FINISHED at train_done; a resume continues the same run (one run in the store)."""
    pytest.importorskip("mlflow")
    log_train_events(rt, "mlflow", tmp_path)
    assert mlflow_scalars(tmp_path) == LOGGED
    log_train_events(rt, "mlflow", tmp_path, start=20, events=[(30, 0.5)])
    assert mlflow_scalars(tmp_path)["train/loss"] == [(10, 1.5), (20, 0.75), (30, 0.5)]
    client = mlflow_client(tmp_path)
    experiment = client.get_experiment_by_name("tiny-spec")
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run.info.run_name, run.info.status) == ("tiny-spec", "FINISHED")
    assert experiment.artifact_location.startswith("file://" + str(tmp_path))


@pytest.mark.parametrize("tracker", TRACKER_NAMES)
def test_a_tracker_that_is_not_installed_is_one_line_and_exit_1(
        rt, tracker, tmp_path, capsys, monkeypatch, no_tracker_settings):
    module = {"tensorboard": "torch.utils.tensorboard"}.get(tracker, tracker)
    monkeypatch.setitem(sys.modules, module, None)  # `import module` raises ImportError
    err = one_line_exit(capsys, rt.EXIT_MISSING_PACKAGE, rt.with_trackers, print, [tracker], str(tmp_path), 0, "x")
    assert rt.EXIT_MISSING_PACKAGE == 1
    assert f"train.log names {tracker}, which is not installed: pip install 'scorec[{tracker}]'" in err


def test_no_trackers_and_other_ranks_are_the_event_log_itself(rt, monkeypatch):
    def log(**event):
        pass

    assert rt.with_trackers(log, [], "unused", 0, "x") is log
    monkeypatch.setattr(rt.runtime_trackers, "rank_and_world", lambda: (1, 2))
    assert rt.with_trackers(log, list(TRACKER_NAMES), "unused", 0, "x") is log


SPEC = """
scorec: 1
name: tracked
seed: 0
data: {source: swiss_roll, n: 500}
process: {kind: vp}
model: {parameterization: eps, network: {kind: mlp, hidden: [16], embedding_dim: 8}}
objective: {kind: dsm, weighting: sigma2}
train: {steps: 6, batch_size: 32, warmup: 2, compile: false, log_every: 2, checkpoint_every: 6}
sample: {sampler: em, steps: 4, n: 16, batch_size: 16}
"""


@pytest.mark.slow
@pytest.mark.parametrize("tracker", ["wandb", "mlflow"])
def test_an_emitted_training_hands_the_tracker_the_scalars_of_events_jsonl(tracker, tmp_path):
    """A tiny emitted train.py with train.log: [TRACKER]: the tracker's run holds exactly events.jsonl's
    train numbers, by step."""
    pytest.importorskip(tracker)
    code, out = tmp_path / "code", tmp_path / "run"
    write_files(emit(compile_text(SPEC, [f"train.log=[{tracker}]"])), code)
    env = {key: value for key, value in os.environ.items()
           if key not in ("WANDB_MODE", "WANDB_API_KEY", "WANDB_PROJECT", "MLFLOW_TRACKING_URI", "RANK")}
    done = subprocess.run([sys.executable, str(code / "train.py"), "--out", str(out), "--device", "cpu"],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    expected = {f"train/{key}": [(e["step"], e[key]) for e in events if e["event"] == "train"]
                for key in ("loss", "lr")}
    assert [step for step, _ in expected["train/loss"]] == [2, 4, 6]
    assert SCALARS[tracker](out) == expected


def test_a_train_py_with_every_tracker_is_clean_and_names_its_exit_code(tmp_path):
    """train.log with all three: the constant lists them within 120 columns; the docstring gives exit 1."""
    pycodestyle = pytest.importorskip("pycodestyle")
    files = emit(compile_text(SPEC, ["train.log=[tensorboard, wandb, mlflow]"]))
    assert 'TRACKERS = ["tensorboard", "wandb", "mlflow"]' in files["train.py"]
    assert "Exit code 1: a tracker of train.log is not installed" in files["train.py"]
    assert "Exit code 1" not in emit(compile_text(SPEC))["train.py"]
    write_files(files, tmp_path)
    report = pycodestyle.StyleGuide(max_line_length=120, quiet=True).check_files(
        [str(tmp_path / "train.py"), str(tmp_path / "runtime_trackers.py")])
    assert report.total_errors == 0, report.get_statistics()
