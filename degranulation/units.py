"""Units: the one pint registry, parsing quantity text, and a model's unit system.

Users type ``"1 nM"``, ``"30 min"``, ``"4e5 molecule"`` or ``"2e6/M/s"``. Text is split
into a number and a unit; the unit goes through pint's own tokenizer (no ``eval``). Inside
the package every quantity is turned, once, into a float in the model's *coherent* unit
system (time, amount and concentration units; volume = amount / concentration), so rate
laws evaluated on plain floats are dimensionally consistent.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import sys
import types
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from degranulation.errors import UnitError

if TYPE_CHECKING:
    import pint

# Dimensions, as pint writes them.
TIME: Final = "[time]"
SUBSTANCE: Final = "[substance]"
LENGTH: Final = "[length]"
#: The other base dimensions, which every unit system keeps in SI units (scale 1).
_SI_OTHER: Final = {"[mass]": "kg", "[current]": "A", "[temperature]": "K", "[luminosity]": "cd"}

_NUMBER = r"[+-]?(?:(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|inf|nan)"
_QUANTITY_RE = re.compile(rf"^\s*(?P<number>{_NUMBER})\s*(?P<unit>.*?)\s*$", re.IGNORECASE)
# What a unit may be written with; exponents are kept short so no text can make pint's
# number arithmetic explode.
_UNIT_RE = re.compile(r"[A-Za-z_µμΩ%°0-9 */().^+-]*")
_LONG_EXPONENT_RE = re.compile(r"(\*\*|\^)\s*[+-]?\(?\s*\d{3,}")
_COMMON_UNITS: Final = (
    "s", "min", "h", "ms", "day", "M", "mM", "uM", "nM", "pM", "fM", "mol", "mmol", "umol",
    "nmol", "pmol", "molecule", "L", "mL", "uL", "nL", "pL", "fL", "m", "um", "nm", "g",
    "mg", "ug", "ng", "kDa", "Da", "percent", "dimensionless", "cell", "1/s", "1/min",
)  # fmt: skip


@functools.lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry:
    """Return the package's pint unit registry (built once, on first use).

    It knows ``molecule`` (1/N_A mol) and ``cell`` (a count, dimensionless), so
    ``"4e5 molecule/cell"`` is an amount.

    Examples
    --------
    >>> from degranulation.units import registry
    >>> float(registry().Quantity(1, "nM").to("M").magnitude)
    1e-09
    """
    import pint

    ureg: pint.UnitRegistry
    try:
        ureg = pint.UnitRegistry(cache_folder=":auto:", force_ndarray_like=True, on_redefinition="ignore")
    except OSError:  # an unwritable cache folder only costs start-up time
        ureg = pint.UnitRegistry(force_ndarray_like=True, on_redefinition="ignore")
    ureg.define("cell = 1 = cells")
    # pint files molecule under "particle"; results should say the unit users write. (pint
    # would log this redefinition as a warning; "ignore" keeps it quiet and still applies it.)
    ureg.define("molecule = particle = molec")
    return ureg


def import_pint_xarray() -> types.ModuleType:
    """Import pint-xarray (which registers the ``.pint`` accessor) without building pint's
    application registry.

    pint-xarray's import sets ``force_ndarray_like`` on pint's application registry, which
    builds it: a second registry, pint's whole definition file parsed again (half a second of
    a short run). While that registry is still unbuilt, ours stands in for it during the
    import, and then an unbuilt one with the same arguments plus that setting is put back, so
    the application registry ends as pint-xarray would have left it, built on first use.
    """
    if "pint_xarray" in sys.modules:
        return sys.modules["pint_xarray"]
    import pint
    from pint.registry import LazyRegistry

    unbuilt = pint.get_application_registry().get()
    params = vars(unbuilt).get("params") if isinstance(unbuilt, LazyRegistry) else None
    if params is None:  # already built (pint-xarray only sets it up), or a pint we do not know
        import pint_xarray

        return pint_xarray
    args, kwargs = params  # what LazyRegistry(args, kwargs) keeps to build the registry with
    pint.set_application_registry(registry())
    try:
        import pint_xarray
    finally:
        pint.set_application_registry(LazyRegistry(args, {**kwargs, "force_ndarray_like": True}))
    return pint_xarray


def split_quantity(text: str) -> tuple[float, str]:
    """Split ``"1e6 1/(M*s)"`` or ``"2e6/M/s"`` into ``(1e6, "1/(M*s)")``.

    Raises
    ------
    UnitError
        If the text does not start with a number.
    """
    match = _QUANTITY_RE.match(text)
    if match is None:
        raise UnitError(
            f"'{text}' is not a number with a unit",
            hint="write a value and its unit, e.g. '1 nM', '30 min' or '4e5 molecule'",
        )
    unit = match["unit"]
    if unit.startswith("/"):
        unit = "1" + unit
    return float(match["number"]), unit


@functools.lru_cache(maxsize=4096)
def parse_unit(text: str) -> pint.Unit:
    """Parse unit text (``"1/(M*s)"``, ``"molecule"``, ``"ng/mL"``) into a pint unit.

    Raises
    ------
    UnitError
        For unknown units or text that is not a unit, with a suggestion.
    """
    import pint

    ureg = registry()
    stripped = text.strip()
    if stripped in ("", "1", "dimensionless"):
        return ureg.dimensionless
    if len(stripped) > 200 or not _UNIT_RE.fullmatch(stripped) or _LONG_EXPONENT_RE.search(stripped):
        raise UnitError(f"'{text}' is not a unit", hint="write units like '1/(M*s)' or 'nM'")
    try:
        parsed = ureg.parse_units(stripped)
    except pint.UndefinedUnitError as exc:
        close = difflib.get_close_matches(str(exc.args[0]), _COMMON_UNITS, n=1)
        hint = f"did you mean '{close[0]}'?" if close else "see pint's unit names, e.g. 'nM', 'min'"
        raise UnitError(f"unknown unit {exc.args[0]!r} in '{text}'", hint=hint) from None
    except (pint.DefinitionSyntaxError, ValueError, TypeError, AttributeError, SyntaxError):
        raise UnitError(f"'{text}' is not a unit", hint="write units like '1/(M*s)' or 'nM'") from None
    return parsed


def dimensionality(unit_text: str) -> Any:
    """Return the pint dimensionality (a ``UnitsContainer``) of unit text."""
    return registry().Quantity(1.0, parse_unit(unit_text)).dimensionality


def format_dimension(dim: Any) -> str:
    """Write a dimensionality for messages, e.g. ``[substance] / [length] ** 3``."""
    return str(dim) if dim else "dimensionless"


def unit_name(unit_text: str) -> str:
    """Return pint's long name of a unit, e.g. ``'nanomolar'`` for ``'nM'``."""
    return str(parse_unit(unit_text))


def as_written(unit: str, written: str) -> str:
    """``written`` if it is the same unit as ``unit`` (so 'nM' stays 'nM', not pint's
    'nanomolar'), else ``unit``.

    Examples
    --------
    >>> as_written("nanomolar", "nM"), as_written("nanomolar", "uM"), as_written("nM", "")
    ('nM', 'nanomolar', 'nM')
    """
    try:
        return written if written and parse_unit(written) == parse_unit(unit) else unit
    except UnitError:
        return unit


def case_hint(unit_text: str, expected: Any) -> str | None:
    """Suggest the unit meant when a case slip gives the wrong dimension (``nm`` for ``nM``)."""
    candidates = {unit_text.swapcase(), unit_text[:-1] + unit_text[-1:].swapcase()}
    candidates |= {unit_text.replace("m", "M"), unit_text.replace("l", "L")}
    for candidate in sorted(candidates - {unit_text}):
        try:
            if dimensionality(candidate) == expected:
                return f"{unit_name(candidate)} is '{candidate}'"
        except UnitError:
            continue
    return None


@dataclass(frozen=True)
class UnitSystem:
    """The units a model's ODEs are solved in.

    Volume is derived: ``amount / concentration`` (e.g. ``molecule/nM``), which makes the
    system coherent for every quantity built from time, substance and length.

    Parameters
    ----------
    time, concentration, amount : str
        Unit text, e.g. ``"s"``, ``"nM"``, ``"molecule"``.

    Examples
    --------
    >>> from degranulation.units import UnitSystem
    >>> system = UnitSystem(time="min", concentration="nM", amount="molecule")
    >>> round(system.magnitude(1.0, "1/s"), 12)
    60.0
    """

    time: str = "s"
    concentration: str = "nM"
    amount: str = "molecule"

    @property
    def volume(self) -> str:
        """Unit text of the derived volume unit."""
        return f"({self.amount})/({self.concentration})"

    @functools.cached_property
    def _scales(self) -> dict[str, float]:
        ureg = registry()
        volume_si = ureg.Quantity(1.0, parse_unit(self.volume)).to_base_units().magnitude
        return {
            TIME: ureg.Quantity(1.0, parse_unit(self.time)).to_base_units().magnitude,
            SUBSTANCE: ureg.Quantity(1.0, parse_unit(self.amount)).to_base_units().magnitude,
            LENGTH: volume_si ** (1.0 / 3.0),
        }

    def check(self) -> None:
        """Raise :class:`UnitError` unless each unit has the dimension its name says."""
        expected = {
            "time": {TIME: 1},
            "concentration": {SUBSTANCE: 1, LENGTH: -3},
            "amount": {SUBSTANCE: 1},
        }
        for field, dims in expected.items():
            text = getattr(self, field)
            got = dimensionality(text)
            if dict(got) != dims:
                raise UnitError(
                    f"'{text}' is {format_dimension(got)}; expected a {field} unit",
                    location=f"units.{field}",
                    hint=case_hint(text, registry().Quantity(1, _unit_for(dims)).dimensionality),
                )

    def unit_text(self, dimension: Any) -> str:
        """Unit text a user can type for a dimension, in this system's units (a dimension
        of fractional volumes or other base dimensions gets cube roots of the volume unit).

        Examples
        --------
        >>> from degranulation.units import UnitSystem, dimensionality
        >>> UnitSystem(time="s", concentration="nM").unit_text(dimensionality("1/(M*s)"))
        '1/(nM*s)'
        >>> UnitSystem().unit_text(dimensionality("1/(molecule*min)"))
        '1/(molecule*s)'
        >>> UnitSystem().unit_text(dimensionality("degC/min"))
        'K/s'
        """
        powers = dict(dimension)
        length = powers.pop(LENGTH, 0)
        if (
            set(powers) - {TIME, SUBSTANCE, *_SI_OTHER}
            or length != int(length)
            or any(p != int(p) for p in powers.values())
        ):
            parts = {TIME: self.time, SUBSTANCE: self.amount, LENGTH: f"({self.volume})**(1/3)", **_SI_OTHER}
            return "*".join(f"({parts.get(n, n)})**{p:g}" for n, p in dict(dimension).items())
        if length % 3:  # an area or a length: a power of the volume unit, e.g. per area
            whole = int(length / 3) * 3
            rest = f"({self.volume})**({abs(int(length - whole))}/3)"
            inner = self.unit_text(dimension * registry().Unit("m").dimensionality ** (whole - length))
            if length > whole:
                return rest if inner == "dimensionless" else f"{inner}*{rest}"
            return f"{'1' if inner == 'dimensionless' else inner}/{rest}"
        powers = {name: int(power) for name, power in powers.items()}
        length = int(length)
        concentration = -length // 3  # [substance]/[length]**3 carries every length
        factors = {
            self.concentration: concentration,
            self.amount: powers.get(SUBSTANCE, 0) - concentration,
            self.time: powers.get(TIME, 0),
            **{text: powers.get(name, 0) for name, text in _SI_OTHER.items()},
        }
        up: list[str] = []
        down: list[str] = []
        for unit, power in factors.items():
            name = unit if re.fullmatch(r"\w+", unit) else f"({unit})"
            if power:
                (up if power > 0 else down).append(name if abs(power) == 1 else f"{name}**{abs(power)}")
        numerator = "*".join(up) or "1"
        if not down:
            return numerator if up else "dimensionless"
        return f"{numerator}/{down[0] if len(down) == 1 else '(' + '*'.join(down) + ')'}"

    def magnitude(self, value: float, unit: str) -> float:
        """Convert ``value unit`` to a float in this system."""
        ureg = registry()
        quantity = ureg.Quantity(value, parse_unit(unit))
        base = quantity.to_base_units().magnitude
        return float(base) / float(self.scale(quantity.dimensionality))

    def scale(self, dim: Any) -> float:
        """SI magnitude of one internal unit of dimensionality ``dim``."""
        scales = self._scales
        return math.prod(scales.get(name, 1.0) ** power for name, power in dict(dim).items())


def _unit_for(dims: dict[str, int]) -> str:
    si = {TIME: "s", SUBSTANCE: "mol", LENGTH: "m"}
    return "*".join(f"{si[name]}**{power}" for name, power in dims.items())


def to_quantity(value: Any) -> tuple[float, str]:
    """Normalise user input (text or a pint Quantity) to ``(magnitude, unit text)``.

    Raises
    ------
    UnitError
        For a bare number, which has no unit.
    """
    if isinstance(value, str):
        number, unit = split_quantity(value)
        parse_unit(unit)
        return number, unit
    if hasattr(value, "magnitude") and hasattr(value, "units"):
        return float(value.magnitude), f"{value.units:~C}" or "dimensionless"
    raise UnitError(
        f"{value!r} has no unit",
        hint="pass text such as '1e6 1/(M*s)' or a pint Quantity; "
        "a dimensionless value is written '2 dimensionless'",
    )
