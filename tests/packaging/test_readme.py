"""Every code block of README.md and models/README.md runs as written (issue 15: a README line
raised, others were placeholders), so the READMEs cannot drift from the code.

``python`` blocks run in order in one namespace per file, in a temporary folder, with every
warning an error (nothing the README shows may warn). ``bash`` blocks run each
``degranulation ...`` command as ``python -m degranulation ...`` in a temporary folder holding
what a clone has there (``models/data``); each must exit 0. Installing the package and running
the suite (the set-up commands) are what this run already did, and ``.ci/run`` builds the
documentation, so those parts are skipped;
any other command fails the test, so that a new kind of line gets a way to be checked.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import degranulation
from degranulation.library import models_folder

ROOT = Path(__file__).resolve().parents[2]
READMES = ("README.md", "models/README.md")
BLOCK_RE = re.compile(r"^```(?P<lang>\w+)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
SKIPPED = ("python -m pip install", "python -m pytest", "python -m sphinx")  # .ci/run does these
# what a command needs beyond the core package, found from its text
EXTRAS = {".xml": ("libsbml", "sbml"), "--plot": ("matplotlib", "plot")}


def blocks(readme: str, lang: str) -> list[str]:
    text = (ROOT / readme).read_text(encoding="utf-8")
    return [m["body"] for m in BLOCK_RE.finditer(text) if m["lang"] == lang]


def commands(block: str) -> list[list[str]]:
    """The commands of a bash block: continuation lines joined, comments dropped, ``&&`` split."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            found.append(words[:cut])
            words = words[cut + 1 :]
    return found


def test_the_readmes_have_the_blocks_this_test_runs():
    assert len(blocks("README.md", "python")) == 2
    assert len(blocks("README.md", "bash")) == 4
    assert {m["lang"] for r in READMES for m in BLOCK_RE.finditer((ROOT / r).read_text())} <= {
        "python",
        "bash",
        "toml",
    }
    assert blocks("README.md", "bash")[0].count("python -m pip install") == 2  # set-up is kept
    assert not blocks("models/README.md", "python") and not blocks("models/README.md", "bash")


@pytest.mark.parametrize("readme", [r for r in READMES if blocks(r, "python")])
def test_python_blocks_run_without_warnings(readme, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "readme"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k, block in enumerate(blocks(readme, "python")):
            # the project's own README, run as doctest runs docstrings (never user or model text)
            exec(compile(block, f"{readme} python block {k + 1}", "exec"), namespace)
    if readme == "README.md":
        assert float(namespace["ds"]["RecDim"].sel(time=600).pint.magnitude) > 0
        assert (tmp_path / "run.nc").is_file() and (tmp_path / "binding.toml").is_file()


def _cli(words: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    package_root = str(Path(degranulation.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, "-m", "degranulation", *words[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.parametrize("readme", [r for r in READMES if blocks(r, "bash")])
def test_bash_blocks_run_and_exit_0(readme, tmp_path):
    """The blocks of one README run in order in one folder (a later line may read what an
    earlier one wrote, as a reader's shell would)."""
    shutil.copytree(models_folder() / "data", tmp_path / "models" / "data")  # as in a clone
    missing = []
    for words in [words for block in blocks(readme, "bash") for words in commands(block)]:
        text = shlex.join(words)
        if text.startswith(SKIPPED):
            continue
        assert words[0] == "degranulation", f"{readme}: no way to check '{text}'"
        needs = [extra for needle, (module, extra) in EXTRAS.items() if needle in text and not _has(module)]
        if needs:
            missing.append(f"'{text}' needs the {' and '.join(needs)} extra")
            continue
        done = _cli(words, tmp_path)
        assert done.returncode == 0, f"{readme}: '{text}' exited {done.returncode}: {done.stderr}"
    if missing:
        pytest.skip("; ".join(missing))


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None
