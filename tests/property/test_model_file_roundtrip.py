"""Property test: writing a model as TOML and reading it back gives the same model."""

from __future__ import annotations

import dataclasses

from hypothesis import given
from hypothesis import strategies as st

from degranulation.formats.toml import dumps_model, loads_model
from degranulation.network import Model, UnitValue
from degranulation.testing.strategies import networks

# Any Unicode text, including quotes, backslashes, newlines and control characters that TOML
# must escape (surrogates cannot be encoded as UTF-8, so no file can hold them).
_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)
# Every finite float, subnormals and -0.0 included: values must survive as text exactly.
_FLOATS = st.floats(allow_nan=False, allow_infinity=False)


@given(model=networks(text=_TEXT), data=st.data())
def test_toml_write_then_read_is_the_identity(model: Model, data: st.DataObject) -> None:
    values = data.draw(st.lists(_FLOATS, min_size=len(model.species), max_size=len(model.species)))
    model = model.replace(
        species=tuple(
            dataclasses.replace(s, initial=UnitValue(v, s.initial.unit))
            for s, v in zip(model.species, values, strict=True)
        )
    )
    text = dumps_model(model)
    again = loads_model(text)
    assert again == model
    assert again.content_hash == model.content_hash
    assert dumps_model(again) == text  # and writing is stable
