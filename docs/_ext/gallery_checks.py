"""The published checks each bundled model's tests make, as ``docs/gallery/checks.toml`` records
them, and the means to hold that record to the tests.

Each entry names a pytest node id and the literal text (``evidence``) that the test's code must
contain: the reference numbers and tolerances that the gallery page prints. ``tests/docs``
fails when a node id is not collected, when a piece of evidence is missing from the test's
code (its source, decorators, fixtures of the same module and the module-level constants these
name), or when a bundled model has no entry, so the page cannot drift from what the tests check.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: The record the gallery pages read (relative to the repository root).
CHECKS_FILE = Path("docs") / "gallery" / "checks.toml"
_FIELDS = {"what", "against", "tolerance", "test", "evidence"}


@dataclass(frozen=True)
class Check:
    """One published check a test makes on one model.

    Attributes
    ----------
    what : str
        What is checked, with the numbers.
    against : str
        The reference no one here wrote (paper, BioNetGen output, closed form), DOIs as ``doi:``.
    tolerance : str
        How close the model must come, as the test asserts it.
    test : str
        The pytest node id (without parametrisation), ``tests/...py::test_name``.
    evidence : tuple of str
        Literal text the test's code contains: the numbers and tolerances above.
    """

    what: str
    against: str
    tolerance: str
    test: str
    evidence: tuple[str, ...]

    @property
    def path(self) -> str:
        """The test file, relative to the repository root."""
        return self.test.split("::")[0]

    @property
    def function(self) -> str:
        """The test function's name (a method's for ``file::Class::test``)."""
        return self.test.split("::")[-1]


def load_checks(path: Path) -> dict[str, list[Check]]:
    """Read the checks record: ``{model id: [Check, ...]}``.

    Raises
    ------
    ValueError
        Naming the file, the model and the entry, for a missing or unknown field.
    """
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    checks: dict[str, list[Check]] = {}
    for model_id, entries in data.items():
        if not isinstance(entries, list):
            raise ValueError(f"{path}: '{model_id}' must be an array of tables: write [[{model_id}]]")
        checks[model_id] = [_check(path, model_id, k, entry) for k, entry in enumerate(entries, 1)]
    return checks


def _check(path: Path, model_id: str, number: int, entry: dict[str, object]) -> Check:
    where = f"{path}: [[{model_id}]] entry {number}"
    if set(entry) != _FIELDS:
        missing, unknown = sorted(_FIELDS - set(entry)), sorted(set(entry) - _FIELDS)
        raise ValueError(
            f"{where}: missing fields {missing}, unknown fields {unknown}; give exactly {sorted(_FIELDS)}"
        )
    evidence = entry["evidence"]
    if not isinstance(evidence, list) or not evidence or not all(isinstance(e, str) for e in evidence):
        raise ValueError(f"{where}: 'evidence' must be a non-empty list of strings found in the test's code")
    text = {name: entry[name] for name in ("what", "against", "tolerance", "test")}
    if not all(isinstance(value, str) and value for value in text.values()):
        raise ValueError(f"{where}: 'what', 'against', 'tolerance' and 'test' must be non-empty strings")
    if "::" not in str(text["test"]) or "[" in str(text["test"]):
        raise ValueError(f"{where}: 'test' must be a node id 'tests/...py::test_name', without parameters")
    return Check(**text, evidence=tuple(evidence))  # type: ignore[arg-type]


def test_code(root: Path, check: Check) -> str:
    """The code a check's test runs on: the test function with its decorators, the fixtures of
    the same module it takes, and the module-level assignments of the names these use
    (reference tables such as ``D3_1``).

    Raises
    ------
    LookupError
        If the file has no such function.
    """
    source = (root / check.path).read_text(encoding="utf-8")
    tree = ast.parse(source)
    functions = {
        node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    if check.function not in functions:
        raise LookupError(f"{check.path} has no function '{check.function}' (checks record: {check.test})")
    test = functions[check.function]
    fixtures = [functions[a.arg] for a in test.args.args if a.arg in functions]
    lines = source.splitlines()
    parts, used = [], set()
    for function in (test, *fixtures):
        first = min([function.lineno, *(d.lineno for d in function.decorator_list)])
        parts.append("\n".join(lines[first - 1 : function.end_lineno]))
        used |= {node.id for node in ast.walk(function) if isinstance(node, ast.Name)}
    for statement in tree.body:
        if _assigned_names(statement) & used:
            parts.append("\n".join(lines[statement.lineno - 1 : statement.end_lineno]))
    return "\n".join(parts)


def _assigned_names(statement: ast.stmt) -> set[str]:
    if isinstance(statement, ast.Assign):
        return {t.id for target in statement.targets for t in ast.walk(target) if isinstance(t, ast.Name)}
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return {statement.target.id}
    return set()


def missing_evidence(root: Path, check: Check) -> list[str]:
    """The pieces of a check's evidence its test's code does not contain (empty when honest)."""
    code = test_code(root, check)
    return [piece for piece in check.evidence if piece not in code]
