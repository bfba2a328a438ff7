"""Reading SBML for :mod:`degranulation.formats.sbml`: an SBML document → a
:class:`~degranulation.network.Model`, every construct it cannot hold collected into one
:class:`~degranulation.errors.UnsupportedFeatureError` (the mapping is in
:mod:`degranulation.formats.sbml`'s docstring)."""

from __future__ import annotations

import dataclasses
import keyword
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Final

import numpy as np
import sympy
from sympy.printing.str import StrPrinter

from degranulation.dimensions import SIZE_NAMES
from degranulation.errors import ExpressionError, ModelFileError, UnsupportedFeatureError
from degranulation.expressions import (
    FUNCTIONS,
    MASS_ACTION,
    RESERVED,
    TIME_NAME,
    parse_condition,
    parse_expression,
    symbol,
)
from degranulation.formats.sbml.document import SbmlImport
from degranulation.formats.sbml.math import (
    MathFeature,
    ast_to_text,
    check_math,
    names_in,
    with_booleans_swapped,
)
from degranulation.formats.units import (
    Unit,
    UnitInference,
    UnitProblem,
    format_unit,
    pint_named,
    unit_from_reference,
    unit_from_vector,
    warn_units,
)
from degranulation.limits import MAX_STOICHIOMETRY
from degranulation.network import (
    Compartment,
    Model,
    ModelEvent,
    Observable,
    Parameter,
    Protocol,
    Reaction,
    Species,
    Step,
    StepAction,
    UnitValue,
    coefficient_number,
    exact,
)
from degranulation.units import UnitSystem

#: An SBML id this reader cannot take for a record (its unit table uses it for time).
TIME_NAME_SBML: Final = "time"
_CONVERTERS: Final = ("promoteLocalParameters", "expandFunctionDefinitions")
_TAKEN: Final = frozenset(RESERVED) | set(FUNCTIONS) | {MASS_ACTION} | set(keyword.kwlist)
#: Where :mod:`degranulation.formats.sbml.writer` records the model's unit system.
ANNOTATION_NS: Final = "https://degranulation.readthedocs.io/sbml/units"
#: Packages that add no math (diagrams, extended math that the math check covers): ignored.
_GRAPHICAL_PACKAGES: Final = frozenset({"l3v2extendedmath", "layout", "render"})
#: The dimension vector (substance, length, time) of each kind of unit.
_DIMENSIONS: Final = {
    "substance": (1, 0, 0),
    "volume": (0, 3, 0),
    "area": (0, 2, 0),
    "length": (0, 1, 0),
    "time": (0, 0, 1),
}
#: Name of the protocol that holds an SBML file's events.
_EVENTS: Final = "sbml_events"


class Importer:
    """Builds the model, collecting every unsupported construct on the way."""

    def __init__(
        self,
        libsbml: Any,
        document: Any,
        file: str,
        *,
        strict_units: bool = False,
        events_as_steps: bool = True,
    ) -> None:
        self.lib = libsbml
        self.events_as_steps = events_as_steps  # False: fixed-time events are ModelEvents too
        self.document = document
        self.file = file
        self.features: list[str] = []
        self.strict_units = strict_units
        # units that disagree, when not strict: the model takes SBML's numbers as written
        self.unit_notes: list[str] = []
        self.features += list(self._packages(self._flatten()))
        _drop_missing_math(document.getModel())
        self.initial_assignments = [a.getSymbol() for a in document.getModel().getListOfInitialAssignments()]
        check_math(document.getModel(), file)  # before libsbml inlines function definitions
        self._convert()
        self.sbml = document.getModel()
        self.ids = self._rename()
        self.values: dict[str, str] = {}  # SBML ids replaced by text (stoichiometries, rules)
        self.units: dict[str, Unit] = {}
        self.rules = {
            r.getVariable(): r
            for r in self.sbml.getListOfRules()
            if r.isAssignment() and self._ruled(r.getVariable())
        }
        self.rate_rules = {
            r.getVariable(): r
            for r in self.sbml.getListOfRules()
            if r.isRate() and self._ruled(r.getVariable())
        }
        self.varying = self._varying_compartments()
        self.sizes: list[Species] = []  # compartment sizes that are model variables
        self.amounts: dict[str, str] = {}  # varying compartment -> its species' compartment
        # species in a varying compartment, held as amounts: SBML id -> the amount's model id
        self.held: dict[str, str] = {}
        self.held_units: dict[str, Unit] = {}  # model id of a held amount -> its unit
        self.variable_rates: dict[str, str] = {}  # reaction id -> the parameter its rate rule sets
        # what SBML math may name (reaction ids are rates in SBML, which expressions lack)
        self.names = {sid: new for sid, new in self.ids.items() if self.sbml.getReaction(sid) is None}
        self.rule_exprs: dict[str, Any] = {}
        # kinetic laws of reactions whose ids math uses (SBML: the id is the reaction's rate)
        self.laws: dict[str, tuple[str, Any]] = {}
        self.reacting = {  # species that reactions change
            reference.getSpecies()
            for reaction in self.sbml.getListOfReactions()
            for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts())
        }
        self.taken = set(self.ids.values())  # model ids, and ids made up for the model
        # numbers in math: placeholder -> (text, value, where, is_scale); see _math
        self.numbers: dict[str, tuple[str, float, str, bool]] = {}
        self.constants: list[Parameter] = []  # numbers that carry a unit

    def run(self) -> SbmlImport:
        self.features += list(self._unsupported_constructs())
        system = self._unit_system()
        compartments = list(self._compartments())
        species = list(self._species())
        parameters = self._parameters()
        self._stoichiometries()
        rules = self._assignment_rules()
        reactions = list(self._reactions()) + list(self._rate_rules())
        fixed = self.events_as_steps and self._at_fixed_times()
        events = [] if fixed else list(self._event_math())
        unknown = self._infer_units(reactions, rules, events)
        if self.unit_notes:
            unknown = self._as_written(unknown)
        self.units.update({sid: unit for sid, unit in unknown.items() if sid not in self.numbers})
        steps = self._events() if fixed else []
        if self.features:
            raise UnsupportedFeatureError(
                f"{len(self.features)} SBML construct(s) cannot be represented: " + "; ".join(self.features),
                features=self.features,
                file=self.file,
            )
        literal = self._numbers(unknown)
        protocols = (Protocol(_EVENTS, tuple(steps), "the SBML file's events"),) if steps else ()
        species += [self._variable(p, unknown) for p in parameters if p.getId() in self.rate_rules]
        species += self.sizes
        states = {s.id for s in species}
        model = Model(
            id=_identifier(self.sbml.getId() or Path(self.file).stem),
            title=self.sbml.getName(),
            description=f"Imported from SBML Level {self.sbml.getLevel()} Version {self.sbml.getVersion()}.",
            units=system,
            compartments=tuple(compartments),
            species=tuple(species),
            parameters=tuple(
                self._parameter(p, unknown) for p in parameters if p.getId() not in self.rate_rules
            )
            + tuple(self.constants),
            reactions=tuple(
                dataclasses.replace(
                    r,
                    rate=literal(r.rate)
                    if r.id in self.variable_rates
                    else _mass_action(r, literal(r.rate), states),
                )
                for r, _ in reactions
            ),
            observables=tuple(self._observable(sid, unknown, literal) for sid in rules)
            + tuple(self._concentration(sid, literal) for sid in self.held if sid in self.values),
            protocols=protocols,
            default_protocol=_EVENTS if steps else "",
            events=tuple(event.record(literal) for event in events),
            source=self.file,
            units_enforced=not self.unit_notes,
        )
        if self.unit_notes:
            warn_units(self.file, self.unit_notes)
        compartments_of = {s.getId(): s.getCompartment() for s in self.sbml.getListOfSpecies()}
        return SbmlImport(model, dict(self.ids), dict(self.units), compartments_of)

    # -- structure ---------------------------------------------------------------------------

    def _flatten(self) -> str:
        """A hierarchical model (the 'comp' package) becomes the one flat model it stands for,
        by libsbml's flattening converter; returns why it could not ("" when it could)."""
        if self.document.getPlugin("comp") is None:
            return ""
        properties = self.lib.ConversionProperties()
        properties.addOption("flatten comp", True)
        if self.document.convert(properties) == self.lib.LIBSBML_OPERATION_SUCCESS:
            return ""
        errors = self.document.getErrorLog()
        reasons = {
            " ".join(error.getShortMessage().split())
            for error in (errors.getError(i) for i in range(errors.getNumErrors()))
            if error.getSeverity() >= self.lib.LIBSBML_SEV_ERROR
        }
        return "; ".join(sorted(reasons)) or "libsbml could not flatten it"

    def _packages(self, unflattened: str) -> Iterator[str]:
        document = self.document
        for i in range(document.getNumPlugins()):
            name = document.getPlugin(i).getPackageName()
            if name not in _GRAPHICAL_PACKAGES:
                yield f"SBML package '{name}'" + (f" ({unflattened})" if name == "comp" else "")
        for i in range(document.getNumUnknownPackages()):
            yield f"SBML package '{document.getUnknownPackagePrefix(i)}'"

    def _convert(self) -> None:
        """Local parameters become global, function calls are inlined, and initial
        assignments are evaluated into values, by libsbml (its converters and transforms)."""
        model = self.document.getModel()
        needed = {
            "promoteLocalParameters": any(
                r.getKineticLaw() is not None and r.getKineticLaw().getNumParameters()
                for r in model.getListOfReactions()
            ),
            "expandFunctionDefinitions": model.getNumFunctionDefinitions() > 0,
        }
        for option in (o for o in _CONVERTERS if needed[o]):
            properties = self.lib.ConversionProperties()
            properties.addOption(option, True)
            if self.document.convert(properties) != self.lib.LIBSBML_OPERATION_SUCCESS:
                self.features.append(f"libsbml could not apply '{option}'")
        model = self.document.getModel()
        _swap_booleans(model)
        constant = _constant_assignments(self.lib, model)
        # What the 'expandInitialAssignments' converter does, without its full (and, for
        # large networks, slow) consistency check: the file was read without errors.
        if model.getNumInitialAssignments():
            self.lib.SBMLTransforms.expandInitialAssignments(model)
        for target, formula in constant.items():
            # A constant parameter assigned from constants at t0 equals that math at all times:
            # kept as a rule, it follows a value set later (by a user or a PEtab condition),
            # as SBML's initial assignment does, where a number taken at load would not.
            rule = model.createAssignmentRule()
            rule.setVariable(target)
            rule.setMath(formula)
            model.getParameter(target).setConstant(False)
        _constant_stoichiometries(self.lib, model)
        for target in self.initial_assignments:
            if model.getInitialAssignment(target) is not None:
                self.features.append(f"initial assignment to '{target}' that cannot be evaluated at load")

    def _rename(self) -> dict[str, str]:
        model = self.sbml
        records = [
            *model.getListOfCompartments(),
            *model.getListOfSpecies(),
            *model.getListOfParameters(),
            *model.getListOfReactions(),
        ]
        original = {r.getId() for r in records}
        # SbmlImport.units["time"] is the time unit: a species, compartment or reaction 'time'
        # would take its place (a parameter 'time' imports, SBML test case 01820).
        clash = [r for r in records if r.getId() == TIME_NAME_SBML and r.getElementName() != "parameter"]
        if clash:
            record = clash[0]
            raise ModelFileError(
                f"the {record.getElementName()} id 'time' is not supported",
                file=self.file,
                location=f"line {record.getLine()}: {record.getElementName()} 'time'",
                hint="rename it in the SBML file (e.g. to 'time_'); time itself is MathML's csymbol",
            )
        ids: dict[str, str] = {}
        for sid in (r.getId() for r in records):
            new = f"u{sid}" if sid.startswith("__") else sid  # a valid SId; our names may not start so
            while new in _TAKEN or (new != sid and new in original | set(ids.values())):
                new = f"{new}_"
            ids[sid] = new
        return ids

    def _ruled(self, sid: str) -> bool:
        """Whether a rule for ``sid`` can be held: one for a species, parameter or compartment."""
        model = self.sbml
        return any(
            get(sid) is not None for get in (model.getSpecies, model.getParameter, model.getCompartment)
        )

    def _varying_compartments(self) -> set[str]:
        """Compartments whose size a rule or an event changes: each becomes a model variable
        (a rate rule, an event) or an observable (an assignment rule), see :meth:`_varying`."""
        targets = {
            a.getVariable() for e in self.sbml.getListOfEvents() for a in e.getListOfEventAssignments()
        }
        return {
            c.getId()
            for c in self.sbml.getListOfCompartments()
            if c.getId() in targets or c.getId() in self.rules or c.getId() in self.rate_rules
        }

    def _unsupported_constructs(self) -> Iterator[str]:
        model = self.sbml
        ruled: set[str] = set()
        for rule in model.getListOfRules():
            variable = rule.getVariable()
            if variable and variable in ruled:
                yield f"more than one rule for '{variable}' (which SBML does not allow)"
            ruled.add(variable)
            if rule.isAlgebraic():
                yield "algebraic rule"
            elif rule.isRate() and not self._ruled(variable):
                yield f"rate rule for {_kind(model, variable)} '{variable}'"
            elif rule.isAssignment() and not self._ruled(variable):
                yield f"assignment rule for {_kind(model, variable)} '{variable}'"
        if model.getNumConstraints():
            yield f"{model.getNumConstraints()} constraint(s)"
        if model.isSetConversionFactor():
            yield "model conversion factor"
        for species in model.getListOfSpecies():
            if species.isSetConversionFactor():
                yield f"conversion factor of species '{species.getId()}'"
        for reaction in model.getListOfReactions():
            if reaction.isSetFast() and reaction.getFast():
                yield f"fast reaction '{reaction.getId()}'"

    # -- units -------------------------------------------------------------------------------

    def _unit(self, reference: str, default: Unit, dimension: str, what: str) -> Unit:
        try:
            unit = unit_from_reference(self.sbml, reference) or default
            vector = unit.vector()
        except UnitProblem as exc:
            self._disagree(f"{exc} ({what})", f"'{default}'")
            return default
        expected = _DIMENSIONS[dimension]
        if tuple(vector[1:4]) != expected or any(vector[4:]):
            article = "an" if dimension[0] in "aeiou" else "a"
            self._disagree(f"{what} in '{unit}', which is not {article} {dimension} unit", f"'{default}'")
            return default
        return pint_named(unit)

    def _disagree(self, problem: str, used: str) -> None:
        """A unit problem: refused with ``strict_units``, else noted and ``used`` instead."""
        if self.strict_units:
            self.features.append(problem)
        else:
            self.unit_notes.append(f"{problem}: its numbers are taken in {used}")

    def _unit_system(self) -> UnitSystem:
        model = self.sbml
        level3 = model.getLevel() >= 3
        mol, litre, second = Unit(1.0, "mol"), Unit(1.0, "L"), Unit(1.0, "s")
        self.substance = self._unit(
            model.getSubstanceUnits() if level3 else "substance", mol, "substance", "model substance units"
        )
        self.volume = self._unit(
            model.getVolumeUnits() if level3 else "volume", litre, "volume", "model volume units"
        )
        self.time = self._unit(model.getTimeUnits() if level3 else "time", second, "time", "model time units")
        self.extent = (
            self._unit(model.getExtentUnits(), self.substance, "substance", "model extent units")
            if level3
            else self.substance
        )
        self.rate_unit = Unit(
            self.extent.factor / self.time.factor, format_unit([(self.extent.text, 1), (self.time.text, -1)])
        )
        self.units["time"] = self.time
        written = self._annotated_units()
        if written is not None:
            return written
        concentration = format_unit([(self.substance.text, 1), (self.volume.text, -1)])
        return UnitSystem(time=self.time.text, concentration=concentration, amount=self.substance.text)

    def _annotated_units(self) -> UnitSystem | None:
        """The unit system :func:`write_sbml` records, when it is valid (it only sets the units
        the ODEs are solved in, so a stale one cannot change the model)."""
        annotation = self.sbml.getAnnotation()
        for i in range(annotation.getNumChildren() if annotation is not None else 0):
            node = annotation.getChild(i)
            if node.getURI() == ANNOTATION_NS:
                fields = {k: node.getAttrValue(k) for k in ("time", "concentration", "amount")}
                try:
                    system = UnitSystem(**fields)
                    system.check()
                except (ValueError, TypeError):
                    return None
                return system
        return None

    # -- records -----------------------------------------------------------------------------

    def _compartments(self) -> Iterator[Compartment]:
        for compartment in self.sbml.getListOfCompartments():
            cid = compartment.getId()
            where = f"compartment '{cid}'"
            if _sizeless(compartment):
                if cid in self.varying:
                    self.features.append(
                        f"{where} has 0 spatial dimensions, no size, and a size that changes"
                    )
                yield self._point(compartment)
                continue
            if not compartment.isSetSize() and cid not in self.rules:
                self.features.append(f"{where} has no size")
            dimensions = _spatial_dimensions(compartment)
            size = (
                SIZE_NAMES[int(dimensions)] if dimensions in SIZE_NAMES else self._declared_size(compartment)
            )
            unit = self._unit(compartment.getUnits(), self._size_unit(size), size, where)
            self.units[cid] = unit
            if cid in self.varying:
                yield from self._varying(compartment, unit)
                continue
            yield Compartment(
                self.ids[cid],
                UnitValue(compartment.getSize() * unit.factor, unit.text),
                label=compartment.getName(),
            )

    def _varying(self, compartment: Any, unit: Unit) -> Iterator[Compartment]:
        """A compartment whose size changes: its size is a model variable (``self.sizes``; a
        rate rule's or an event's) or an observable (an assignment rule's), and its species are
        held as amounts in a compartment without a size, ``<id>_amounts`` (``self.amounts``):
        SBML's reactions change amounts, so a concentration is its amount over the size."""
        cid = compartment.getId()
        if cid not in self.rules:
            self.sizes.append(
                Species(
                    self.ids[cid],
                    UnitValue(compartment.getSize() * unit.factor, unit.text),
                    label=compartment.getName(),
                    description=f"size of SBML compartment '{cid}'",
                    variable=True,
                )
            )
        if any(s.getCompartment() == cid for s in self.sbml.getListOfSpecies()):
            self.amounts[cid] = unused_id(f"{self.ids[cid]}_amounts", self.taken)
            self.taken.add(self.amounts[cid])
            yield Compartment(
                self.amounts[cid],
                UnitValue(1.0, "dimensionless"),
                description=f"amounts of the species in SBML compartment '{cid}', whose size changes",
            )

    def _point(self, compartment: Any) -> Compartment:
        """A compartment of 0 spatial dimensions without a size: its species are amounts, and
        its size is ``1 dimensionless`` (see :mod:`degranulation.dimensions`)."""
        self.units[compartment.getId()] = Unit(1.0, "dimensionless")
        return Compartment(
            self.ids[compartment.getId()], UnitValue(1.0, "dimensionless"), label=compartment.getName()
        )

    def _declared_size(self, compartment: Any) -> str:
        """What the size of a compartment of other than 1, 2 or 3 spatial dimensions (0 with a
        size, 7, 2.7) is: in SBML Level 3 they do not change the math, so its size is the number
        given, a volume unless its declared unit is an area or a length."""
        try:
            unit = unit_from_reference(self.sbml, compartment.getUnits())
            vector = unit.vector() if unit is not None else None
        except UnitProblem:
            return "volume"  # reported where the unit is read
        for size in ("area", "length"):
            if vector is not None and tuple(vector[1:4]) == _DIMENSIONS[size] and not any(vector[4:]):
                return size
        return "volume"

    def _size_unit(self, size: str) -> Unit:
        """The model's unit of a compartment ``size`` ("volume", "area" or "length"): Level 3's
        ``volumeUnits``, ``areaUnits``, ``lengthUnits``, Level 2's built-in units."""
        if size == "volume":
            return self.volume
        model = self.sbml
        level3 = model.getLevel() >= 3
        reference = (model.getAreaUnits() if size == "area" else model.getLengthUnits()) if level3 else size
        default = Unit(1.0, "m**2" if size == "area" else "m")
        return self._unit(reference, default, size, f"model {size} units")

    def _species(self) -> Iterator[Species]:
        model = self.sbml
        for species in model.getListOfSpecies():
            sid = species.getId()
            where = f"species '{sid}'"
            compartment = model.getCompartment(species.getCompartment())
            volume = self.units[compartment.getId()]
            substance = self._unit(
                species.getSubstanceUnits() or ("" if model.getLevel() >= 3 else "substance"),
                self.substance,
                "substance",
                where,
            )
            if sid in self.reacting and not np.allclose(substance.vector(), self.extent.vector(), atol=1e-12):
                self._disagree(
                    f"{where} is in '{substance}' but reaction extents are in '{self.extent}' "
                    "(SBML would need a conversion factor)",
                    f"'{self.extent}', the extent unit",
                )
                substance = self.extent  # without a conversion factor SBML adds extents as they are
            point = _sizeless(compartment)
            size = 1.0 if point else compartment.getSize()  # without a size any number is an amount
            if species.isSetInitialAmount():
                amount = species.getInitialAmount()
            elif species.isSetInitialConcentration():
                amount = species.getInitialConcentration() * size
            else:
                amount = None
                if sid not in self.rules:
                    self.features.append(f"{where} has no initial value")
            if species.getHasOnlySubstanceUnits() or point:  # without a size, amounts
                unit, value = substance, amount
            else:
                unit = Unit(
                    substance.factor / volume.factor, format_unit([(substance.text, 1), (volume.text, -1)])
                )
                value = None if amount is None else amount / size
            self.units[sid] = unit
            if sid in self.rules:
                continue  # an observable, not a state
            if compartment.getId() in self.varying:
                yield self._held(species, amount, substance)
                continue
            yield Species(
                self.ids[sid],
                UnitValue((value or 0.0) * unit.factor, unit.text),
                compartment=self.ids[compartment.getId()],
                label=species.getName(),
                boundary=(species.getBoundaryCondition() or species.getConstant())
                and sid not in self.rate_rules,
            )

    def _held(self, species: Any, amount: float | None, substance: Unit) -> Species:
        """A species in a compartment whose size changes, as its amount (in ``<C>_amounts``, see
        :meth:`_varying`). Where SBML means its concentration (not ``hasOnlySubstanceUnits``),
        the state is ``<id>_amount`` and the species' symbol ``<id>_amount/C`` in all math
        (``self.values``; for a size an assignment rule sets, once that rule is read)."""
        sid, cid = species.getId(), species.getCompartment()
        state = self.ids[sid]
        if not species.getHasOnlySubstanceUnits():
            if cid in self.rules and not species.isSetInitialAmount():
                self.features.append(
                    f"species '{sid}' has an initial concentration in compartment '{cid}', "
                    "whose size an assignment rule sets"
                )
            state = unused_id(f"{self.ids[sid]}_amount", self.taken)
            self.taken.add(state)
            self.held[sid] = state
            if cid not in self.rules:
                self.values[sid] = f"{state}/{self.ids[cid]}"
        self.held_units[state] = substance
        return Species(
            state,
            UnitValue((amount or 0.0) * substance.factor, substance.text),
            compartment=self.amounts[cid],
            label=species.getName(),
            description=f"amount of SBML species '{sid}'" if state != self.ids[sid] else "",
            boundary=(species.getBoundaryCondition() or species.getConstant()) and sid not in self.rate_rules,
        )

    def _parameters(self) -> list[Any]:
        found = []
        for parameter in self.sbml.getListOfParameters():
            pid = parameter.getId()
            try:
                unit = unit_from_reference(self.sbml, parameter.getUnits())
            except UnitProblem as exc:
                self._disagree(f"{exc} (parameter '{pid}')", "the unit the rate laws give it")
                unit = None
            if unit is not None:
                self.units[pid] = unit
            if pid in self.rules:
                continue
            if not parameter.isSetValue():
                self.features.append(f"parameter '{pid}' has no value")
            elif not math.isfinite(parameter.getValue()):
                self.features.append(f"parameter '{pid}' has the value {parameter.getValue()}")
            found.append(parameter)
        return found

    def _parameter(self, parameter: Any, unknown: Mapping[str, Unit]) -> Parameter:
        pid = parameter.getId()
        unit = self.units.get(pid) or unknown[pid]
        self.units[pid] = unit
        name = parameter.getName()
        return Parameter(
            self.ids[pid],
            UnitValue(parameter.getValue() * unit.factor, unit.text),
            description=name if name != pid else "",
        )

    def _variable(self, parameter: Any, unknown: Mapping[str, Unit]) -> Species:
        """A parameter that a rate rule changes: a model variable (see ``Species.variable``)."""
        record = self._parameter(parameter, unknown)
        return Species(record.id, record.value, label=parameter.getName(), variable=True)

    def _stoichiometries(self) -> None:
        for reaction in self.sbml.getListOfReactions():
            for reference in (*reaction.getListOfReactants(), *reaction.getListOfProducts()):
                if reference.isSetId():
                    self.values[reference.getId()] = repr(float(reference.getStoichiometry()))

    def _math(
        self, node: Any, where: str, context: str, *, condition: bool = False
    ) -> tuple[str, Any] | None:
        """Expression text and SymPy for SBML math, or None (and a feature) if it has none.

        Each number becomes a placeholder named after ``context`` until units are inferred:
        a number that must carry a unit becomes a parameter of that name (see :meth:`_numbers`).
        """
        if node is None:
            self.features.append(f"{where} has no math")
            return None
        names = self.names

        def number(text: str, value: float, is_scale: bool) -> str:
            if value == 0:
                return text  # zero has every unit (and SymPy drops it from sums)
            kind = "unit" if is_scale else "value"
            placeholder = unused_id(f"{context}_{kind}{len(self.numbers) + 1}", self.taken)
            self.taken.add(placeholder)
            self.numbers[placeholder] = (text, value, where, is_scale)
            return placeholder

        try:
            text = ast_to_text(node, names, self.values, number, condition=condition)
            return text, (parse_condition(text) if condition else parse_expression(text)).expr
        except MathFeature as exc:
            self.features.append(f"{exc} ({where})")
        except ExpressionError as exc:
            self.features.append(f"{exc.message} ({where})")
        return None

    def _assignment_rules(self) -> list[str]:
        """Assignment rules in dependency order; each one's text is inlined where it is used,
        and so is the kinetic law of each reaction whose id math uses (its rate, in SBML)."""
        laws = {
            rid: reaction.getKineticLaw()
            for rid in self._reactions_in_math()
            if (reaction := self.sbml.getReaction(rid)) is not None
        }
        pending: dict[str, Any] = {**self.rules, **laws}
        done: list[str] = []
        # a held species' symbol is its amount over its compartment's size, that rule's math
        size_of = {sid: self.sbml.getSpecies(sid).getCompartment() for sid in self.held}
        while pending:
            ready = [
                v
                for v, element in pending.items()
                if not (
                    {size_of.get(n, n) for n in names_in(element.getMath() if element is not None else None)}
                    & set(pending) - {v}
                )
            ]
            if not ready:
                self.features.append(
                    f"assignment rules for {sorted(pending)} depend on each other in a cycle"
                )
                break
            for variable in ready:
                element = pending.pop(variable)
                if variable in laws:
                    self._law(variable, element)
                    continue
                math = self._math(element.getMath(), f"assignment rule for '{variable}'", self.ids[variable])
                if math is not None:
                    self.values[variable], self.rule_exprs[variable] = math
                    done.append(variable)
                    for sid in (s for s, c in size_of.items() if c == variable):
                        self.values[sid] = f"{self.held[sid]}/({math[0]})"
        return done

    def _reactions_in_math(self) -> set[str]:
        """The reaction ids that the rules', kinetic laws' and events' math uses."""
        model = self.sbml
        elements = [*model.getListOfRules(), *(r.getKineticLaw() for r in model.getListOfReactions())]
        for event in model.getListOfEvents():
            elements += [event.getTrigger(), event.getDelay(), event.getPriority()]
            elements += list(event.getListOfEventAssignments())
        used: set[str] = set()
        for element in elements:
            if element is not None:
                used |= names_in(element.getMath())
        return {r.getId() for r in model.getListOfReactions()} & used

    def _law(self, rid: str, law: Any) -> tuple[str, Any] | None:
        """The kinetic law of reaction ``rid`` as text and SymPy (made once, kept in
        ``self.laws`` and, for math that names the reaction, ``self.values``)."""
        if rid not in self.laws:
            where = f"kinetic law of reaction '{rid}'"
            math = self._math(law.getMath() if law is not None else None, where, self.ids[rid])
            if math is None:
                return None
            self.laws[rid] = math
            self.values[rid] = math[0]
        return self.laws[rid]

    def _observable(self, sid: str, unknown: Mapping[str, Unit], literal: Callable[[str], str]) -> Observable:
        unit = self.units.get(sid) or unknown[sid]
        self.units[sid] = unit
        return Observable(
            self.ids[sid],
            expr=literal(self.values[sid]),
            unit=unit.text,
            description=f"SBML assignment rule for {_kind(self.sbml, sid)} '{sid}'",
        )

    def _concentration(self, sid: str, literal: Callable[[str], str]) -> Observable:
        """A held species' concentration, its amount over its compartment's size (which changes)."""
        return Observable(
            self.ids[sid],
            expr=literal(self.values[sid]),
            unit=self.units[sid].text,
            description=f"concentration of SBML species '{sid}', whose compartment's size changes",
        )

    def _reactions(self) -> Iterator[tuple[Reaction, Any]]:
        for reaction in self.sbml.getListOfReactions():
            rid = reaction.getId()
            equation = self._equation(reaction)
            if equation == ("0", "0"):  # it only gives math its rate, by its id
                continue
            math = self._law(rid, reaction.getKineticLaw())
            if math is None or equation is None:
                continue
            text, expr = math
            arrow = "<->" if reaction.getReversible() else "->"
            yield (
                Reaction(
                    self.ids[rid], f"{equation[0]} {arrow} {equation[1]}", text, label=reaction.getName()
                ),
                expr,
            )

    def _equation(self, reaction: Any) -> tuple[str, str] | None:
        """The reaction's two sides (``"0"`` for none); a reactant of stoichiometry ``-n`` is a
        product of ``n`` (and the reverse), one of 0 is left out: SBML's rates of change are the
        same."""
        sides: tuple[dict[str, Fraction], dict[str, Fraction]] = ({}, {})
        for side, references in enumerate((reaction.getListOfReactants(), reaction.getListOfProducts())):
            for reference in references:
                sid = reference.getSpecies()
                stoichiometry = reference.getStoichiometry()
                if not abs(stoichiometry) <= MAX_STOICHIOMETRY:  # NaN too
                    self.features.append(
                        f"stoichiometry {stoichiometry:g} of '{sid}' in reaction '{reaction.getId()}' "
                        f"(only finite numbers up to {MAX_STOICHIOMETRY:g} in size are supported)"
                    )
                    return None
                if sid in self.rules or sid in self.rate_rules:
                    species = self.sbml.getSpecies(sid)
                    if not (species.getBoundaryCondition() or species.getConstant()):
                        self.features.append(f"species '{sid}' is set by a rule and changed by reactions")
                    continue  # a boundary species set by a rule: reactions do not change it
                if stoichiometry != 0:
                    terms = sides[side if stoichiometry > 0 else 1 - side]
                    terms[sid] = terms.get(sid, Fraction(0)) + exact(abs(float(stoichiometry)))
        # a species in a compartment whose size changes is held as its amount (see _held)
        state = {s: self.held.get(s, self.ids[s]) for terms in sides for s in terms}
        texts = [
            " + ".join(
                state[s] if n == 1 else f"{coefficient_number(n)!r} {state[s]}" for s, n in terms.items()
            )
            for terms in sides
        ]
        return texts[0] or "0", texts[1] or "0"

    def _rate_rules(self) -> Iterator[tuple[Reaction, Any]]:
        """A species' rate rule as a reaction ``0 -> S`` whose extent rate is the rule times
        the compartment size (concentration species) or the rule itself (amounts); a
        parameter's as the reaction ``0 -> p`` of a model variable, whose rate is the rule.
        The reaction takes the rule's id where it has one (SBML Level 3 Version 2).

        A compartment's size changes so too (a model variable); a species held as an amount
        in it (see :meth:`_held`) whose concentration ``[S]`` the rule sets changes by
        ``d(C·[S])/dt = C·rule + [S]·dC/dt``."""
        size_rates: dict[str, str] = {}
        # compartments first: their rates enter those of the species held in them
        for sid, rule in sorted(self.rate_rules.items(), key=lambda item: item[0] not in self.varying):
            species = self.sbml.getSpecies(sid)
            rid = unused_id(rule.getIdAttribute() or f"rate_rule_{self.ids[sid]}", self.taken)
            self.taken.add(rid)
            math = self._math(rule.getMath(), f"rate rule for '{sid}'", rid)
            if math is None:
                continue
            text, expr = math
            if species is None:
                self.variable_rates[rid] = sid
                if sid in self.varying:
                    size_rates[sid] = text
            elif not species.getHasOnlySubstanceUnits():
                text = self._concentration_rate(species, text, size_rates)
                expr = parse_expression(text).expr
            yield (
                Reaction(
                    rid,
                    f"0 -> {self.held.get(sid, self.ids[sid])}",
                    text,
                    description=f"SBML rate rule for {_kind(self.sbml, sid)} '{sid}'",
                ),
                expr,
            )

    def _concentration_rate(self, species: Any, rule: str, size_rates: Mapping[str, str]) -> str:
        """The extent rate of a rate rule ``rule`` for a concentration species: ``C·rule``,
        plus ``[S]·dC/dt`` where ``C``'s own rate rule changes it (``size_rates``)."""
        sid, cid = species.getId(), species.getCompartment()
        text = f"{self.ids[cid]}*({rule})"
        if cid in self.rules:
            self.features.append(
                f"rate rule for species '{sid}' in compartment '{cid}', whose size an assignment rule sets"
            )
        elif cid in size_rates:
            text += f" + {self.held[sid]}/{self.ids[cid]}*({size_rates[cid]})"
        return text

    def _infer_units(
        self, reactions: list[tuple[Reaction, Any]], rules: list[str], events: list[_EventMath]
    ) -> dict[str, Unit]:
        """Units of the parameters, rule variables and numbers the file leaves without one."""
        model_ids = {new: sid for sid, new in self.ids.items()}
        known = {self.ids.get(sid, sid): unit for sid, unit in self.units.items() if sid != "time"}
        known.update(self.held_units)
        known["t"] = self.time
        parameters = [
            self.ids[p.getId()] for p in self.sbml.getListOfParameters() if p.getId() not in self.units
        ]
        # Numbers take a unit only where no parameter can: first try them all as pure numbers.
        dimensionless = Unit(1.0, "dimensionless")
        try:
            plain = {**known, **dict.fromkeys(self.numbers, dimensionless)}
            vectors = self._unit_equations(plain, parameters, reactions, rules, events).solve()
            vectors.update(dict.fromkeys(self.numbers, dimensionless.vector()))
        except UnitProblem:
            inference = self._unit_equations(known, parameters + list(self.numbers), reactions, rules, events)
            vectors, disagreements = inference.solve_where_possible()
            if disagreements and self.strict_units:
                places = sorted({where for where, _, _ in disagreements})
                self.features.append(f"units that do not agree in {', '.join(places)}")
                return {}
            for where, left, right in disagreements:  # solved without them: SBML's numbers as written
                self.unit_notes.append(
                    f"{where}: '{self._from_vector(left)}' vs '{self._from_vector(right)}'"
                )
        return {model_ids.get(name, name): self._from_vector(vector) for name, vector in vectors.items()}

    def _from_vector(self, vector: Any) -> Unit:
        """The unit of ``vector`` written in the model's substance, time and volume units."""
        preferred = {
            "[substance]": self.substance.text,
            "[time]": self.time.text,
            "[volume]": self.volume.text,
        }
        return unit_from_vector(vector, preferred)

    def _unit_equations(
        self,
        known: Mapping[str, Unit],
        unknown: list[str],
        reactions: list[tuple[Reaction, Any]],
        rules: list[str],
        events: list[_EventMath],
    ) -> UnitInference:
        model_ids = {new: sid for sid, new in self.ids.items()} | {new: sid for sid, new in self.held.items()}
        inference = UnitInference(known, unknown)
        for reaction, expr in reactions:
            if reaction.id in self.variable_rates:  # d(parameter)/dt: the parameter's unit per time
                parameter = self.variable_rates[reaction.id]
                inference.require(
                    expr * symbol(TIME_NAME), self.ids[parameter], f"rate rule for '{parameter}'"
                )
                continue
            inference.require(expr, self.rate_unit, f"reaction '{model_ids.get(reaction.id, reaction.id)}'")
        modelled = {model_ids.get(reaction.id) for reaction, _ in reactions}
        for rid, (_, expr) in self.laws.items():
            if rid not in modelled:  # a reaction that only gives math its rate
                inference.require(expr, self.rate_unit, f"reaction '{rid}'")
        for sid in rules:
            inference.require(self.rule_exprs[sid], self.ids[sid], f"assignment rule for '{sid}'")
        for event in events:
            inference.compare(event.trigger[1], f"{event.where} trigger")
            for target, (_, expr) in event.assignments:
                inference.require(expr, target, f"{event.where} assignment to '{model_ids[target]}'")
            if event.delay is not None:
                inference.require(event.delay[1], self.time, f"{event.where} delay")
            if event.priority is not None:
                inference.require(event.priority[1], Unit(1.0, "dimensionless"), f"{event.where} priority")
        return inference

    def _as_written(self, inferred: Mapping[str, Unit]) -> dict[str, Unit]:
        """Units for a model whose units disagree, so that every value is SBML's number as
        written: no conversion may scale one. Time, compartments and species must be in the
        model's own units (else refused); a parameter's unit of another size becomes the
        model's own unit of its dimension (noted), and so do the units ``inferred``."""
        records = (*self.sbml.getListOfCompartments(), *self.sbml.getListOfSpecies())
        for sid, what in [
            ("time", "model time"),
            *((r.getId(), f"{_kind(self.sbml, r.getId())} '{r.getId()}'") for r in records),
        ]:
            if self._own(self.units[sid]) != self.units[sid]:
                self.features.append(
                    f"{what} is in '{self.units[sid]}', not in the model's own units, while its units "
                    "disagree (SBML's numbers cannot be taken as written)"
                )
        for parameter in self.sbml.getListOfParameters():
            pid = parameter.getId()
            unit = self.units.get(pid)
            if unit is not None and self._own(unit) != unit:
                self.unit_notes.append(
                    f"parameter '{pid}' is in '{unit}': its numbers are taken in '{self._own(unit)}'"
                )
                self.units[pid] = self._own(unit)
        return {name: self._own(unit) for name, unit in inferred.items()}

    def _own(self, unit: Unit) -> Unit:
        """``unit``, or the model's own unit of its dimension where their sizes differ."""
        own = self._from_vector(unit.vector())
        return unit if own.factor == 1 else Unit(1.0, own.text)

    def _numbers(self, units: Mapping[str, Unit]) -> Callable[[str], str]:
        """Turn placeholders that carry a unit into parameters (``self.constants``); return
        the function that writes every other one back as its number (or drops it, for a
        unit factor that turned out to be 1)."""
        plain: dict[str, str] = {}
        for placeholder, (text, value, where, is_scale) in self.numbers.items():
            unit = units[placeholder]
            if unit == Unit(1.0, "dimensionless"):
                plain[placeholder + "*" if is_scale else placeholder] = "" if is_scale else text
                continue
            what = (
                "1 in the unit that makes a bare-number argument dimensionless"
                if is_scale
                else f"the number {text}, with the unit SBML leaves implicit,"
            )
            self.constants.append(
                Parameter(
                    placeholder,
                    UnitValue(value * unit.factor, unit.text),
                    description=f"{what} in the {where}",
                )
            )
        if not plain:
            return lambda text: text
        alternatives = (re.escape(k) + ("" if k.endswith("*") else r"(?![A-Za-z0-9_])") for k in plain)
        pattern = re.compile(r"\b(" + "|".join(alternatives) + ")")
        return lambda text: pattern.sub(lambda match: plain[match.group(1)], text)

    # -- events ------------------------------------------------------------------------------

    def _at_fixed_times(self) -> bool:
        """Whether every event is a protocol step (see :meth:`_events`): fixed-time triggers
        and constant or increment assignments, each target changed once at a time. Such files
        import as before, as the protocol ``sbml_events``; others' events become ModelEvents."""
        found, self.features = self.features, []
        try:
            self._events()
            return not self.features
        finally:
            self.features = found

    def _event_math(self) -> Iterator[_EventMath]:
        """Each event's trigger, assignments, delay and priority as expression text (numbers
        still placeholders, see :meth:`_math`), or a feature for what a ModelEvent cannot hold."""
        for number, event in enumerate(self.sbml.getListOfEvents()):
            where = f"event '{event.getId() or event.getName() or '(no id)'}'"
            eid = unused_id(_identifier(event.getId() or f"event{number + 1}"), self.taken)
            self.taken.add(eid)
            trigger = event.getTrigger()
            condition = self._math(
                trigger.getMath() if trigger is not None else None, f"{where} trigger", eid, condition=True
            )
            assignments = []
            for assignment in event.getListOfEventAssignments():
                target = assignment.getVariable()
                if not self._ruled(target):
                    kind = _kind(self.sbml, target)
                    self.features.append(
                        f"{where} assigns {kind} '{target}' "
                        "(only species, parameters and compartments, when not at a fixed time)"
                    )
                    continue
                if target in self.rules:
                    self.features.append(f"{where} assigns '{target}', which an assignment rule sets")
                    continue
                math = self._math(assignment.getMath(), f"{where} assignment to '{target}'", eid)
                if math is not None:
                    assignments.append(self._assignment(target, math))
            delay = (
                self._math(event.getDelay().getMath(), f"{where} delay", eid) if event.isSetDelay() else None
            )
            priority = (
                self._math(event.getPriority().getMath(), f"{where} priority", eid)
                if event.isSetPriority()
                else None
            )
            if condition is None or (event.isSetDelay() and delay is None):
                continue
            if event.isSetPriority() and priority is None:
                continue
            yield _EventMath(
                eid,
                where,
                condition,
                tuple(assignments),
                delay,
                priority,
                persistent=trigger.getPersistent() if trigger.isSetPersistent() else True,
                initial_value=trigger.getInitialValue() if trigger.isSetInitialValue() else True,
                use_trigger_values=(
                    event.getUseValuesFromTriggerTime() if event.isSetUseValuesFromTriggerTime() else True
                ),
            )

    def _assignment(self, target: str, math: tuple[str, Any]) -> tuple[str, tuple[str, Any]]:
        """``(model id, math)`` of an event's assignment to ``target``. A concentration held as
        an amount (see :meth:`_held`) sets the amount, the value times the compartment's size
        before the event (as the SBML Test Suite and libRoadRunner: case 01779); an assignment
        to a compartment's size leaves the amounts in it as they are."""
        if target not in self.held:
            return self.ids[target], math
        cid = self.sbml.getSpecies(target).getCompartment()
        size = f"({self.values[cid]})" if cid in self.rules else self.ids[cid]
        text = f"({math[0]})*{size}"
        return self.held[target], (text, parse_expression(text).expr)

    def _events(self) -> list[Step]:
        """Events that fire at a fixed time and set (or add to) values, as protocol steps.

        ``time >= c`` / ``time > c`` triggers with ``c`` constant, and assignments of
        constants (``set``) or of ``max(x + c, 0)`` / ``x + c`` with ``c >= 0`` (``add``)."""
        self.event_targets = {
            a.getVariable() for e in self.sbml.getListOfEvents() for a in e.getListOfEventAssignments()
        }
        steps: list[Step] = []
        seen: set[tuple[float, str]] = set()
        for event in self.sbml.getListOfEvents():
            where = f"event '{event.getId() or event.getName() or '(no id)'}'"
            at = self._event_time(event, where)
            if at is None:
                continue
            for assignment in event.getListOfEventAssignments():
                step = self._event_step(assignment, at, where)
                if step is None:
                    continue
                if (at, step.target) in seen:
                    self.features.append(f"{where}: '{step.target}' is changed twice at time {at:g}")
                seen.add((at, step.target))
                steps.append(step)
        return sorted(steps, key=lambda step: step.at.value)

    def _event_time(self, event: Any, where: str) -> float | None:
        trigger = event.getTrigger()
        if event.isSetDelay():
            self.features.append(f"{where} has a delay")
            return None
        node = trigger.getMath() if trigger is not None else None
        lib = self.lib
        kinds = {
            lib.AST_RELATIONAL_GEQ: (0, 1, True),
            lib.AST_RELATIONAL_GT: (0, 1, False),
            lib.AST_RELATIONAL_LEQ: (1, 0, True),
            lib.AST_RELATIONAL_LT: (1, 0, False),
        }
        if node is None or node.getType() not in kinds or node.getNumChildren() != 2:
            self.features.append(f"{where} is not triggered at a fixed time")
            return None
        time_index, value_index, inclusive = kinds[node.getType()]
        at = self._constant(node.getChild(value_index))
        if node.getChild(time_index).getType() != lib.AST_NAME_TIME or at is None:
            self.features.append(f"{where} is not triggered at a fixed time")
            return None
        if at <= 0 and inclusive and trigger.getInitialValue():
            return None  # true before the start and never again false: it never fires
        return max(at, 0.0)

    def _event_step(self, assignment: Any, at: float, where: str) -> Step | None:
        target = assignment.getVariable()
        unit = self.units.get(target)
        settable = (
            (self.sbml.getSpecies(target) is not None or self.sbml.getParameter(target) is not None)
            and target not in self.rules
            and target not in self.rate_rules
            and target not in self.held  # an amount, set through its compartment's size: a ModelEvent
        )
        node = assignment.getMath()
        value = self._constant(node) if node is not None else None
        action: StepAction = "set"
        if value is None and node is not None:
            action, value = "add", self._increment(node, target)
        if not settable or value is None:
            self.features.append(
                f"{where} assigns '{target}' something other than a constant or an increment"
            )
            return None
        if unit is None:
            return None  # its unit could not be inferred, which is reported already
        time = UnitValue(at * self.time.factor, self.time.text)
        return Step(time, action, self.ids[target], UnitValue(value * unit.factor, unit.text))

    def _increment(self, node: Any, target: str) -> float | None:
        """``c`` of ``max(target + c, 0)`` or ``target + c`` (``c >= 0``), the add steps."""
        lib = self.lib
        if node.getType() == lib.AST_FUNCTION_MAX and node.getNumChildren() == 2:
            zero = [i for i in range(2) if self._constant(node.getChild(i)) == 0]
            if not zero:
                return None
            node = node.getChild(1 - zero[0])
            floor = True
        else:
            floor = False
        if node.getType() != lib.AST_PLUS or node.getNumChildren() != 2:
            return None
        for i in range(2):
            if node.getChild(i).getType() == lib.AST_NAME and node.getChild(i).getName() == target:
                value = self._constant(node.getChild(1 - i))
                if value is not None and (value >= 0 or floor):
                    return value
        return None

    def _constant(self, node: Any) -> float | None:
        """The value of math that uses only numbers and constant parameters and compartments."""
        model = self.sbml
        names = {}
        for record in (*model.getListOfParameters(), *model.getListOfCompartments()):
            sid = record.getId()
            if sid not in self.rules and sid not in self.event_targets and sid not in self.rate_rules:
                names[sid] = repr(record.getValue() if model.getParameter(sid) else record.getSize())
        try:
            expr = parse_expression(ast_to_text(node, names, self.values)).expr
        except (MathFeature, ExpressionError):
            return None
        return float(expr) if expr.is_number and expr.is_finite else None


@dataclass(frozen=True)
class _EventMath:
    """An SBML event's math as ``(text, SymPy)`` pairs, until its numbers have units."""

    id: str
    where: str
    trigger: tuple[str, Any]
    assignments: tuple[tuple[str, tuple[str, Any]], ...]  # (model id of the species, math)
    delay: tuple[str, Any] | None
    priority: tuple[str, Any] | None
    persistent: bool
    initial_value: bool
    use_trigger_values: bool

    def record(self, literal: Callable[[str], str]) -> ModelEvent:
        """The ModelEvent, with ``literal`` writing the numbers that carry no unit back."""
        return ModelEvent(
            self.id,
            literal(self.trigger[0]),
            tuple((target, literal(text)) for target, (text, _) in self.assignments),
            delay=literal(self.delay[0]) if self.delay else "",
            priority=literal(self.priority[0]) if self.priority else "",
            persistent=self.persistent,
            initial_value=self.initial_value,
            use_values_from_trigger_time=self.use_trigger_values,
            description=f"SBML {self.where}",
        )


def _constant_assignments(libsbml: Any, model: Any) -> dict[str, Any]:
    """Initial assignments (target → a copy of the math) to constant parameters that no rule
    or event sets, whose math names constant parameters and compartments (or other such
    targets), at least one, and neither time, ``delay`` nor ``rateOf``."""
    changed = {r.getVariable() for r in model.getListOfRules()} | {
        a.getVariable() for e in model.getListOfEvents() for a in e.getListOfEventAssignments()
    }
    constants = {
        record.getId()
        for record in (*model.getListOfParameters(), *model.getListOfCompartments())
        if record.getConstant() and record.getId() not in changed
    }
    candidates = {
        a.getSymbol(): a.getMath()
        for a in model.getListOfInitialAssignments()
        if a.getSymbol() in constants and model.getParameter(a.getSymbol()) is not None and a.isSetMath()
    }
    timed = (libsbml.AST_NAME_TIME, libsbml.AST_FUNCTION_DELAY, libsbml.AST_FUNCTION_RATE_OF)
    found: dict[str, Any] = {}
    while True:  # a target's math may name another target: add those whose names are settled
        settled = constants - set(candidates) | set(found)
        new = {
            target: math
            for target, math in candidates.items()
            if target not in found
            and names_in(math)
            and names_in(math) <= settled
            and not _has_node(math, timed)
        }
        if not new:
            return {target: math.deepCopy() for target, math in found.items()}
        found.update(new)


def _constant_stoichiometries(libsbml: Any, model: Any) -> None:
    """An assignment rule that sets a species reference's stoichiometry to math of numbers
    and constant parameters and compartments (``Xref = 3``, test case 00971) gives it one value
    at all times: that value becomes the stoichiometry, and the rule goes. The others stay,
    to be refused (expression text has no stoichiometry that changes in time)."""
    constants = {
        record.getId(): repr(record.getValue() if model.getParameter(record.getId()) else record.getSize())
        for record in (*model.getListOfParameters(), *model.getListOfCompartments())
        if record.getConstant()
    }
    rules = model.getListOfRules()
    for i in reversed(range(rules.size())):
        rule = rules.get(i)
        reference = model.getElementBySId(rule.getVariable()) if rule.isAssignment() else None
        if reference is None or reference.getTypeCode() != libsbml.SBML_SPECIES_REFERENCE:
            continue
        try:
            value = parse_expression(ast_to_text(rule.getMath(), constants, {})).expr
        except (MathFeature, ExpressionError):
            continue
        if value.is_number and value.is_finite:
            reference.setStoichiometry(float(value))
            rules.remove(i)


def _drop_missing_math(model: Any) -> None:
    """Remove what SBML Level 3 Version 2 lets a file leave without math, which then has no
    effect: a rule or initial assignment (the variable keeps its value), an event without a
    trigger or trigger math (it never fires), an event assignment (skipped), a delay (none)
    and a priority (none)."""
    for rules in (model.getListOfRules(), model.getListOfInitialAssignments()):
        for i in reversed(range(rules.size())):
            if not rules.get(i).isSetMath():
                rules.remove(i)
    events = model.getListOfEvents()
    for i in reversed(range(events.size())):
        event = events.get(i)
        if event.getTrigger() is None or not event.getTrigger().isSetMath():
            events.remove(i)
            continue
        assignments = event.getListOfEventAssignments()
        for j in reversed(range(assignments.size())):
            if not assignments.get(j).isSetMath():
                assignments.remove(j)
        if event.isSetDelay() and not event.getDelay().isSetMath():
            event.unsetDelay()
        if event.isSetPriority() and not event.getPriority().isSetMath():
            event.unsetPriority()


def _has_node(node: Any, types: tuple[int, ...]) -> bool:
    """Whether libsbml math ``node`` has a node of one of ``types``."""
    return node.getType() in types or any(
        _has_node(node.getChild(i), types) for i in range(node.getNumChildren())
    )


def _swap_booleans(model: Any) -> None:
    """Write out SBML's boolean/numeric interchange in all of ``model``'s math (see
    :func:`with_booleans_swapped`); events' triggers are conditions, all else numbers."""
    numbers = [
        *model.getListOfInitialAssignments(),
        *model.getListOfRules(),
        *(r.getKineticLaw() for r in model.getListOfReactions()),
    ]
    for event in model.getListOfEvents():
        numbers += [*event.getListOfEventAssignments(), event.getDelay(), event.getPriority()]
    triggers = [event.getTrigger() for event in model.getListOfEvents()]
    for elements, condition in ((numbers, False), (triggers, True)):
        for element in elements:
            if element is not None and element.isSetMath():
                math, changed = with_booleans_swapped(element.getMath(), condition)
                if changed:
                    element.setMath(math)


def _mass_action(reaction: Reaction, rate: str, species: set[str]) -> str:
    """``mass_action(kf[, kr])`` when the extent rate is exactly ``kf·Π reactants`` (minus
    ``kr·Π products`` for a reversible reaction) with ``kf`` and ``kr`` free of ``species``
    and time, so it is evaluated as mass action (the same expression, on the vectorised
    path); otherwise the rate as it is."""
    expr = parse_expression(rate).expr
    # Only sums, products and powers of names and numbers can be mass action; expanding a
    # rate with piecewise inputs first took most of a 500-species model's import.
    if not all(
        isinstance(a, sympy.Symbol | sympy.Number | sympy.Add | sympy.Mul | sympy.Pow)
        for a in sympy.preorder_traversal(expr)
    ):
        return rate
    terms = sympy.Add.make_args(sympy.expand_mul(expr))
    sides = [reaction.reactants, reaction.products][: len(terms)]
    if len(terms) != (2 if reaction.reversible else 1):
        return rate
    constants: list[Any] = []
    for sign, side in zip((1, -1), sides, strict=False):
        product = sympy.Mul(*(symbol(name) ** n for name, n in side))
        ratios = [sign * term / product for term in terms]
        matched = [r for r in ratios if not ({s.name for s in r.free_symbols} & (species | {TIME_NAME}))]
        if len(matched) != 1 or not all(
            isinstance(a, sympy.Symbol | sympy.Number | sympy.Mul | sympy.Pow)
            for a in sympy.preorder_traversal(matched[0])
        ):
            return rate
        constants.append(matched[0])
    return f"mass_action({', '.join(_Printer().doprint(c) for c in constants)})"


class _Printer(StrPrinter):
    """SymPy's text for products and powers of names and numbers, floats in full."""

    def _print_Float(self, expr: sympy.Float) -> str:
        return repr(float(expr))


def _kind(model: Any, sid: str) -> str:
    if model.getCompartment(sid) is not None:
        return "compartment"
    if model.getParameter(sid) is not None:
        return "parameter"
    if model.getSpecies(sid) is not None:
        return "species"
    return "stoichiometry" if model.getElementBySId(sid) is not None else "unknown variable"


def unused_id(name: str, taken: set[str]) -> str:
    """``name``, or ``name_``, ``name__`` … : the first that is not taken or reserved."""
    while name in taken or name in _TAKEN:
        name = f"{name}_"
    return name


def _spatial_dimensions(compartment: Any) -> float:
    """SBML ``spatialDimensions`` (3 where unset: Level 3's default is undefined, Level 2's 3)."""
    return compartment.getSpatialDimensionsAsDouble() if compartment.isSetSpatialDimensions() else 3.0


def _sizeless(compartment: Any) -> bool:
    """Whether a compartment has 0 spatial dimensions and no size (one with a size, which
    SBML Level 3 allows, is a size like any other)."""
    return _spatial_dimensions(compartment) == 0 and not compartment.isSetSize()


def _identifier(text: str) -> str:
    name = re.sub(r"\W", "_", text, flags=re.ASCII)
    return name if re.match(r"[A-Za-z_]", name) else f"model_{name}"
