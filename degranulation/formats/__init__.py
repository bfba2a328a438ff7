"""Model formats, each read into (and some written from) a :class:`~degranulation.network.Model`:
TOML model files (:mod:`~degranulation.formats.toml`), SBML (:mod:`~degranulation.formats.sbml`,
the ``sbml`` extra) and BioNetGen networks (:mod:`~degranulation.formats.bngnet`). They depend
only on the model layer below them (network, schema, expressions, units)."""
