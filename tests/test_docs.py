"""docs/spec-reference.md is generated from the schema and the registry: it must match.

Regenerate after a change of options (like the other goldens):
    SCOREC_UPDATE_GOLDEN=1 python -m pytest tests/test_docs.py -q
"""

import os

from emitted import REPO
from scorec.components import registry
from scorec.tools.specref import reference

REFERENCE = REPO / "docs" / "spec-reference.md"


def test_spec_reference_is_generated_from_the_registry():
    text = reference()
    if os.environ.get("SCOREC_UPDATE_GOLDEN") == "1":
        REFERENCE.write_text(text)
    assert REFERENCE.read_text() == text, (
        "docs/spec-reference.md is out of date: SCOREC_UPDATE_GOLDEN=1 python -m pytest tests/test_docs.py")


def test_every_component_and_option_is_in_the_reference():
    text = reference()
    for comp in registry.all_components():
        assert f"{comp.family} `{comp.kind}`" in text, f"{comp.family} {comp.kind} is missing"
        tag = registry.FAMILIES[comp.family].tag
        for name in comp.options.model_fields:
            if name != tag:
                assert f"| `{name}` |" in text, f"option {name} of {comp.family} {comp.kind} is missing"


def test_the_readme_links_the_reference():
    assert "docs/spec-reference.md" in (REPO / "README.md").read_text()
