"""Every diagnostic code, once: the kind of mistake, a short title, the long explanation with
an example of the mistake and its fix (`scorec explain CODE` prints it, as rustc and stanc3 do).

Codes name kinds of mistakes, not call sites, so one code serves many checks:

    E00xx  files and limits            E03xx  components that do not fit together
    E01xx  syntax (YAML, .score)       E04xx  expressions (weightings, schedules, helpers)
    E02xx  the spec's keys and values  E05xx  SDE equations
                                       E06xx  --set overrides;  E07xx  scorec fmt

A check that finds options which do not fit together needs no code of its own: `ctx.error`
and FieldError give E0209. An example is a snippet laid over a small valid spec (its
top-level keys replace the spec's), in the `form` it is written in; tests/test_codes.py
checks that each `bad` example gives its code and each `good` one does not.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    title: str
    explanation: str
    bad: str  # an example of the mistake
    good: str | None  # the same, fixed (None where the fix is outside the spec)
    form: str = "yaml"  # yaml | .score | --set (an override) | fmt (YAML for `scorec fmt --to score`) | file (a path)


_TABLE = (
    Code("E0001", "cannot read the spec file",
         "The spec file does not exist, cannot be read, or is not UTF-8 text.",
         "spec.yml", None, "file"),
    Code("E0002", "spec too large or too deeply nested",
         "A spec is a short text: at most 64 levels of nesting, integers of at most 4000 digits, a\n"
         "file of at most a million characters (100,000 for .score). Write huge numbers as floats.",
         "seed: " + "[" * 65 + "]" * 65, "seed: 0"),
    Code("E0003", "data file missing or unreadable",
         "A data source reads a file or folder (`path`, relative to the spec file's folder) that is\n"
         "not there or is not what the source reads.",
         "data: {source: npz, path: no-such-file.npz}", None),
    Code("E0101", "YAML syntax error",
         "The text is not valid YAML 1.2: indentation (spaces, never tabs), unclosed brackets,\n"
         "a second document after `---`, a character YAML refuses.",
         "process:\n  kind: vp\n   beta_min: 0.1", "process:\n  kind: vp\n  beta_min: 0.1"),
    Code("E0102", ".score syntax error",
         "The text is not valid .score: a section is `name [kind] { ... }`, a setting `key = value`,\n"
         "top-level values `key value`, strings in double quotes, powers `**`, an SDE equation and\n"
         "its helpers inside their process section.",
         "train { steps: 500 }", "train { steps = 500 }", ".score"),
    Code("E0103", "YAML feature not allowed in a spec",
         "Tags (`!!python/...`), anchors (`&a`) and aliases (`*a`) are refused: values are typed by\n"
         "the schema, and nothing is shared or expanded. Write each value out.",
         "seed: !!int 3", "seed: 3"),
    Code("E0104", "duplicate key",
         "A key is written twice in one section; the spec would be ambiguous. Keep one.",
         "train:\n  steps: 500\n  steps: 1000", "train:\n  steps: 1000"),
    Code("E0105", "mapping key that is not a string",
         "A key that YAML reads as a number, a boolean or null (`1000:`, `true:`, `null:`). Every\n"
         "key of a spec is a name; quote it if it is meant as text.",
         "train: {1000: steps}", "train: {steps: 1000}"),
    Code("E0201", "unknown key",
         "A key the section does not take: a misspelling, a key of another component (`eta` is\n"
         "ddim's, not em's), or a section in the wrong place. The hint names the likely key.",
         "train: {stpes: 500}", "train: {steps: 500}"),
    Code("E0202", "missing key",
         "A required key is missing: the format version `scorec: 1`, the spec's `name`, a data\n"
         "source's own settings (gmm's `means`), or the kind of a component's section.",
         "process: {beta_min: 0.1}", "process: {kind: vp, beta_min: 0.1}"),
    Code("E0203", "wrong type",
         "A value of the wrong type: text where a number belongs (a quoted \"1e-4\" is text),\n"
         "a fraction where an integer belongs, a list where a section belongs.",
         'train: {lr: "1e-4"}', "train: {lr: 1e-4}"),
    Code("E0204", "value out of range",
         "A number outside what the option allows (a negative rate, a probability of 1, a count\n"
         "past 2**31), or a value the option refuses (an odd embedding width, an empty list).",
         "train: {lr: -0.001}", "train: {lr: 0.001}"),
    Code("E0205", "unknown kind",
         "A section that chooses a component (data, process, network, objective, sample, a\n"
         "corrector) names it by its kind key (`source`, `kind`, `sampler`; the parameterization\n"
         "by itself). The name must be one of the registered kinds, written as a string.",
         "sample: {sampler: emm}", "sample: {sampler: em}"),
    Code("E0206", "unknown value",
         "An option that takes one of a fixed set of words (a metric, a precision, a named\n"
         "schedule) got another word.",
         "eval: {metrics: [mmd, swdd]}", "eval: {metrics: [mmd, swd]}"),
    Code("E0207", "unsupported format version",
         "A spec states its format version first: `scorec: 1` (.score: `scorec 1`). This scorec\n"
         "reads version 1; a newer spec needs the scorec that wrote it.",
         "scorec: 2", "scorec: 1"),
    Code("E0208", "invalid name",
         "The spec's `name` names its run directory: lowercase letters, digits, '_' and '-'.",
         "name: My Run", "name: my-run"),
    Code("E0209", "options that do not fit together",
         "Each option is valid alone, but not with another one: a lower bound above its upper\n"
         "bound, a batch larger than the sample count, more steps than the process has, an option\n"
         "that applies only to another setting. The diagnostic points at the option written last.",
         "sample: {sampler: em, n: 1000, batch_size: 5000}", "sample: {sampler: em, n: 1000, batch_size: 500}"),
    Code("E0301", "components that do not fit together",
         "A component needs something of another one (a sampler a discrete process, an objective\n"
         "an energy, a metric images) that the chosen one lacks. The hint lists the components that\n"
         "fit the rest of the spec, on either side.",
         "process: {kind: vp}\nsample: {sampler: ancestral}", "process: {kind: discrete}\nsample: {sampler: ancestral}"),
    Code("E0401", "expression syntax error",
         "A formula (a weighting, a schedule, an SDE term) is incomplete or uses an operator\n"
         "formulas do not have. Formulas use numbers, names, + - * / ** and parentheses.",
         'objective: {kind: dsm, weighting: "sigma(t)^2"}', 'objective: {kind: dsm, weighting: "sigma(t)**2"}'),
    Code("E0402", "unknown name or function in an expression",
         "A formula names a variable or calls a function that is not defined there: a misspelling,\n"
         "a process quantity the chosen process lacks (beta(t) of a ve process), a wrong number of\n"
         "arguments. The hint lists the names allowed.",
         'objective: {kind: dsm, weighting: "sigm(t)**2"}', 'objective: {kind: dsm, weighting: "sigma(t)**2"}'),
    Code("E0403", "construct not allowed in an expression",
         "Formulas are mathematics, never Python: no attributes, indexing, strings, keywords,\n"
         "lambdas, comparisons or conditionals. Nothing a user writes is evaluated.",
         'objective: {kind: dsm, weighting: "t.real"}', 'objective: {kind: dsm, weighting: "t"}'),
    Code("E0404", "formula gives a bad value",
         "A formula parses but its values are not what the option needs: a loss weighting must be\n"
         "finite and non-negative on [t_eps, 1], a noise schedule's betas lie in (0, 1).",
         'objective: {kind: dsm, weighting: "t - 0.5"}', 'objective: {kind: dsm, weighting: "t + 0.5"}'),
    Code("E0501", "malformed SDE equation",
         "A forward SDE is written `dx = <drift> dt + <diffusion> dw`: the state is x, the drift\n"
         "term comes first, the noise term last.",
         'process: {kind: sde, equation: "dx = -x dt"}', 'process: {kind: sde, equation: "dx = -x dt + dw"}'),
    Code("E0502", "SDE without a Gaussian kernel",
         "scorec needs the kernel p(x_t | x_0) in closed form: a drift affine in x, a diffusion of t\n"
         "alone that adds noise somewhere on [0, 1], finite on [0, 1].",
         'process: {kind: sde, equation: "dx = -x**3 dt + dw"}', 'process: {kind: sde, equation: "dx = -x dt + dw"}'),
    Code("E0503", "helper function error",
         "An SDE's helper functions of t (YAML `where: {beta: ...}`, .score `beta(t) = ...`) must be\n"
         "defined, of t, named apart from the process's own functions, and free of cycles.",
         'process: {kind: sde, equation: "dx = -0.5 * b(t) * x dt + sqrt(b(t)) dw"}',
         'process: {kind: sde, equation: "dx = -0.5 * b(t) * x dt + sqrt(b(t)) dw",'
         ' where: {b: "0.1 + 19.9 * t"}}'),
    Code("E0601", "malformed --set override",
         "An override is one line `--set section.field=value`: a dotted path of keys (or list\n"
         "indexes), '=', and a YAML value (a scalar or a flow collection such as [1, 2]).",
         "train.lr 0.001", "train.lr=0.001", "--set"),
    Code("E0602", "override path that does not fit the spec",
         "An override's path goes where the spec has no section: inside a value (a number, a kind), or\n"
         "to a list index past the list's end.",
         "process.kind.beta_min=0.1", "process.beta_min=0.1", "--set"),
    Code("E0701", "cannot write the spec in the other format",
         "`scorec fmt --to score` writes every key as a .score name (letters, digits, '_') and no\n"
         "mapping inside a list; a spec that holds one cannot be converted without changing it.",
         'process: {kind: sde, equation: "dx = -x dt + dw", where: {b-2: "t"}}',
         'process: {kind: sde, equation: "dx = -x dt + dw", where: {b2: "t"}}', "fmt"),
)
CODES: dict[str, Code] = {c.code: c for c in _TABLE}


def lookup(word: str) -> Code | None:
    """The code `word` names: `E0205`, `e0205` or `205`."""
    word = word.strip().upper()
    if word.isdigit():
        word = f"E{int(word):04d}"
    return CODES.get(word)


def suggest(word: str) -> str | None:
    """The code closest to an unknown one, for "did you mean"."""
    match = difflib.get_close_matches(word.strip().upper(), CODES, n=1, cutoff=0.6)
    return match[0] if match else None


def explain(code: Code) -> str:
    """The long form: title, explanation, the mistake and its fix."""
    indent = lambda text: "\n".join("    " + line for line in text.splitlines())  # noqa: E731
    form = {"yaml": "YAML", ".score": ".score", "--set": "a --set override", "fmt": "YAML, for scorec fmt --to score",
            "file": "a path"}[code.form]
    out = [f"{code.code}: {code.title}", "", code.explanation, "", f"For example ({form}):", "", indent(code.bad)]
    if code.good is not None:
        out += ["", "Fixed:", "", indent(code.good)]
    return "\n".join(out) + "\n"


def listing() -> str:
    """Every code and its title, one a line."""
    return "".join(f"{c.code}  {c.title}\n" for c in _TABLE)
