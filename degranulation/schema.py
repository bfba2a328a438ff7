"""The model-file schema: the TOML structure (a dict) ⇄ :class:`~degranulation.network.Model`.

Reading checks the structure (known keys, types, required fields, values written as
``"number unit"``) and reports every structural problem at once with its key path; units,
names and rate laws are checked afterwards by :mod:`degranulation.validation`. Also parses
protocol steps (:func:`parse_steps`), which simulation accepts in the same structure.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, get_args

from degranulation.errors import (
    ModelError,
    ModelIssue,
    ModelValidationError,
    SchemaIssue,
    UnitError,
)
from degranulation.network import (
    FORMAT,
    Compartment,
    Estimate,
    Model,
    ModelEvent,
    Observable,
    Parameter,
    ParameterStatus,
    Protocol,
    Reaction,
    Scale,
    Species,
    Step,
    UnitValue,
)
from degranulation.units import UnitSystem, split_quantity

_TOP_KEYS: Final = (
    "format", "id", "title", "cell_type", "description", "references", "units",
    "compartments", "species", "parameters", "reactions", "observables", "protocols",
    "default_protocol", "events",
)  # fmt: skip
_UNIT_KEYS: Final = ("time", "concentration", "amount")
_COMPARTMENT_KEYS: Final = ("size", "label", "description")
_SPECIES_KEYS: Final = (
    "initial",
    "compartment",
    "label",
    "description",
    "molar_mass",
    "boundary",
    "variable",
)
_PARAMETER_KEYS: Final = ("value", "description", "source", "status", "estimate")
_ESTIMATE_KEYS: Final = ("bounds", "scale")
_REACTION_KEYS: Final = ("id", "equation", "rate", "label", "description")
_OBSERVABLE_KEYS: Final = ("expr", "unit", "description")
_PROTOCOL_KEYS: Final = ("description", "steps")
_STEP_KEYS: Final = ("at", "set", "add", "clamp", "release")
_EVENT_TEXT: Final = ("trigger", "delay", "priority", "description")
_EVENT_FLAGS: Final = ("persistent", "initial_value", "use_values_from_trigger_time")
_EVENT_KEYS: Final = (*_EVENT_TEXT[:1], "assign", *_EVENT_TEXT[1:], *_EVENT_FLAGS)


#: A protocol as public functions take it: a name, a Protocol, Step records or the file's structure.
ProtocolLike = str | Protocol | Sequence[Step] | Sequence[dict[str, Any]] | None


def model_from_dict(data: Mapping[str, Any], *, file: str | None = None) -> Model:
    """Build a model from the TOML structure (a dict), collecting every structural problem."""
    reader = _Reader(file)
    model = reader.model(data)
    if reader.issues:
        raise ModelValidationError(
            f"{file or 'model'}: {len(reader.issues)} error(s) in the file's structure", reader.issues
        )
    return model


class _Reader:
    def __init__(self, file: str | None) -> None:
        self.file = file
        self.issues: list[ModelIssue] = []

    def issue(self, location: str, message: str, hint: str | None = None, code: str = "F001") -> None:
        self.issues.append(SchemaIssue(message, code=code, file=self.file, location=location, hint=hint))

    def keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], location: str) -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"allowed keys: {', '.join(allowed)}"
                where = f"{location}.{key}" if location else str(key)
                self.issue(where, f"unknown key '{key}'", hint, code="F002")

    def table(self, data: Mapping[str, Any], key: str, location: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            self.issue(location, f"expected a table, got {_kind(value)}", code="F003")
            return {}
        return value

    def text(self, data: Mapping[str, Any], key: str, location: str, *, required: bool = False) -> str:
        if key not in data:
            if required:
                self.issue(f"{location}.{key}".lstrip("."), f"missing required key '{key}'", code="F004")
            return ""
        value = data[key]
        if not isinstance(value, str):
            self.issue(f"{location}.{key}".lstrip("."), f"expected text, got {_kind(value)}", code="F003")
            return ""
        return value

    def value(self, raw: Any, location: str) -> UnitValue:
        if isinstance(raw, bool) or not isinstance(raw, str):
            hint = f"write it with a unit, e.g. '{raw} nM'" if isinstance(raw, int | float) else None
            self.issue(location, f"expected a value with a unit as text, got {_kind(raw)}", hint, "F005")
            return UnitValue(math.nan, "")
        try:
            number, unit = split_quantity(raw)
        except UnitError as exc:
            self.issue(location, exc.message, exc.hint, "F005")
            return UnitValue(math.nan, "")
        return UnitValue(number, unit)

    def model(self, data: Mapping[str, Any]) -> Model:
        self.keys(data, _TOP_KEYS, "")
        fmt = data.get("format", FORMAT)
        if fmt != FORMAT:
            self.issue("format", f"unknown format {fmt!r}", f"this version reads '{FORMAT}'", "F006")
        references = data.get("references", [])
        if not isinstance(references, list) or not all(isinstance(r, str) for r in references):
            self.issue("references", "expected a list of text (DOIs or citations)", code="F003")
            references = []
        return Model(
            id=self.text(data, "id", "", required=True),
            title=self.text(data, "title", ""),
            cell_type=self.text(data, "cell_type", ""),
            description=self.text(data, "description", ""),
            references=tuple(references),
            units=self.units(self.table(data, "units", "units")),
            compartments=tuple(self.records(data, "compartments", self.compartment)),
            species=tuple(self.records(data, "species", self.species)),
            parameters=tuple(self.records(data, "parameters", self.parameter)),
            reactions=tuple(self.reactions(data.get("reactions", []))),
            observables=tuple(self.records(data, "observables", self.observable)),
            protocols=tuple(self.records(data, "protocols", self.protocol)),
            default_protocol=self.text(data, "default_protocol", ""),
            events=tuple(self.records(data, "events", self.event)),
            source=self.file,
        )

    def units(self, table: Mapping[str, Any]) -> UnitSystem:
        self.keys(table, _UNIT_KEYS, "units")
        defaults = UnitSystem()
        fields = {k: self.text(table, k, "units") or getattr(defaults, k) for k in _UNIT_KEYS}
        return UnitSystem(**fields)

    def records(self, data: Mapping[str, Any], key: str, make: Any) -> list[Any]:
        return [make(name, raw, f"{key}.{name}") for name, raw in self.table(data, key, key).items()]

    def compartment(self, name: str, raw: Any, location: str) -> Compartment:
        if isinstance(raw, str):
            return Compartment(name, self.value(raw, f"{location}.size"))
        raw = self.mapping(raw, location)
        self.keys(raw, _COMPARTMENT_KEYS, location)
        if "size" not in raw:
            self.issue(f"{location}.size", "missing required key 'size'", code="F004")
        return Compartment(
            name,
            self.value(raw.get("size", "nan"), f"{location}.size"),
            label=self.text(raw, "label", location),
            description=self.text(raw, "description", location),
        )

    def species(self, name: str, raw: Any, location: str) -> Species:
        if isinstance(raw, str):
            return Species(name, self.value(raw, f"{location}.initial"))
        raw = self.mapping(raw, location)
        self.keys(raw, _SPECIES_KEYS, location)
        if "initial" not in raw:
            self.issue(f"{location}.initial", "missing required key 'initial'", code="F004")
        boundary, variable = (self.false_unless_set(raw, key, location) for key in ("boundary", "variable"))
        molar_mass = raw.get("molar_mass")
        return Species(
            name,
            self.value(raw.get("initial", "nan"), f"{location}.initial"),
            compartment=self.text(raw, "compartment", location) or None,
            label=self.text(raw, "label", location),
            description=self.text(raw, "description", location),
            molar_mass=None if molar_mass is None else self.value(molar_mass, f"{location}.molar_mass"),
            boundary=boundary,
            variable=variable,
        )

    def false_unless_set(self, raw: Mapping[str, Any], key: str, location: str) -> bool:
        """An optional true/false key, False when absent (or not a boolean, reported)."""
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.issue(f"{location}.{key}", f"expected true or false, got {_kind(value)}", code="F003")
        return value is True

    def parameter(self, name: str, raw: Any, location: str) -> Parameter:
        if not isinstance(raw, Mapping):
            return Parameter(name, self.value(raw, location))
        self.keys(raw, _PARAMETER_KEYS, location)
        if "value" not in raw:
            self.issue(f"{location}.value", "missing required key 'value'", code="F004")
        status = self.text(raw, "status", location)
        if status not in get_args(ParameterStatus):
            allowed = ", ".join(s for s in get_args(ParameterStatus) if s)
            self.issue(f"{location}.status", f"unknown status '{status}'", f"use one of {allowed}", "F007")
            status = ""
        estimate = raw.get("estimate")
        return Parameter(
            name,
            self.value(raw.get("value", "nan"), f"{location}.value"),
            description=self.text(raw, "description", location),
            source=self.text(raw, "source", location),
            status=status,  # type: ignore[arg-type]
            estimate=None if estimate is None else self.estimate(estimate, f"{location}.estimate"),
        )

    def estimate(self, raw: Any, location: str) -> Estimate | None:
        raw = self.mapping(raw, location)
        self.keys(raw, _ESTIMATE_KEYS, location)
        bounds = raw.get("bounds")
        if not isinstance(bounds, list) or len(bounds) != 2:
            self.issue(f"{location}.bounds", "expected two bounds: [low, high]", code="F003")
            return None
        scale = raw.get("scale", "log10")
        if scale not in get_args(Scale):
            self.issue(f"{location}.scale", f"unknown scale {scale!r}", "use 'lin' or 'log10'", "F007")
            scale = "log10"
        low, high = (self.value(b, f"{location}.bounds[{i}]") for i, b in enumerate(bounds))
        return Estimate((low, high), scale)

    def reactions(self, raw: Any) -> list[Reaction]:
        if not isinstance(raw, list):
            self.issue(
                "reactions", f"expected an array of tables ([[reactions]]), got {_kind(raw)}", code="F003"
            )
            return []
        found = []
        for index, entry in enumerate(raw):
            location = f"reactions[{index}]"
            entry = self.mapping(entry, location)
            self.keys(entry, _REACTION_KEYS, location)
            found.append(
                Reaction(
                    id=self.text(entry, "id", location) or f"r{index + 1}",
                    equation=self.text(entry, "equation", location, required=True),
                    rate=self.text(entry, "rate", location, required=True),
                    label=self.text(entry, "label", location),
                    description=self.text(entry, "description", location),
                )
            )
        return found

    def observable(self, name: str, raw: Any, location: str) -> Observable:
        raw = self.mapping(raw, location)
        self.keys(raw, _OBSERVABLE_KEYS, location)
        return Observable(
            name,
            expr=self.text(raw, "expr", location, required=True),
            unit=self.text(raw, "unit", location, required=True),
            description=self.text(raw, "description", location),
        )

    def protocol(self, name: str, raw: Any, location: str) -> Protocol:
        raw = self.mapping(raw, location)
        self.keys(raw, _PROTOCOL_KEYS, location)
        return Protocol(
            name,
            steps=self.steps(raw.get("steps", []), f"{location}.steps"),
            description=self.text(raw, "description", location),
        )

    def event(self, name: str, raw: Any, location: str) -> ModelEvent:
        raw = self.mapping(raw, location)
        self.keys(raw, _EVENT_KEYS, location)
        assign = self.mapping(raw.get("assign", {}), f"{location}.assign")
        if not assign:
            self.issue(f"{location}.assign", "an event assigns at least one species", code="F004")
        flags = {}
        for key in _EVENT_FLAGS:
            flags[key] = raw.get(key, True)
            if not isinstance(flags[key], bool):
                self.issue(
                    f"{location}.{key}", f"expected true or false, got {_kind(flags[key])}", code="F003"
                )
                flags[key] = True
        return ModelEvent(
            name,
            trigger=self.text(raw, "trigger", location, required=True),
            assignments=tuple((target, self.text(assign, target, f"{location}.assign")) for target in assign),
            delay=self.text(raw, "delay", location),
            priority=self.text(raw, "priority", location),
            description=self.text(raw, "description", location),
            **flags,
        )

    def steps(self, raw: Any, location: str) -> tuple[Step, ...]:
        if not isinstance(raw, list):
            self.issue(location, f"expected an array of steps, got {_kind(raw)}", code="F003")
            return ()
        found: list[Step] = []
        for index, entry in enumerate(raw):
            where = f"{location}[{index}]"
            entry = self.mapping(entry, where)
            self.keys(entry, _STEP_KEYS, where)
            if "at" not in entry:
                self.issue(
                    f"{where}.at", "missing required key 'at' (the step's time, e.g. '5 min')", code="F004"
                )
            at = self.value(entry.get("at", "nan"), f"{where}.at")
            for action in ("set", "add", "clamp"):
                for target, value in self.mapping(entry.get(action, {}), f"{where}.{action}").items():
                    found.append(Step(at, action, target, self.value(value, f"{where}.{action}.{target}")))
            released = entry.get("release", [])
            if not isinstance(released, list) or not all(isinstance(r, str) for r in released):
                self.issue(f"{where}.release", "expected a list of species ids", code="F003")
                released = []
            found.extend(Step(at, "release", target) for target in released)
            if not any(key in entry for key in ("set", "add", "clamp", "release")):
                self.issue(where, "step has no action", "give set, add, clamp or release", code="F004")
        return tuple(found)

    def mapping(self, raw: Any, location: str) -> Mapping[str, Any]:
        if isinstance(raw, Mapping):
            return raw
        self.issue(location, f"expected a table, got {_kind(raw)}", code="F003")
        return {}


def _kind(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "text", list: "an array"}
    return f"{names.get(type(value), type(value).__name__)} ({value!r})"


def parse_steps(raw: Any, *, location: str = "protocol") -> tuple[Step, ...]:
    """Protocol steps from the model-file structure (a list of ``{at, set|add|clamp|release}``).

    Raises
    ------
    ModelValidationError
        With every structural problem, located as ``protocol[1].set.Ag``.
    """
    reader = _Reader(None)
    steps = reader.steps(raw, location)
    if reader.issues:
        raise ModelValidationError(f"{len(reader.issues)} error(s) in the protocol", reader.issues)
    return steps


def protocol_steps(model: Model, protocol: ProtocolLike) -> tuple[Step, ...]:
    """The steps meant by ``protocol`` (None: the model's default protocol, if any).

    Raises
    ------
    ModelError
        For an unknown protocol name (with the model's protocol names).
    """
    if protocol is None:
        return model.get_protocol(model.default_protocol).steps if model.default_protocol else ()
    if isinstance(protocol, str):
        if protocol in ("", "none"):
            return ()
        try:
            return model.get_protocol(protocol).steps
        except KeyError:
            names = [p.id for p in model.protocols]
            close = difflib.get_close_matches(protocol, names, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"protocols: {', '.join(names) or 'none'}"
            raise ModelError(f"model '{model.id}' has no protocol '{protocol}'", hint=hint) from None
    if isinstance(protocol, Protocol):
        return protocol.steps
    if all(isinstance(step, Step) for step in protocol):
        return tuple(protocol)  # type: ignore[arg-type]
    return parse_steps(list(protocol))


def model_to_dict(model: Model) -> dict[str, Any]:
    """The TOML structure of a model (the inverse of :func:`model_from_dict`)."""
    data: dict[str, Any] = {"format": FORMAT, "id": model.id}
    for key in ("title", "cell_type", "description"):
        if getattr(model, key):
            data[key] = getattr(model, key)
    if model.references:
        data["references"] = list(model.references)
    data["units"] = {k: getattr(model.units, k) for k in _UNIT_KEYS}
    if not model.units_enforced:  # such text is not a model file: reading it refuses the key
        data["units_enforced"] = False
    data["compartments"] = {c.id: _fields(c, size=str(c.size)) for c in model.compartments}
    data["species"] = {
        s.id: _fields(
            s,
            initial=str(s.initial),
            compartment=s.compartment,
            molar_mass=None if s.molar_mass is None else str(s.molar_mass),
            boundary=s.boundary or None,
            variable=s.variable or None,
        )
        for s in model.species
    }
    data["parameters"] = {p.id: _parameter_dict(p) for p in model.parameters}
    data["reactions"] = [_fields(r, id=r.id, equation=r.equation, rate=r.rate) for r in model.reactions]
    data["observables"] = {o.id: _fields(o, expr=o.expr, unit=o.unit) for o in model.observables}
    if model.protocols:
        data["protocols"] = {
            p.id: _fields(p, steps=[_step_dict(s) for s in p.steps]) for p in model.protocols
        }
    if model.default_protocol:
        data["default_protocol"] = model.default_protocol
    if model.events:
        data["events"] = {e.id: _event_dict(e) for e in model.events}
    return data


def _event_dict(event: ModelEvent) -> dict[str, Any]:
    entry: dict[str, Any] = {"trigger": event.trigger, "assign": dict(event.assignments)}
    entry.update({key: getattr(event, key) for key in _EVENT_TEXT[1:] if getattr(event, key)})
    entry.update({key: False for key in _EVENT_FLAGS if not getattr(event, key)})
    return entry


def _step_dict(step: Step) -> dict[str, Any]:
    if step.action == "release":
        return {"at": str(step.at), "release": [step.target]}
    return {"at": str(step.at), step.action: {step.target: str(step.value)}}


def _fields(record: Any, **values: Any) -> dict[str, Any]:
    for key in ("label", "description"):
        if getattr(record, key, ""):
            values[key] = getattr(record, key)
    return {k: v for k, v in values.items() if v is not None}


def _parameter_dict(parameter: Parameter) -> dict[str, Any]:
    entry: dict[str, Any] = {"value": str(parameter.value)}
    for key in ("description", "source", "status"):
        if getattr(parameter, key):
            entry[key] = getattr(parameter, key)
    if parameter.estimate is not None:
        entry["estimate"] = {
            "bounds": [str(b) for b in parameter.estimate.bounds],
            "scale": parameter.estimate.scale,
        }
    return entry
