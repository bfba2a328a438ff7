"""``python -m degranulation.rules`` rewrites ``models/fceri_faeder2003.toml`` from the rules."""

from degranulation.library import models_folder
from degranulation.rules.faeder2003 import library_text

target = models_folder() / "fceri_faeder2003.toml"
target.write_text(library_text(), encoding="utf-8")
print(f"wrote {target}")
