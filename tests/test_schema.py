"""`scorec schema`: the JSON Schema editors use, checked against every example with jsonschema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from typer.testing import CliRunner

from emitted import EXAMPLES
from scorec.cli import app
from scorec.frontend.yaml_loader import load_path

ALL = sorted(EXAMPLES.glob("*.yaml"))


@pytest.fixture(scope="module")
def validator():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", ALL, ids=[p.stem for p in ALL])
def test_every_example_validates(path: Path, validator):
    errors = [e.message for e in validator.iter_errors(load_path(path).data)]
    assert not errors, errors


@pytest.mark.parametrize("change, needle", [
    (lambda d: d.update(scorec=2), "scorec"),
    (lambda d: d.update(extra_key=1), "extra_key"),
    (lambda d: d["process"].update(kind="vpp"), "vpp"),
    (lambda d: d["train"].update(lr="fast"), "fast"),
])
def test_schema_rejects_bad_specs(change, needle, validator):
    data = json.loads(json.dumps(load_path(EXAMPLES / "swissroll_vp_pc.yaml").data))
    change(data)
    errors = list(validator.iter_errors(data))
    assert errors and any(needle in e.message or needle in json.dumps(e.instance)
                          or needle in [str(p) for p in e.absolute_path] for e in errors)
