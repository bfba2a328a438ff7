"""The model gallery (docs/gallery, issue 14): every bundled model gets a page from the
generator, and the published checks those pages print are the ones the tests make.

docs/gallery/checks.toml lists, per model, what its tests check against which reference, with
the numbers and tolerances and the test's node id. Here every node id must be collected by
pytest and every number the entry quotes as evidence must be in that test's code, so a test
that changes its reference or tolerance fails until the page says the same.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import degranulation as dg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs" / "_ext"))  # the gallery's Sphinx extension and its helpers

from gallery_checks import CHECKS_FILE, load_checks, missing_evidence  # noqa: E402
from model_gallery import draw_figures, write_gallery  # noqa: E402

CHECKS = load_checks(ROOT / CHECKS_FILE)
MODELS = [info.id for info in dg.list_models()]
ALL_CHECKS = [check for checks in CHECKS.values() for check in checks]


def test_every_bundled_model_has_a_published_check_and_no_other_model_does():
    assert [m for m in MODELS if not CHECKS.get(m)] == [], f"add their checks to {CHECKS_FILE}"
    assert sorted(set(CHECKS) - set(MODELS)) == [], f"{CHECKS_FILE} names models that are not bundled"


def test_every_check_names_a_test_pytest_collects():
    files = sorted({check.path for check in ALL_CHECKS})
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    node_ids = {line.split("[")[0] for line in collected if "::" in line}
    assert [c.test for c in ALL_CHECKS if c.test not in node_ids] == []


@pytest.mark.parametrize("check", ALL_CHECKS, ids=[c.test.split("::")[-1] for c in ALL_CHECKS])
def test_the_numbers_a_page_quotes_are_in_the_test(check):
    assert missing_evidence(ROOT, check) == [], f"{check.test} does not contain them: update {CHECKS_FILE}"


def test_the_record_refuses_an_entry_without_evidence(tmp_path):
    path = tmp_path / "checks.toml"
    path.write_text('[[m]]\nwhat = "x"\nagainst = "y"\ntolerance = "z"\ntest = "t.py::t"\nevidence = []\n')
    with pytest.raises(ValueError, match=r"\[\[m\]\] entry 1: 'evidence' must be a non-empty list"):
        load_checks(path)


def test_the_generator_writes_a_page_for_every_bundled_model(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "removed_model.md").write_text("# a model that is no longer bundled\n")
    pages = write_gallery(folder, ROOT / CHECKS_FILE, draw=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{m}.md" for m in MODELS)
    for page in pages:
        model = dg.load_model(page.stem)
        text = page.read_text(encoding="utf-8")
        assert text.startswith(f"(gallery-{model.id})=\n\n# ")
        for needed in (f"{model.id}_network.png", f"{model.id}_run.png", model.cell_type.split()[0]):
            assert needed in text
        for check in CHECKS[model.id]:
            assert f"`{check.test}`" in text
        for parameter in model.parameters:
            assert f"`{parameter.id}`" in text and parameter.status in text
        for reference in model.references:
            if reference.startswith("doi:"):
                assert f"(https://doi.org/{reference[4:]})" in text


def test_the_gallery_index_lists_the_generated_pages():
    index = (ROOT / "docs" / "gallery" / "index.md").read_text(encoding="utf-8")
    assert ":glob:" in index and "\nmodels/*\n" in index


@pytest.mark.requires_plot
@pytest.mark.parametrize("model_id", ["ige_fceri_crosslinking", "fceri_faeder2003"])
def test_figures_are_drawn_for_a_small_and_the_largest_model(tmp_path, model_id):
    # fceri_faeder2003 (354 species, 3680 reactions) gets the reactions-per-rule summary.
    draw_figures(dg.load_model(model_id), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"{model_id}_network.png", f"{model_id}_run.png"]
