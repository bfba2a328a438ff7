"""Protocols: steps that change a simulation's inputs at given times (add or wash out antigen,
add an inhibitor, clamp Ca²⁺, reset a readout), resolved into numeric events in model units.

A protocol is given by name (declared in the model file), as the model file's structure
(``[{"at": "5 min", "set": {"Ag": "0 nM"}}]``), or as :class:`~degranulation.network.Step`
records. The solver is restarted at every step time, so each discontinuity is exact.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from degranulation.errors import ModelError, UnitError
from degranulation.network import Model, Parameter, Species, Step, StepAction
from degranulation.schema import ProtocolLike as ProtocolLike
from degranulation.schema import protocol_steps as protocol_steps

if TYPE_CHECKING:
    from degranulation.codegen import CompiledOde


@dataclass(frozen=True)
class Event:
    """A resolved step: at time ``t`` (model units) apply ``action`` to state or parameter ``index``."""

    t: float
    action: StepAction
    is_species: bool
    index: int
    value: float


def resolve(model: Model, compiled: CompiledOde, steps: Sequence[Step]) -> tuple[Event, ...]:
    """Numeric events, sorted by time (steps at the same time keep their order).

    Raises
    ------
    ModelError, UnitError
        For unknown targets, wrong actions for a target, or values and times with wrong units.
    """
    if not steps:
        return ()  # the usual run: no need to import the checks (and SymPy) below
    from degranulation.units import dimensionality
    from degranulation.values import check_value, internal_value

    species = {name: i for i, name in enumerate(compiled.species)}
    parameters = {name: k for k, name in enumerate(compiled.parameters)}
    events = []
    for number, step in enumerate(steps):
        where = f"protocol[{number}]"
        if dict(dimensionality(step.at.unit)) != {"[time]": 1}:
            raise UnitError(
                f"step time '{step.at}' is not a time", location=f"{where}.at", hint="write e.g. '5 min'"
            )
        t = model.units.magnitude(step.at.value, step.at.unit)
        if not np.isfinite(t) or t < 0:
            raise UnitError(f"step time '{step.at}' must be finite and >= 0", location=f"{where}.at")
        record = model.by_id.get(step.target)
        is_species = isinstance(record, Species)
        if not is_species and not (step.action == "set" and step.target in parameters):
            raise _bad_target(model, step, where, species, parameters)
        value = 0.0
        if step.value is not None:
            try:
                value = internal_value(model, step.target, step.value)
            except UnitError as exc:
                raise UnitError(
                    exc.message, location=f"{where}.{step.action}.{step.target}", hint=exc.hint
                ) from None
            if step.action == "set":  # an added amount may be negative: it removes
                check_value(model, step.target, value, str(step.value), f"{where}.set.{step.target}")
        index = species[step.target] if is_species else parameters[step.target]
        events.append(Event(t, step.action, is_species, index, value))
    return tuple(sorted(events, key=lambda e: e.t))


def _bad_target(
    model: Model, step: Step, where: str, species: dict[str, int], parameters: dict[str, int]
) -> ModelError:
    record = model.by_id.get(step.target)
    if isinstance(record, Parameter) or step.target in parameters:
        return ModelError(
            f"'{step.action}' applies to species; '{step.target}' is a parameter",
            location=f"{where}.{step.action}",
            hint=f"use set = {{ {step.target} = ... }}",
        )
    names = list(species) + (list(parameters) if step.action == "set" else [])
    close = difflib.get_close_matches(step.target, names, n=1)
    hint = f"did you mean '{close[0]}'?" if close else "name a species (or, for set, a parameter)"
    return ModelError(
        f"unknown {step.action} target '{step.target}'", location=f"{where}.{step.action}", hint=hint
    )


def apply(events: Sequence[Event], x: np.ndarray, p: np.ndarray, frozen: np.ndarray) -> None:
    """Apply events (all at one time) to the state, parameters and clamp mask, in place."""
    for event in events:
        if not event.is_species:
            p[event.index] = event.value
        elif event.action == "add":
            x[event.index] = max(x[event.index] + event.value, 0.0)
        elif event.action == "release":
            frozen[event.index] = False
        else:
            x[event.index] = event.value
            frozen[event.index] = frozen[event.index] or event.action == "clamp"
