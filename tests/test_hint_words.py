"""A hint's fixes written as YAML and as .score (frontend/hint_words.py), and what they say holds:
the code a writer puts between backticks, read back by the loader of its format, sets the
key the fix names to the value it names."""

from __future__ import annotations

import re

import pytest

from scorec.core.hints import AddKey, ChooseKind, DefineHelper, Hint, SetKey, anchored, hint
from scorec.frontend.hint_words import ScoreWords, YamlWords
from scorec.frontend.score_loader import load_score
from scorec.frontend.yaml_loader import load_yaml
from scorec.schema.query import SPEC_LAYOUT

YAML, SCORE = YamlWords(SPEC_LAYOUT), ScoreWords(SPEC_LAYOUT)


@pytest.mark.parametrize("fix, yaml, score", [
    (SetKey(("scorec",), (1,)), "`scorec: 1`", "`scorec 1`"),
    (SetKey(("name",), ("swissroll-vp",)), "`name: swissroll-vp`", "`name swissroll-vp`"),
    (SetKey(("sample", "churn"), (0,)), "`churn: 0`", "`churn = 0`"),
    (SetKey(("objective", "weighting"), ("standard", "sigma2")), "weighting: standard or sigma2",
     "weighting = standard or sigma2"),
    (SetKey(("sample", "sampler"), ("ddim",)), "`sampler: ddim`", "`sample ddim { ... }`"),
    (SetKey(("model", "parameterization"), ("v",)), "`parameterization: v`", "`model v { ... }`"),
    (SetKey(("sample", "predictor"), ("em",)), "`predictor: em`", "`predictor = em`"),
    (SetKey(("name",), ("a: b",)), '`name: "a: b"`', '`name "a: b"`'),
    (SetKey(("churn",), (0,)), "`churn: 0`", "`churn = 0`"),  # a key of the error's own section
    (ChooseKind("sampler", ("ddim", "em", "pc"), "sampler"), "sampler: ddim, em, pc", "sample ddim, em, pc"),
    (ChooseKind("process", ("edm", "vp"), "kind"), "process kind: edm or vp", "process edm or vp"),
    (ChooseKind("parameterization", ("v",)), "parameterization: v", "`model v { ... }`"),
    (ChooseKind("corrector", ("langevin",), "kind"), "corrector kind: langevin", "`corrector langevin { ... }`"),
    (AddKey(("process", "kind")), "`kind:`", "`process <kind> { ... }`"),
    (AddKey(("data",), section=True), "`data:`", "`data { ... }`"),
    (AddKey(("data", "means")), "`means:`", "`means = ...`"),
    (DefineHelper("b", "0.1 + 19.9 * t"), 'under `where:`, e.g. where: {b: "0.1 + 19.9 * t"}',
     "in the process section, e.g. b(t) = 0.1 + 19.9 * t"),
])
def test_each_format_writes_a_fix_in_its_own_syntax(fix, yaml, score):
    assert YAML.fix(fix) == yaml
    assert SCORE.fix(fix) == score


def nested(path: tuple, inner: str, score: bool) -> str:
    """`inner` written inside the sections of `path` (YAML flow mappings, or .score sections)."""
    for key in reversed(path):
        inner = f"{key} {{ {inner} }}" if score else f"{key}: {{{inner}}}"
    return inner


@pytest.mark.parametrize("fix, value", [
    (SetKey(("scorec",), (1,)), 1),
    (SetKey(("name",), ("a b",)), "a b"),
    (SetKey(("name",), ("a: b",)), "a: b"),
    (SetKey(("sample", "churn"), (0.5,)), 0.5),
    (SetKey(("sample", "init"), ("data",)), "data"),
    (SetKey(("sample", "sampler"), ("ddim",)), "ddim"),
    (SetKey(("sample", "corrector", "kind"), ("langevin",)), "langevin"),
    (SetKey(("model", "parameterization"), ("v",)), "v"),
    (SetKey(("sample", "predictor"), ("em",)), "em"),
    (SetKey(("train", "grad_clip"), (None,)), None),
    (SetKey(("model", "network", "hidden"), ([64, 64],)), [64, 64]),
])
def test_the_written_fix_reads_back_as_the_fix(fix, value):
    yaml = re.fullmatch(r"`(.*)`", YAML.fix(fix))[1]
    data = load_yaml(nested(fix.path[:-1], yaml, False), "s.yaml").data
    score = re.fullmatch(r"`(.*)`", SCORE.fix(fix))[1].replace("{ ... }", "{ }")
    kind_word = not score.startswith(str(fix.path[-1]))  # `sample ddim { }`: the section's own head
    text = nested(fix.path[:-2] if kind_word else fix.path[:-1], score, True)
    read = load_score(text if len(fix.path) > 1 else text + "\n", "s.score", layout=SPEC_LAYOUT).data
    for got in (data, read):
        for key in fix.path:
            got = got[key]
        assert got == value and type(got) is type(value)


def test_hints_join_words_and_fixes():
    churn = SetKey(("churn",), (0,))
    assert hint("a", None, "", "b") == "ab"  # plain words stay a string
    both = hint("use ", churn, " with the optimized grid")
    assert isinstance(both, Hint) and str(both) == "use `churn: 0` with the optimized grid"
    assert both.text(SCORE) == "use `churn = 0` with the optimized grid"
    assert hint(both, "; ", "note").parts == ("use ", churn, " with the optimized grid; note")
    assert "optimized" in both
    moved = anchored(both, ("sample",))
    assert moved.parts[1] == SetKey(("sample", "churn"), (0,)) and anchored("words", ("sample",)) == "words"
