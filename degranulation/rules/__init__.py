"""Rule-based network generation with BioNetGen's semantics, producing an ordinary ``Model``.

Molecules have named sites (components), sites may have internal states (``b~Y``/``b~pY``)
and sites bind each other (``!1``). Rules are written in BioNetGen's language and expanded into
every species and reaction they imply, e.g.::

    Rec(a) + Lig(l,l) <-> Rec(a!1).Lig(l!1,l)

The semantics are BioNetGen's (biology.md §2.1), because they change results:

- A site written without a bond must be **free**; ``!+`` means bound to anything, ``!?``
  bound or not; a site not written at all is not looked at.
- **Statistical factors.** A reaction's rate constant is multiplied by the number of distinct
  events the rule describes on its reactants: distinct sets of (site, new state), bonds made
  and bonds broken. Two equivalent ligand sites give ``2*kp1``; a symmetric dimer whose two
  halves can act on each other gives ``2*pLg``; two identical species reacting (``A + A``)
  count unordered pairs, e.g. ``0.5*kab``.
- The right-hand side's complexes are kept: a rule with ``+`` there does not apply where
  breaking a bond leaves the molecules connected, nor one with ``.`` where they come apart;
  the two complexes of a ``+``-separated left-hand side are always different complexes.

Species are identified up to isomorphism by a canonical label (colour refinement of the
molecule graph, then individualisation of equivalent molecules, keeping the smallest text).
"""

from degranulation.rules.builder import RuleModelBuilder, parse_rule
from degranulation.rules.expansion import GeneratedReaction, Network, Rule
from degranulation.rules.faeder2003 import fceri_faeder2003, library_text
from degranulation.rules.patterns import (
    ANY,
    BOUND,
    FREE,
    Complex,
    GeneratedSpecies,
    MoleculePattern,
    MoleculeType,
    Pattern,
    Site,
    parse_pattern,
)

__all__ = [
    "ANY",
    "BOUND",
    "FREE",
    "Complex",
    "GeneratedReaction",
    "GeneratedSpecies",
    "MoleculePattern",
    "MoleculeType",
    "Network",
    "Pattern",
    "Rule",
    "RuleModelBuilder",
    "Site",
    "fceri_faeder2003",
    "library_text",
    "parse_pattern",
    "parse_rule",
]
