"""Limits that make hostile or broken input cheap to refuse.

Every reader checks its input against these before the work that would grow with it, and
refuses with a :class:`~degranulation.errors.ModelError` (or ``ModelFileError``) that names
the file and the place. The limits are far above what real models need: the largest bundled
network (``fceri_faeder2003``, 3680 reactions) has expressions of a few dozen nodes, nested a
few levels deep, in a file of about 1 MB.

MAX_FILE_BYTES
    A model file (TOML, SBML, BioNetGen ``.net``) larger than this is not read (256 MiB).
MAX_LENGTH
    Expression text (a rate law, an observable, a BioNetGen expression once the parameters and
    functions it uses are inlined) may be at most this many characters long.
MAX_EXPRESSION_NODES
    An expression may have at most this many nodes after function definitions (SBML) and
    derived parameters and functions (BioNetGen) are inlined. Inlining is measured as it
    goes, before it happens, so ``f_i(x) = f_{i-1}(x) + f_{i-1}(x)`` nested 40 deep is refused
    at once instead of growing to 2**40 nodes.
MAX_DEPTH
    An expression may be nested at most this deep (SBML MathML, expression text, chains of
    definitions), so that nothing downstream runs out of recursion.
MAX_MATHML_DEPTH
    SBML math may be nested at most this deep, before and after inlining. It is higher than
    ``MAX_DEPTH`` because libsbml stores a sum of n terms as n - 1 nested binary sums
    (BioNetGen's SBML export of ``fceri_ji`` nests 348 deep); the reader's walk of that
    nesting stays well inside Python's recursion limit.
MAX_STOICHIOMETRY
    A stoichiometric coefficient may be at most this large in magnitude.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from degranulation.errors import ModelFileError

MAX_FILE_BYTES: Final = 256 * 1024**2
MAX_LENGTH: Final = 20_000
MAX_EXPRESSION_NODES: Final = 100_000
MAX_DEPTH: Final = 150
MAX_MATHML_DEPTH: Final = 400
MAX_STOICHIOMETRY: Final = 1e6
NEWLINE: Final = b"\n"


def read_model_text(path: Path, what: str) -> str:
    """The text of a model file: UTF-8, a byte-order mark dropped, at most
    :data:`MAX_FILE_BYTES` long.

    Raises
    ------
    ModelFileError
        For a file that cannot be read, is too large, or is not UTF-8 (with the line).
    """
    check_file_size(path, what)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {what}: {exc.strerror or exc}", file=str(path)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ModelFileError(
            f"{what} is not UTF-8 text (byte {data[exc.start]:#04x})",
            file=str(path),
            location=f"line {data[: exc.start].count(NEWLINE) + 1}",
            hint="save the file as UTF-8",
        ) from None


def check_file_size(path: Path, what: str) -> None:
    """Refuse a file larger than :data:`MAX_FILE_BYTES` before reading it (ModelFileError)."""
    try:
        size = path.stat().st_size
    except OSError:
        return  # the reader reports a missing or unreadable file in its own words
    if size > MAX_FILE_BYTES:
        raise ModelFileError(
            f"{what} is {size / 1024**2:.0f} MiB; the limit is {MAX_FILE_BYTES / 1024**2:.0f} MiB",
            file=str(path),
            hint="is this the right file? (the limit is degranulation.limits.MAX_FILE_BYTES)",
        )
