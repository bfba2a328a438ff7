"""SBML hierarchical models (the ``comp`` package): flattened by libsbml's converter at import.

Reference no one here wrote: the closed form of first-order decay, ``A(t) = A0·exp(-k·t)``, in
each instance of a submodel (the ``cell1__A`` naming is libsbml's flattening convention).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import degranulation as dg
from degranulation.formats.sbml import import_sbml
from degranulation.units import registry

try:
    import libsbml
except ImportError:  # every test here is skipped (requires_sbml)
    libsbml = None
pytestmark = pytest.mark.requires_sbml


def _decay_definition(document: object, k: float) -> None:
    """A model definition 'decay': A (1 mol/L in 1 L) -> 0 at rate k·A·V."""
    definition = document.getPlugin("comp").createModelDefinition()
    definition.setId("decay")
    compartment = definition.createCompartment()
    compartment.setId("V")
    compartment.setSize(1.0)
    compartment.setConstant(True)
    compartment.setSpatialDimensions(3)
    species = definition.createSpecies()
    for setter, value in [("setId", "A"), ("setCompartment", "V"), ("setInitialConcentration", 1.0)]:
        getattr(species, setter)(value)
    for flag in ("setHasOnlySubstanceUnits", "setBoundaryCondition", "setConstant"):
        getattr(species, flag)(False)
    parameter = definition.createParameter()
    parameter.setId("k")
    parameter.setValue(k)
    parameter.setConstant(True)
    reaction = definition.createReaction()
    reaction.setId("loss")
    reaction.setReversible(False)
    reaction.setFast(False)
    reactant = reaction.createReactant()
    reactant.setSpecies("A")
    reactant.setStoichiometry(1.0)
    reactant.setConstant(True)
    reaction.createKineticLaw().setMath(libsbml.parseL3Formula("k*A*V"))


def _hierarchical_file(tmp_path: Path, instances: list[str], k: float) -> Path:
    document = libsbml.SBMLDocument(libsbml.SBMLNamespaces(3, 1, "comp", 1))
    document.setPackageRequired("comp", True)
    _decay_definition(document, k)
    model = document.createModel()
    model.setId("two_cells")
    for name in instances:
        submodel = model.getPlugin("comp").createSubmodel()
        submodel.setId(name)
        submodel.setModelRef("decay")
    path = tmp_path / "hierarchical.xml"
    libsbml.writeSBMLToFile(document, str(path))
    return path


def test_each_submodel_instance_is_flattened_and_simulates_its_closed_form(tmp_path: Path) -> None:
    k = 0.3  # 1/s
    path = _hierarchical_file(tmp_path, ["cell1", "cell2"], k)
    model = import_sbml(path).model
    assert sorted(s.id for s in model.species) == ["cell1__A", "cell2__A"]
    times = np.linspace(0.0, 10.0, 11)
    result = dg.simulate(model, t=registry().Quantity(times, "s"), rtol=1e-10, atol=1e-14)
    for name in ("cell1__A", "cell2__A"):
        values = result[name].pint.to("mol/L").pint.magnitude
        np.testing.assert_allclose(values, np.exp(-k * times), rtol=1e-7)


def test_a_submodel_that_cannot_be_resolved_is_refused_naming_the_package(tmp_path: Path) -> None:
    document = libsbml.SBMLDocument(libsbml.SBMLNamespaces(3, 1, "comp", 1))
    document.setPackageRequired("comp", True)
    external = document.getPlugin("comp").createExternalModelDefinition()
    external.setId("elsewhere")
    external.setSource("missing_file.xml")
    model = document.createModel()
    model.setId("main")
    submodel = model.getPlugin("comp").createSubmodel()
    submodel.setId("cell")
    submodel.setModelRef("elsewhere")
    path = tmp_path / "external.xml"
    libsbml.writeSBMLToFile(document, str(path))
    with pytest.raises(dg.UnsupportedFeatureError, match=r"SBML package 'comp' \(Unresolved reference\.\)"):
        import_sbml(path)
