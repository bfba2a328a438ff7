"""Hostile and broken SBML (issue 16): each file gets a clean, located error in a few seconds,
never a hang, a crash of the process or a traceback. Each case runs the CLI in a child process
with a timeout, since the defects were an endless loop, a SIGSEGV and an exponential blow-up."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("libsbml")

import degranulation as dg

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<sbml xmlns="http://www.sbml.org/sbml/level3/version2/core" level="3" version="2">
<model id="m" substanceUnits="mole" timeUnits="second" volumeUnits="litre" extentUnits="mole">
"""
MATH = 'xmlns="http://www.w3.org/1998/Math/MathML"'


def document(functions: str = "", species: str = "A", law: str = "", stoichiometry: str = "1") -> str:
    law = law or f"<apply><times/><ci>k</ci><ci>{species}</ci></apply>"
    return f"""{HEAD}{functions}
<listOfCompartments><compartment id="c" size="1" constant="true" spatialDimensions="3"/></listOfCompartments>
<listOfSpecies>
<species id="{species}" compartment="c" initialConcentration="1" hasOnlySubstanceUnits="false"
 boundaryCondition="false" constant="false"/>
<species id="B" compartment="c" initialConcentration="0" hasOnlySubstanceUnits="false"
 boundaryCondition="false" constant="false"/>
</listOfSpecies>
<listOfParameters><parameter id="k" value="0.1" constant="true"/></listOfParameters>
<listOfReactions><reaction id="r" reversible="false">
<listOfReactants><speciesReference species="{species}" stoichiometry="{stoichiometry}" constant="true"/>
</listOfReactants>
<listOfProducts><speciesReference species="B" stoichiometry="1" constant="true"/></listOfProducts>
<kineticLaw><math {MATH}>{law}</math></kineticLaw>
</reaction></listOfReactions></model></sbml>
"""


def function(name: str, body: str) -> str:
    lambda_ = f"<lambda><bvar><ci>x</ci></bvar>{body}</lambda>"
    return f'<functionDefinition id="{name}"><math {MATH}>{lambda_}</math></functionDefinition>'


def functions(*definitions: str) -> str:
    return f"<listOfFunctionDefinitions>{''.join(definitions)}</listOfFunctionDefinitions>"


def call(name: str, arg: str = "<ci>x</ci>") -> str:
    return f"<apply><ci>{name}</ci>{arg}</apply>"


def validate(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "model.xml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "degranulation", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_species_id_starting_with_two_underscores_is_renamed(tmp_path: Path) -> None:
    result = validate(tmp_path, document(species="__A"))  # looped forever appending '_'
    assert result.returncode == 0, result.stderr
    model = dg.load_model(tmp_path / "model.xml")
    assert [s.id for s in model.species] == ["u__A", "B"]
    ds = dg.simulate(model, t="10 s")
    # dA/dt = -k A with k = 0.1/s, A(0) = 1 M: A(10 s) = exp(-1) M.
    assert ds["u__A"].values[-1] == pytest.approx(0.36787944, rel=1e-4)


CASES = {
    "cycle": (
        document(
            functions(function("f", call("g")), function("g", call("f"))),
            law=f"<apply><times/><ci>k</ci>{call('f', '<ci>A</ci>')}</apply>",
        ),
        "functionDefinition 'f': function definitions call each other in a cycle: f -> g -> f",
    ),
    "exponential": (
        document(
            functions(
                function("f0", "<ci>x</ci>"),
                *(
                    function(f"f{i}", f"<apply><plus/>{call(f'f{i - 1}')}{call(f'f{i - 1}')}</apply>")
                    for i in range(1, 41)
                ),
            ),
            law=f"<apply><times/><ci>k</ci>{call('f40', '<ci>A</ci>')}</apply>",
        ),
        "functionDefinition 'f16': math grows to more than 100000 nodes once its function definitions "
        "are inlined",
    ),
    "deep": (
        document(
            law="<apply><minus/>" * 3000 + "<apply><times/><ci>k</ci><ci>A</ci></apply>" + "</apply>" * 3000
        ),
        "kineticLaw of reaction 'r': math is nested more than 400 levels deep",
    ),
    "time_id": (document(species="time"), "species 'time': the species id 'time' is not supported"),
    "divide_by_zero": (
        document(
            law="<apply><times/><ci>k</ci><ci>A</ci><apply><divide/><cn>1</cn><cn>0</cn></apply></apply>"
        ),
        "division by zero in '1 / 0' (kinetic law of reaction 'r')",
    ),
    "rational_zero": (
        document(law="<apply><times/><ci>k</ci><ci>A</ci><cn type='rational'>1<sep/>0</cn></apply>"),
        "the rational number 1/0 (division by zero) (kinetic law of reaction 'r')",
    ),
    "huge_stoichiometry": (
        document(stoichiometry="1e300"),
        "stoichiometry 1e+300 of 'A' in reaction 'r' (only finite numbers up to 1e+06 in size are supported)",
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_hostile_sbml_gets_one_located_line(name: str, tmp_path: Path) -> None:
    text, expected = CASES[name]
    result = validate(tmp_path, text)
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(str(tmp_path / "model.xml") in line for line in lines)
    assert any(expected in line for line in lines), lines
