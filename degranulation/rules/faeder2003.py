"""The Faeder et al. 2003 FcεRI network as rules, and the text of the bundled model generated
from them (``python -m degranulation.rules`` rewrites ``models/fceri_faeder2003.toml``)."""

from __future__ import annotations

from typing import Final

from degranulation.rules.builder import RuleModelBuilder

# -- the Faeder et al. 2003 FcεRI network ------------------------------------------------------

#: The published parameters (RuleWorld/bionetgen bng2/Validate/fceri_ji.bngl, biology.md §2.2).
#: Amounts are molecules in the simulated system, 1/1000 of an RBL-2H3 cell; the physical
#: equivalents use 1 nL of medium per cell (ligand) and 1.4 pL of cytosol per cell. The paper's
#: Table I, which says where each value came from, was not available to us: kp1 and kp2 carry
#: the statuses of the ige_fceri_crosslinking model, the others are marked assumed.
FCERI_PARAMETERS: Final = (
    ("kp1", "1.32845238e-7 1/(molecule*s)", "measured",
     "ligand capture per ligand site; 8e4 1/(M*s) per site in 1 nL medium per cell"),
    ("km1", "0 1/s", "assumed", "ligand release per bond (zero: covalently crosslinked IgE dimers)"),
    ("kp2", "0.25 1/(molecule*s)", "fitted",
     "crosslinking by a bound ligand's free site; 2.5e-4 per molecule per cell per s, "
     "~2.1e8 1/(M*s) in 1.4 pL"),
    ("km2", "0 1/s", "assumed", "release of a crosslinking bond (zero, as km1)"),
    ("kpL", "0.05 1/(molecule*s)", "assumed",
     "Lyn unique domain binds unphosphorylated beta; 4.2e7 1/(M*s) in 1.4 pL"),
    ("kmL", "20 1/s", "assumed", "Lyn unique-domain release"),
    ("kpLs", "0.05 1/(molecule*s)", "assumed", "Lyn SH2 binds phosphorylated beta; 4.2e7 1/(M*s) in 1.4 pL"),
    ("kmLs", "0.12 1/s", "assumed", "Lyn SH2 release"),
    ("kpS", "0.06 1/(molecule*s)", "assumed",
     "Syk tandem SH2 binds phosphorylated gamma; 5.1e7 1/(M*s) in 1.4 pL"),
    ("kmS", "0.13 1/s", "assumed", "Syk release"),
    ("pLb", "30 1/s", "assumed", "beta transphosphorylation by unique-domain-bound Lyn"),
    ("pLbs", "100 1/s", "assumed", "beta transphosphorylation by SH2-bound Lyn"),
    ("pLg", "1 1/s", "assumed", "gamma transphosphorylation by unique-domain-bound Lyn"),
    ("pLgs", "3 1/s", "assumed", "gamma transphosphorylation by SH2-bound Lyn"),
    ("pLS", "30 1/s", "assumed", "Syk linker phosphorylation by unique-domain-bound Lyn"),
    ("pLSs", "100 1/s", "assumed", "Syk linker phosphorylation by SH2-bound Lyn"),
    ("pSS", "100 1/s", "assumed",
     "Syk activation-loop transphosphorylation by Syk with an unphosphorylated loop"),
    ("pSSs", "200 1/s", "assumed",
     "Syk activation-loop transphosphorylation by Syk with a phosphorylated loop"),
    ("dm", "20 1/s", "assumed", "dephosphorylation at the membrane (receptor, bound Syk)"),
    ("dc", "20 1/s", "assumed", "dephosphorylation of cytosolic Syk"),
)  # fmt: skip
FCERI_SEEDS: Final = (
    ("Lig(l,l)", "6000 molecule", "Lig",
     "bivalent ligand (covalently crosslinked IgE dimer), free; Lig_tot: 10 nM at 1e6 cells/mL"),
    ("Lyn(U,SH2)", "28 molecule", "Lyn", "Lyn, free; Lyn_tot: 2.8e4 per cell"),
    ("Syk(tSH2,l~Y,a~Y)", "400 molecule", "Syk", "Syk, free and unphosphorylated; Syk_tot: 4e5 per cell"),
    ("Rec(a,b~Y,g~Y)", "400 molecule", "Rec", "IgE-FcεRI, free and unphosphorylated; Rec_tot: 4e5 per cell"),
)  # fmt: skip
FCERI_RULES: Final = (
    ("R1", "Rec(a) + Lig(l,l) <-> Rec(a!1).Lig(l!1,l)", "kp1", "km1"),
    ("R2", "Rec(a) + Lig(l,l!+) <-> Rec(a!2).Lig(l!2,l!+)", "kp2", "km2"),
    ("R3", "Rec(b~Y) + Lyn(U,SH2) <-> Rec(b~Y!1).Lyn(U!1,SH2)", "kpL", "kmL"),
    ("R4", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,b~Y) -> "
           "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,b~pY)", "pLb", None),
    ("R5", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~Y) -> "
           "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY)", "pLg", None),
    ("R6", "Rec(b~pY) + Lyn(U,SH2) <-> Rec(b~pY!1).Lyn(U,SH2!1)", "kpLs", "kmLs"),
    ("R7", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,b~Y) -> "
           "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,b~pY)", "pLbs", None),
    ("R8", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~Y) -> "
           "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY)", "pLgs", None),
    ("R9", "Rec(g~pY) + Syk(tSH2) <-> Rec(g~pY!1).Syk(tSH2!1)", "kpS", "kmS"),
    ("R10", "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~Y) -> "
            "Lig(l!1,l!2).Lyn(U!3,SH2).Rec(a!2,b~Y!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~pY)", "pLS", None),
    ("R11", "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~Y) -> "
            "Lig(l!1,l!2).Lyn(U,SH2!3).Rec(a!2,b~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,l~pY)", "pLSs", None),
    ("R12", "Lig(l!1,l!2).Syk(tSH2!3,a~Y).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~Y) -> "
            "Lig(l!1,l!2).Syk(tSH2!3,a~Y).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~pY)", "pSS", None),
    ("R13", "Lig(l!1,l!2).Syk(tSH2!3,a~pY).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~Y) -> "
            "Lig(l!1,l!2).Syk(tSH2!3,a~pY).Rec(a!2,g~pY!3).Rec(a!1,g~pY!4).Syk(tSH2!4,a~pY)", "pSSs", None),
    ("R14", "Rec(b~pY) -> Rec(b~Y)", "dm", None),
    ("R15", "Rec(g~pY) -> Rec(g~Y)", "dm", None),
    ("R16", "Syk(tSH2!+,l~pY) -> Syk(tSH2!+,l~Y)", "dm", None),
    ("R17", "Syk(tSH2!+,a~pY) -> Syk(tSH2!+,a~Y)", "dm", None),
    ("R18", "Syk(tSH2,l~pY) -> Syk(tSH2,l~Y)", "dc", None),
    ("R19", "Syk(tSH2,a~pY) -> Syk(tSH2,a~Y)", "dc", None),
)  # fmt: skip
FCERI_OBSERVABLES: Final = (
    ("LynFree", ("Lyn(U,SH2)",), "free Lyn"),
    ("RecMon", ("Rec(a)", "Rec(a!1).Lig(l!1,l)"), "receptors not in dimers"),
    ("RecDim", ("Rec.Rec",), "receptors in ligand-bridged dimers"),
    ("RecPbeta", ("Rec(b~pY!?)",), "receptors with phosphorylated beta"),
    ("RecPgamma", ("Rec(g~pY)", "Rec(g~pY!+)"), "phosphorylated gamma ITAMs"),
    ("RecSyk", ("Rec(g~pY!1).Syk(tSH2!1)",), "Syk bound to phosphorylated gamma"),
    ("RecSykPS", ("Rec(g~pY!1).Syk(tSH2!1,a~pY)",), "bound Syk with a phosphorylated activation loop"),
    ("SykTest", ("Syk",), "total Syk (conserved)"),
    ("LynTest", ("Lyn",), "total Lyn (conserved)"),
    ("RecTest", ("Rec",), "total receptor (conserved)"),
)
FCERI_SOURCE: Final = "RuleWorld/bionetgen bng2/Validate/fceri_ji.bngl (biology.md §2.2)"
LIBRARY_HEADER: Final = (
    "# Generated by degranulation.rules.fceri_faeder2003(); do not edit.\n"
    "# Regenerate with: python -m degranulation.rules\n"
)


def fceri_faeder2003(*, gamma_sites: int = 1) -> RuleModelBuilder:
    """The Faeder et al. (2003) FcεRI → Lyn → Syk network as rules (biology.md §2).

    Parameters
    ----------
    gamma_sites : {1, 2}
        ``1`` gives ``fceri_ji`` (354 species, 3680 reactions; the library model
        ``fceri_faeder2003``); ``2`` the receptor with two γ ITAMs, ``fceri_gamma2`` (3744
        species, 58276 reactions; no observables, as in its BioNetGen file).

    Examples
    --------
    >>> from degranulation.rules import fceri_faeder2003
    >>> network = fceri_faeder2003().network()
    >>> len(network.species), len(network.reactions)
    (354, 3680)
    """
    if gamma_sites not in (1, 2):
        raise ValueError(f"gamma_sites must be 1 or 2, got {gamma_sites!r}")
    gamma = ",".join(["g~Y~pY"] * gamma_sites)
    builder = RuleModelBuilder(
        "fceri_faeder2003" if gamma_sites == 1 else "fceri_gamma2",
        title="Early FcεRI signalling: Lyn and Syk activation (Faeder et al. 2003)",
        cell_type="mast cell (RBL-2H3)",
        description=(
            "Bivalent ligand (crosslinked IgE dimer) aggregates IgE-FcεRI into dimers; Lyn bound "
            "to one receptor transphosphorylates the beta and gamma ITAMs of its partner; Syk "
            "binds phosphorylated gamma and is phosphorylated by Lyn (linker) and by Syk on the "
            "partner receptor (activation loop); dephosphorylation acts everywhere except on "
            "SH2-protected sites. Generated by degranulation.rules from the 19 rules of "
            "fceri_ji.bngl with BioNetGen's conventions. Amounts are molecules in the simulated "
            "system, 1/1000 of a cell: Lig 6000 is 10 nM at 1e6 cells/mL (1 nL medium per cell), "
            "Rec and Syk 400 are 4e5 per cell, Lyn 28 is 2.8e4 per cell. Second-order constants "
            "are per molecule of that system; each parameter's description gives its physical "
            "equivalent (1.4 pL cytosol per cell). The seed species Lig, Lyn, Syk and Rec carry "
            "the paper's Lig_tot, Lyn_tot, Syk_tot and Rec_tot as initial amounts."
        ),
        references=("doi:10.4049/jimmunol.170.7.3769", FCERI_SOURCE),
        units={"time": "s", "concentration": "nM", "amount": "molecule"},
    )
    builder.molecule_type("Lig(l,l)").molecule_type("Lyn(U,SH2)")
    builder.molecule_type("Syk(tSH2,l~Y~pY,a~Y~pY)").molecule_type(f"Rec(a,b~Y~pY,{gamma})")
    for name, value, status, description in FCERI_PARAMETERS:
        builder.parameter(name, value, description=description, source=FCERI_SOURCE, status=status)
    for pattern, initial, name, label in FCERI_SEEDS:
        if gamma_sites == 2 and name == "Rec":
            pattern = "Rec(a,b~Y,g~Y,g~Y)"
        builder.seed(pattern, initial, id=name, description=label)
    for name, text, forward, reverse in FCERI_RULES:
        builder.rule(text, forward, reverse, id=name)
    if gamma_sites == 1:
        for name, patterns, description in FCERI_OBSERVABLES:
            builder.observable(name, patterns, description=description)
    return builder


def library_text() -> str:
    """The text of ``models/fceri_faeder2003.toml``, generated from the rules."""
    from degranulation.formats.toml import dumps_model

    return LIBRARY_HEADER + dumps_model(fceri_faeder2003().build())
