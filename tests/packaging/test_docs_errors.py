"""The error-code table of docs/reference/errors.md lists every issue code the package can
report, and no code the package does not have, so the page cannot drift from the code.

Codes are the string constants of the form ``A123`` in the package's source (``code="U101"``,
``ModelIssue.code = "M000"``, the schema reader's default ``"F001"``).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import degranulation

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "reference" / "errors.md"
CODE = re.compile(r"[A-Z]\d{3}")


def package_codes() -> set[str]:
    found = set()
    for path in Path(degranulation.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
                found.add(node.value)
    return found


def documented_codes() -> set[str]:
    rows = (line for line in PAGE.read_text(encoding="utf-8").splitlines() if line.startswith("| `"))
    return {match[1] for line in rows if (match := re.match(r"\| `([A-Z]\d{3})` \|", line))}


def test_the_package_reports_the_codes_it_always_had():
    # A sanity check of the scan itself: the codes of the first releases.
    assert {"F002", "E501", "N201", "U101", "V402", "M000"} <= package_codes()


def test_every_code_is_documented_and_every_documented_code_exists():
    codes = package_codes()
    documented = documented_codes()
    assert codes - documented == set(), "codes missing from docs/reference/errors.md"
    assert documented - codes == set(), "docs/reference/errors.md lists codes the package lacks"
