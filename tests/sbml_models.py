"""SBML documents made here with libsbml, for the tests that build their own models (libsbml
is the ``sbml`` extra: it is imported only when a test makes a document)."""

from __future__ import annotations

from typing import Any


def one_compartment(model_id: str, compartment: str = "c", *, dimensions: int | None = 3) -> tuple[Any, Any]:
    """A Level 3 Version 2 document and its model, with one constant compartment of size 1
    (``dimensions`` None leaves spatialDimensions unset)."""
    import libsbml

    document = libsbml.SBMLDocument(3, 2)
    model = document.createModel()
    model.setId(model_id)
    size = model.createCompartment()
    size.setId(compartment)
    size.setSize(1.0)
    if dimensions is not None:
        size.setSpatialDimensions(dimensions)
    size.setConstant(True)
    return document, model


def event(model: Any, event_id: str, trigger: str, *, initial_value: bool = False) -> Any:
    """A persistent event of ``model`` triggered by ``trigger`` (Level 3 formula text, written
    in the test), its values taken at trigger time; the caller adds its assignments."""
    import libsbml

    made = model.createEvent()
    made.setId(event_id)
    made.setUseValuesFromTriggerTime(True)
    condition = made.createTrigger()
    condition.setInitialValue(initial_value)
    condition.setPersistent(True)
    condition.setMath(libsbml.parseL3Formula(trigger))
    return made
