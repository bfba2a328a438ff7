"""``ModelBuilder``: make the same :class:`~degranulation.network.Model` a file would, from Python.

The builder collects the model-file structure and builds it through the same reader, so a
built model and a loaded one are checked, and compare, alike.
"""

from __future__ import annotations

from typing import Any

from degranulation.network import FORMAT, Model, UnitValue
from degranulation.typing import QuantityLike


class ModelBuilder:
    """Build a model step by step; :meth:`build` validates it.

    Examples
    --------
    >>> import degranulation as dg
    >>> model = (
    ...     dg.ModelBuilder("binding", units={"time": "s", "concentration": "nM"})
    ...     .compartment("medium", "1 uL")
    ...     .species("L", "1 nM", compartment="medium")
    ...     .species("R", "4 nM", compartment="medium")
    ...     .species("LR", "0 nM", compartment="medium")
    ...     .parameter("k_on", "1e6 1/(M*s)")
    ...     .parameter("k_off", "0.01 1/s")
    ...     .reaction("L + R <-> LR", "mass_action(k_on, k_off)", id="bind")
    ...     .observable("bound", "LR", "nM")
    ...     .build()
    ... )
    >>> model.species_ids
    ('L', 'R', 'LR')
    """

    def __init__(
        self,
        id: str,
        *,
        title: str = "",
        cell_type: str = "",
        description: str = "",
        references: tuple[str, ...] = (),
        units: dict[str, str] | None = None,
    ) -> None:
        self._data: dict[str, Any] = {
            "format": FORMAT,
            "id": id,
            "units": dict(units or {}),
            "compartments": {},
            "species": {},
            "parameters": {},
            "reactions": [],
            "observables": {},
        }
        for key, value in (("title", title), ("cell_type", cell_type), ("description", description)):
            if value:
                self._data[key] = value
        if references:
            self._data["references"] = list(references)

    def compartment(self, id: str, size: Any, *, label: str = "", description: str = "") -> ModelBuilder:
        """Add a compartment; ``size`` is a volume such as ``"1 pL"``, an area (``"800 um**2"``)
        or a length (``"2 um"``)."""
        self._data["compartments"][id] = _drop_empty(size=_text(size), label=label, description=description)
        return self

    def species(
        self,
        id: str,
        initial: QuantityLike,
        *,
        compartment: str | None = None,
        label: str = "",
        description: str = "",
        molar_mass: QuantityLike | None = None,
        boundary: bool = False,
        variable: bool = False,
    ) -> ModelBuilder:
        """Add a species; ``initial`` is an amount (``"400 molecule"``) or a concentration.

        ``variable=True`` makes it a model variable instead (any unit, no compartment), changed
        by a reaction ``("0 -> id", "<d id/dt>")`` in its unit per time, e.g.
        ``.species("signal", "0 dimensionless", variable=True).reaction("0 -> signal", "k*L")``.
        """
        self._data["species"][id] = _drop_empty(
            initial=_text(initial),
            compartment=compartment,
            label=label,
            description=description,
            molar_mass=None if molar_mass is None else _text(molar_mass),
            boundary=boundary or None,
            variable=variable or None,
        )
        return self

    def parameter(
        self,
        id: str,
        value: QuantityLike,
        *,
        description: str = "",
        source: str = "",
        status: str = "",
        estimate: dict[str, Any] | None = None,
    ) -> ModelBuilder:
        """Add a parameter with its unit, e.g. ``("k_on", "1e6 1/(M*s)")``."""
        self._data["parameters"][id] = _drop_empty(
            value=_text(value), description=description, source=source, status=status, estimate=estimate
        )
        return self

    def reaction(
        self, equation: str, rate: str, *, id: str | None = None, label: str = "", description: str = ""
    ) -> ModelBuilder:
        """Add a reaction such as ``("L + R <-> LR", "mass_action(k_on, k_off)")``."""
        number = len(self._data["reactions"]) + 1
        self._data["reactions"].append(
            _drop_empty(
                id=id or f"r{number}", equation=equation, rate=rate, label=label, description=description
            )
        )
        return self

    def observable(self, id: str, expr: str, unit: str, *, description: str = "") -> ModelBuilder:
        """Add an observable: an expression and the unit to report it in."""
        self._data["observables"][id] = _drop_empty(expr=expr, unit=unit, description=description)
        return self

    def build(self, *, validate: bool = True) -> Model:
        """Make the model (and validate it unless ``validate=False``).

        Raises
        ------
        ModelValidationError
            With every problem found.
        """
        from degranulation.schema import model_from_dict

        model = model_from_dict(self._data)
        if validate:
            from degranulation.validation import validate as check

            check(model)
        return model


def _text(value: Any) -> str:
    return str(UnitValue.parse(value))


def _drop_empty(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}
