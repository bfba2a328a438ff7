"""Writing SBML for :mod:`degranulation.formats.sbml`: a :class:`~degranulation.network.Model`
→ an SBML Level 3 Version 2 document, every value in the model's coherent unit system."""

from __future__ import annotations

import re
from typing import Any, Final

import numpy as np
import sympy

from degranulation.errors import UnsupportedFeatureError
from degranulation.expressions import TIME_NAME, parse_expression, symbol
from degranulation.formats.sbml.math import MathFeature, ast_node, sympy_to_ast
from degranulation.formats.sbml.reader import ANNOTATION_NS, unused_id
from degranulation.formats.units import format_unit
from degranulation.network import Model, Species, UnitValue

_SBML_KINDS: Final = {
    "[substance]": "mole", "[length]": "metre", "[time]": "second", "[mass]": "kilogram",
    "[current]": "ampere", "[temperature]": "kelvin", "[luminosity]": "candela",
}  # fmt: skip


class Exporter:
    """Builds the libsbml document of a model, values in the model's coherent units."""

    def __init__(self, libsbml: Any, model: Model, protocol: Any) -> None:
        from degranulation.errors import ModelValidationError
        from degranulation.validation import find_issues

        errors = [issue for issue in find_issues(model) if issue.severity == "error"]
        if errors:
            raise ModelValidationError(f"model '{model.id}': {len(errors)} error(s)", errors)
        self.lib = libsbml
        self.model = model
        self._plan(protocol)
        self.document = libsbml.SBMLDocument(3, 2)
        self.sbml = self.document.createModel()
        self.sbml.setId(model.id)
        if model.title:
            self.sbml.setName(model.title)
        self.definitions: dict[str, str] = {}
        system = model.units
        self.volume = format_unit([(system.amount, 1), (system.concentration, -1)])
        self.sbml.setTimeUnits(self._units(system.time))
        self.sbml.setSubstanceUnits(self._units(system.amount))
        self.sbml.setExtentUnits(self._units(system.amount))
        self.sbml.setVolumeUnits(self._units(self.volume))
        self.sbml.setAnnotation(
            f'<degranulation:units xmlns:degranulation="{ANNOTATION_NS}" time="{_xml(system.time)}" '
            f'concentration="{_xml(system.concentration)}" amount="{_xml(system.amount)}"/>'
        )
        self._compartments()
        self._species()
        self._parameters()
        self._reactions()
        self._rate_rules()
        self._observables()
        self._events()
        self._state_events()

    def _plan(self, protocol: Any) -> None:
        """Sort the protocol's steps into initial values (time 0) and events (later)."""
        from degranulation.schema import protocol_steps
        from degranulation.values import internal_value

        model = self.model
        self.initial: dict[str, float] = {}  # species and parameters, internal values
        self.clamped: set[str] = set()
        self.events: dict[float, dict[str, tuple[str, float]]] = {}
        features = []
        for step in protocol_steps(model, protocol):
            at = model.units.magnitude(step.at.value, step.at.unit)
            value = internal_value(model, step.target, step.value) if step.value is not None else 0.0
            if at > 0:
                actions = self.events.setdefault(at, {})
                if step.action in ("clamp", "release") or step.target in actions:
                    features.append(f"'{step.action}' of '{step.target}' at {step.at}")
                actions[step.target] = (step.action, value)
            elif step.action == "add":
                self.initial[step.target] = max(self._initial(step.target) + value, 0.0)
            elif step.action == "release":
                self.clamped.discard(step.target)
            else:
                self.initial[step.target] = value
                if step.action == "clamp":
                    self.clamped.add(step.target)
        if features:
            raise UnsupportedFeatureError(
                f"model '{model.id}': SBML events cannot express these protocol steps: {'; '.join(features)}",
                features=features,
            )

    def _initial(self, name: str) -> float:
        from degranulation.values import internal_value

        if name in self.initial:
            return self.initial[name]
        record = self.model.by_id[name]
        value = record.initial if isinstance(record, Species) else self.model.get_parameter(name).value
        return internal_value(self.model, name, value)

    def _events(self) -> None:
        """Each later protocol time as one event (``time >= t``) with all its steps."""
        targets = {target for actions in self.events.values() for target in actions}
        for parameter in self.sbml.getListOfParameters():
            if parameter.getId() in targets:
                parameter.setConstant(False)
        ids = set(self.model.by_id) | {r.id for r in self.model.reactions}
        for number, (at, actions) in enumerate(sorted(self.events.items()), start=1):
            event = self.sbml.createEvent()
            event.setId(unused_id(f"protocol_step_{number}", ids))
            event.setUseValuesFromTriggerTime(True)
            trigger = event.createTrigger()
            trigger.setInitialValue(True)
            trigger.setPersistent(True)
            time = sympy_to_ast(symbol(TIME_NAME))
            trigger.setMath(ast_node(self.lib.AST_RELATIONAL_GEQ, time, sympy_to_ast(sympy.Float(at))))
            for target, (action, value) in actions.items():
                expr = sympy.Float(value)
                if action == "add":  # as the simulator adds: never below zero
                    expr = sympy.Max(symbol(target) + expr, sympy.Integer(0))
                assignment = event.createEventAssignment()
                assignment.setVariable(target)
                assignment.setMath(sympy_to_ast(expr))

    def _state_events(self) -> None:
        """The model's own events, as they are (SBML's event semantics are theirs)."""
        from degranulation.expressions import parse_condition

        ids = set(self.model.by_id) | {r.id for r in self.model.reactions}
        ids |= {e.getId() for e in self.sbml.getListOfEvents()}
        for record in self.model.events:
            where = f"events.{record.id}"
            event = self.sbml.createEvent()
            event.setId(unused_id(record.id, ids))
            ids.add(event.getId())
            event.setUseValuesFromTriggerTime(record.use_values_from_trigger_time)
            trigger = event.createTrigger()
            trigger.setInitialValue(record.initial_value)
            trigger.setPersistent(record.persistent)
            trigger.setMath(self._math(parse_condition(record.trigger).expr, f"{where}.trigger"))
            if record.delay:
                event.createDelay().setMath(self._math(parse_expression(record.delay).expr, f"{where}.delay"))
            if record.priority:
                priority = parse_expression(record.priority).expr
                event.createPriority().setMath(self._math(priority, f"{where}.priority"))
            for target, text in record.assignments:
                assignment = event.createEventAssignment()
                assignment.setVariable(target)
                assignment.setMath(self._math(parse_expression(text).expr, f"{where}.assign.{target}"))

    def _coherent(self, dimension: Any) -> str:
        """Unit text of a dimension in the coherent system (what internal values are in),
        written with the model's amount, concentration and time units."""
        from degranulation.formats.units import BASE_DIMENSIONS

        system = self.model.units
        powers = dict(dimension)
        per_volume = -powers.get("[length]", 0) / 3  # substance^a length^l = amount^(a-c) concentration^c
        parts = [
            (system.amount, powers.get("[substance]", 0) - per_volume),
            (system.concentration, per_volume),
            (system.time, powers.get("[time]", 0)),
        ]
        parts += [(_SI_TEXT[d], powers.get(d, 0)) for d in BASE_DIMENSIONS[3:]]
        return format_unit(parts)

    def _units(self, text: str) -> str:
        """The id of a unit definition for pint unit ``text`` (made on first use)."""
        from degranulation.units import registry

        if text == "dimensionless":
            return "dimensionless"
        if text in self.definitions:
            return self.definitions[text]
        base = registry().Quantity(1.0, text).to_base_units()
        magnitude = float(np.asarray(base.magnitude))
        uid = unused_id(
            "u_" + re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_"), set(self.definitions.values())
        )
        definition = self.sbml.createUnitDefinition()
        definition.setId(uid)
        definition.setName(text)
        dimension = {str(d): float(p) for d, p in dict(base.dimensionality).items()}  # type: ignore[arg-type]
        powers = [(kind, dimension.get(d, 0.0)) for d, kind in _SBML_KINDS.items()]
        powers = [(kind, p) for kind, p in powers if p] or [("dimensionless", 1.0)]
        for index, (kind, power) in enumerate(powers):
            unit = definition.createUnit()
            unit.setKind(self.lib.UnitKind_forName(kind))
            unit.setExponent(power)
            unit.setScale(0)
            unit.setMultiplier(magnitude ** (1 / power) if index == 0 else 1.0)
        self.definitions[text] = uid
        return uid

    def _value(self, name: str, value: UnitValue) -> tuple[float, str]:
        """A value in the coherent system, and the id of its unit definition."""
        from degranulation.values import internal_value, name_dimension

        return internal_value(self.model, name, value), self._units(
            self._coherent(name_dimension(self.model, name))
        )

    def _compartments(self) -> None:
        from degranulation.dimensions import compartment_dimension, spatial_dimensions

        for record in self.model.compartments:
            size, units = self._value(record.id, record.size)
            spatial = spatial_dimensions(compartment_dimension(record))
            self._compartment(record.id, size, units, record.label, 3 if spatial is None else spatial)
        if any(s.compartment is None and not s.variable for s in self.model.species):
            self.default_compartment = unused_id("default_compartment", set(self.model.by_id))
            self._compartment(
                self.default_compartment,
                1.0,
                self._units(self.volume),
                "holds the species that have no compartment (amounts only)",
            )

    def _compartment(self, cid: str, size: float, units: str, name: str, spatial: int = 3) -> None:
        """A compartment of ``spatial`` dimensions; one of 0 has no size (nor units), as
        SBML Level 2 requires and :mod:`degranulation.formats.sbml.reader` reads it."""
        compartment = self.sbml.createCompartment()
        compartment.setId(cid)
        compartment.setName(name)
        compartment.setSpatialDimensions(spatial)
        if spatial:
            compartment.setSize(size)
            compartment.setUnits(units)
        compartment.setConstant(True)

    def _species(self) -> None:
        from degranulation.dimensions import dims, species_dimension

        for record in self.model.species:
            if record.variable:
                continue  # a parameter with a rate rule (see _parameters)
            value = self._initial(record.id)
            species = self.sbml.createSpecies()
            species.setId(record.id)
            species.setName(record.label)
            species.setCompartment(record.compartment or self.default_compartment)
            species.setSubstanceUnits(self._units(self.model.units.amount))
            is_amount = species_dimension(record) == dims(substance=1)
            species.setHasOnlySubstanceUnits(is_amount)
            if is_amount:
                species.setInitialAmount(value)
            else:
                species.setInitialConcentration(value)
            species.setBoundaryCondition(record.boundary or record.id in self.clamped)
            species.setConstant(False)

    def _parameters(self) -> None:
        for record in self.model.parameters:
            self._parameter(record.id, record.value, constant=True)
        for variable in (s for s in self.model.species if s.variable):
            self._parameter(variable.id, variable.initial, constant=False).setName(variable.label)

    def _parameter(self, name: str, value: UnitValue, *, constant: bool) -> Any:
        _, units = self._value(name, value)
        parameter = self.sbml.createParameter()
        parameter.setId(name)
        parameter.setValue(self._initial(name))
        parameter.setUnits(units)
        parameter.setConstant(constant)
        return parameter

    def _reactions(self) -> None:
        from degranulation.kinetics import rate_law, symbol_dimensions

        table = symbol_dimensions(self.model)
        species = {s.id for s in self.model.species if not s.variable}
        for index, record in enumerate(self.model.reactions):
            if {name for name, _ in record.products} - species:
                continue  # a model variable's rate: written as its rate rule
            expr = rate_law(self.model, index, table).expr
            reaction = self.sbml.createReaction()
            reaction.setId(record.id)
            reaction.setName(record.label)
            reaction.setReversible(record.reversible)
            for name, coefficient in record.reactants:
                _reference(reaction.createReactant(), name, coefficient)
            for name, coefficient in record.products:
                _reference(reaction.createProduct(), name, coefficient)
            listed = {name for name, _ in (*record.reactants, *record.products)}
            for name in sorted({s.name for s in expr.free_symbols} & species - listed):
                reaction.createModifier().setSpecies(name)
            reaction.createKineticLaw().setMath(self._math(expr, f"reactions[{index}].rate"))

    def _rate_rules(self) -> None:
        """Each model variable's rate (the sum of its reactions ``0 -> x``) as its rate rule,
        which takes the reaction's id when there is one; a variable clamped at the start has
        none (it stays at its value)."""
        from degranulation.kinetics import rate_law, symbol_dimensions

        table = symbol_dimensions(self.model)
        for variable in (s for s in self.model.species if s.variable and s.id not in self.clamped):
            indices = [j for j, r in enumerate(self.model.reactions) if r.products == ((variable.id, 1),)]
            if not indices:
                continue
            rule = self.sbml.createRateRule()
            rule.setVariable(variable.id)
            if len(indices) == 1:
                rule.setIdAttribute(self.model.reactions[indices[0]].id)
            expr = sympy.Add(*(rate_law(self.model, j, table).expr for j in indices))
            rule.setMath(self._math(expr, f"reactions[{indices[0]}].rate"))

    def _observables(self) -> None:
        from degranulation.kinetics import expression_dimension, symbol_dimensions

        table = symbol_dimensions(self.model)
        for record in self.model.observables:
            expr = parse_expression(record.expr).expr
            parameter = self.sbml.createParameter()
            parameter.setId(record.id)
            parameter.setName(record.description)
            parameter.setUnits(self._units(self._coherent(expression_dimension(expr, table))))
            parameter.setConstant(False)
            rule = self.sbml.createAssignmentRule()
            rule.setVariable(record.id)
            rule.setMath(self._math(expr, f"observables.{record.id}.expr"))

    def _math(self, expr: Any, location: str) -> Any:
        try:
            return sympy_to_ast(expr)
        except MathFeature as exc:
            raise UnsupportedFeatureError(f"{location}: {exc}", features=[str(exc)]) from None


_SI_TEXT: Final = {"[mass]": "kg", "[current]": "A", "[temperature]": "K", "[luminosity]": "cd"}


def _reference(reference: Any, species: str, coefficient: float) -> None:
    reference.setSpecies(species)
    reference.setStoichiometry(coefficient)
    reference.setConstant(True)


def _xml(text: str) -> str:
    from xml.sax.saxutils import quoteattr

    return quoteattr(text)[1:-1]
