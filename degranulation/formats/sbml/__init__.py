"""SBML import and export (Level 2 and 3 core) through python-libsbml, the optional ``sbml``
extra (``pip install 'degranulation[sbml]'``).

Reading maps an SBML model onto a :class:`~degranulation.network.Model` exactly, or refuses:
every construct the model cannot hold is listed in one
:class:`~degranulation.errors.UnsupportedFeatureError`, never dropped.

========================================  ==================================================
SBML                                      Model
========================================  ==================================================
compartment (3, 2 or 1 dimensions,        ``Compartment`` whose size is a volume, an area or a
fixed size)                               length; species in it are substance per that size
compartment of other dimensions with a    the same, its size as given (Level 3's dimensions
size (0, 2.7, 7)                          do not change the math): a volume, or the area or
                                          length its unit declares
compartment of 0 dimensions, no size      ``Compartment`` of size ``1 dimensionless``; its
                                          species are amounts
compartment whose size a rate rule or     its size a ``Species(variable=True)`` (a rate
an event changes, or an assignment rule   rule's reaction ``0 -> C``) or an ``Observable``
sets                                      (an assignment rule); its species are held as
                                          amounts ``S_amount`` in ``Compartment``
                                          ``C_amounts`` (no size), and ``S`` is the
                                          ``Observable`` ``S_amount/C`` (SBML's reactions
                                          change amounts, so a growing ``C`` dilutes ``S``)
species, ``hasOnlySubstanceUnits`` true    ``Species`` whose initial value is an amount
species, ``hasOnlySubstanceUnits`` false   ``Species`` whose initial value is a concentration
``boundaryCondition`` or ``constant``      ``Species(boundary=True)``
parameter                                 ``Parameter``
local parameter                           ``Parameter`` named ``<reaction id>_<id>``
reaction with kinetic law                 ``Reaction``: ``mass_action(kf[, kr])`` when the law
                                          is exactly that, else the law (an extent rate)
reaction id in math                       its rate: the kinetic law, inlined
reaction that changes no species          no ``Reaction``; its rate is still its id's value
species reference's stoichiometry         its coefficient in the equation: any number
(finite, up to 1e6 in size)               (``0.25 A -> 8.5 B``), whole numbers as ints; ``-n``
                                          is ``n`` on the other side, ``0`` leaves it out
assignment rule for a stoichiometry,      that number, which the rule holds at all
math of constants                         times
function definition                       inlined into the expressions that call it
initial assignment                        evaluated once, at load (by libsbml), into the value
assignment rule (parameter or species)    ``Observable``, inlined where the name is used
rate rule for a species                   ``Reaction`` ``"0 -> S"`` with that rate (in a
                                          compartment whose size changes, the amount's rate
                                          ``C·rule + S·dC/dt``)
rate rule for a parameter                 ``Species(variable=True)``, a model variable in the
                                          parameter's unit, and ``Reaction`` ``"0 -> p"``
                                          whose rate is the rule (named by the rule's id)
event at a fixed time setting constants   a step of the default protocol ``sbml_events``
                                          (when every event of the file is one)
other events setting species, parameters  ``ModelEvent`` (trigger, assignments, delay,
or compartments                           priority, persistent, initialValue,
                                          useValuesFromTriggerTime); a concentration in a
                                          compartment whose size changes sets the amount,
                                          with the size before the event, and a new size
                                          keeps the amounts in it
unit definition                           pint unit text (its ``name`` if pint reads it)
hierarchical model (``comp`` package)     the flat model libsbml's flattening converter
                                          makes (``sub1__A`` for ``A`` in submodel ``sub1``)
math: arithmetic, ``exp ln log root``     the same in expression text (``ln`` is ``log``,
``abs min max floor ceiling``             ``ceiling`` is ``ceil``)
trigonometric and hyperbolic functions    ``sin cos tan sec csc cot``, ``sinh`` … ``coth``,
and their inverses (``arcsin`` …)         ``asin`` … ``acot``, ``asinh`` … ``acoth``
``piecewise`` with relations (``lt``,     ``piecewise(value, condition, ..., otherwise)``
``leq gt geq eq neq``), ``and or not``,   conditions with ``< <= > >= == != and or not``,
``xor implies true false``                ``True False`` (``xor``, ``implies`` expanded)
a condition used as a number, a number    ``piecewise(1, c, 0)``, ``x != 0``; a piecewise of
as a condition (SBML's interchange)       conditions as a condition: ``c1 and v1 or not c1 …``
``factorial`` of a constant               its number, Γ(n + 1), computed at load
math left out (Level 3 Version 2: rules,  no effect: the rule or assignment is ignored, an
initial and event assignments, triggers,  event without a trigger never fires, no delay or
delays, priorities)                       priority
========================================  ==================================================

Not representable, so refused: algebraic rules, a stoichiometry that changes in time (an
assignment rule for it whose math is not constant, expression text has no such
coefficient), a rate rule for a concentration species or an initial concentration in a
compartment whose size an assignment rule sets, a compartment of 0 dimensions without a size
whose size changes, constraints, fast reactions, a stoichiometry of more than 1e6 in size,
NaN or infinite, parameters whose value is NaN or infinite (model values are finite),
conversion factors, compartments of 1 to 3 dimensions without a size (unless a rule sets
it), SBML packages other than comp (when libsbml can flatten it), layout and render, and
math outside the expression language (``factorial`` of a value that changes, ``delay``,
``rateOf`` …).

Units: SBML math is evaluated on bare numbers, each in its declared unit. Where the file
declares none the convention is SBML Level 2's: substance ``mol``, volume ``L``, area
``m**2``, length ``m``, time ``s``, and reaction extents in the substance unit. Parameters
without units get the unit that makes every rate law an extent per time with SBML's
numbers unchanged (see
:class:`~degranulation.formats.units.UnitInference`); one the equations leave free is
dimensionless. Where no parameter can carry a needed unit, a number does: it becomes a
parameter named after its place (``rate_rule_S3_value1 = "0.15 mol/(L*s)"``), and a bare
number SBML feeds to ``exp``, ``log``, another function but ``abs`` or a non-numeric
power gets a unit factor
(``exp(time)`` becomes ``exp(c*t)`` with ``c = "1 1/s"``). A file whose units contradict
each other, or whose declared units are not of the kind their place needs, is read with
SBML's numbers as written, as SBML simulators read it: the model does not enforce units
(``Model.units_enforced`` is False: a rate law is the extent rate its numbers give, in the
model's units), parameters whose unit is of another size than the model's own unit of its
dimension take that unit, and one ``UnitWarning`` lists each element that disagrees with its
two units. ``strict_units=True`` refuses such a file instead.

Writing gives SBML Level 3 Version 2 with every value in the model's own coherent unit system
(so any SBML simulator computes exactly the numbers our solver does): mass-action rates
become explicit kinetic laws, observables become assignment rules, model variables become
parameters with a rate rule (the sum of their reactions' rates), and one protocol becomes
initial values and events (see :func:`write_sbml`); the model's own events are written as
they are. A compartment's ``spatialDimensions`` follow its size's unit (3 a volume, 2 an area,
1 a length, 0 a compartment without a size), so reading the file back keeps them; so are
stoichiometries, whole or not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from degranulation.formats.sbml.document import SbmlImport, read_document
from degranulation.network import Model

__all__ = ["SbmlImport", "import_sbml", "read_sbml", "write_sbml"]


def _libsbml() -> Any:
    try:
        import libsbml
    except ImportError:
        raise ImportError("SBML support needs python-libsbml: pip install 'degranulation[sbml]'") from None
    return libsbml


def read_sbml(path: str | Path, *, strict_units: bool = False) -> Model:
    """Read an SBML file (Level 2 or 3 core) into a model.

    Parameters
    ----------
    path : str or Path
        An ``.xml`` or ``.sbml`` file.
    strict_units : bool
        Refuse a file whose units are missing where they cannot be inferred, or disagree
        (``UnsupportedFeatureError``). By default such a file is read with its numbers as
        written, as SBML simulators take them, and one ``UnitWarning`` lists what disagrees.

    Returns
    -------
    Model
        Not yet validated (:func:`degranulation.load_model` reads and validates).

    Raises
    ------
    UnsupportedFeatureError
        Listing every construct in the file that the model cannot represent (and, with
        ``strict_units``, every unit that disagrees).
    ModelFileError
        If the file cannot be read or is not valid SBML.
    ImportError
        Without python-libsbml (``pip install 'degranulation[sbml]'``).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "model.xml"
    >>> _ = dg.write_sbml(dg.load_model("ige_fceri_crosslinking"), path)
    >>> [s.id for s in dg.read_sbml(path).species]
    ['L', 'R', 'LR', 'RLR']
    """
    return import_sbml(path, strict_units=strict_units).model


def import_sbml(path: str | Path, *, strict_units: bool = False, events_as_steps: bool = True) -> SbmlImport:
    """Read an SBML file, keeping the SBML ids and units (see :func:`read_sbml`).

    ``events_as_steps=False`` imports events at fixed times as
    :class:`~degranulation.network.ModelEvent`\\ s too, not as the protocol ``sbml_events``: their
    trigger then reads parameters while the model runs, so a value set later (a PEtab condition's
    ``t_ins`` in ``time >= t_ins``) moves the event.
    """
    from degranulation.formats.sbml.reader import Importer

    libsbml = _libsbml()
    document = read_document(libsbml, Path(path))
    importer = Importer(
        libsbml, document, str(path), strict_units=strict_units, events_as_steps=events_as_steps
    )
    return importer.run()


def write_sbml(model: Model, path: str | Path, *, protocol: Any = None) -> Path:
    """Write a model as SBML Level 3 Version 2.

    Every value is written in the model's coherent unit system (its amount, time and
    ``amount/concentration`` volume units), with a unit definition per unit whose ``name``
    is the pint text, so any SBML simulator computes the numbers our solver computes.
    Mass-action rates become explicit kinetic laws; observables become parameters set by
    assignment rules (in the coherent unit of their dimension).

    An SBML model describes one experiment, so one protocol is written: its steps at time 0
    become initial values (a clamp from time 0 on, a boundary species), later ``set`` and
    ``add`` steps become events at their times. The model's other protocols are not written.
    The model's events (:class:`~degranulation.network.ModelEvent`) are written as they are.

    Parameters
    ----------
    model : Model
        A valid model.
    path : str or Path
        The file to write.
    protocol : str, list or None
        The protocol to write, as :func:`degranulation.simulate` takes it; None is the
        model's default protocol (if it has one), ``"none"`` writes no steps.

    Returns
    -------
    Path

    Raises
    ------
    ModelValidationError
        If the model has errors.
    UnsupportedFeatureError
        For protocol steps SBML events cannot hold here (a clamp or release after time 0,
        two steps on one name at one time).

    Examples
    --------
    >>> import degranulation as dg, tempfile, pathlib
    >>> path = dg.write_sbml(dg.load_model("ige_fceri_crosslinking"),
    ...                      pathlib.Path(tempfile.mkdtemp()) / "ige.xml")
    >>> path.read_text().count("<reaction ")
    2
    """
    from degranulation.formats.sbml.writer import Exporter

    libsbml = _libsbml()
    document = Exporter(libsbml, model, protocol).document
    from degranulation.atomic import write_text

    return write_text(path, libsbml.writeSBMLToString(document))
