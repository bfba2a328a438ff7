"""Rule expansion against BioNetGen's own generated networks, and BioNetGen's semantics on
small cases whose statistical factors are worked out by hand in the comments."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from data_files import DATA, read_text

from degranulation.errors import ModelError, UnsupportedFeatureError
from degranulation.rules import RuleModelBuilder, fceri_faeder2003

BIONETGEN = DATA / "bionetgen"


def bionetgen_network(builder: RuleModelBuilder, name: str) -> tuple[set[str], Counter]:
    """Species (canonical text) and reactions (reactants, products, rate constant, statistical
    factor) of BioNetGen's ``NAME.net``."""
    text = read_text(BIONETGEN / name / f"{name}.net")

    def block(title: str) -> list[list[str]]:
        body = re.search(rf"^begin {title}\n(.*?)^end {title}", text, re.S | re.M)[1]
        return [line.split("#")[0].split() for line in body.splitlines() if line.strip()]

    species = {int(fields[0]): builder.canonical(fields[1]) for fields in block("species")}
    reactions: Counter = Counter()
    for _, left, right, rate in block("reactions"):
        factor, _, constant = rate.rpartition("*")
        reactions[
            (
                tuple(sorted(species[int(i)] for i in left.split(",") if i != "0")),
                tuple(sorted(species[int(i)] for i in right.split(",") if i != "0")),
                constant,
                float(factor or 1),
            )
        ] += 1
    return set(species.values()), reactions


def generated_network(builder: RuleModelBuilder) -> tuple[set[str], Counter]:
    network = builder.network()
    labels = [s.label for s in network.species]
    reactions = Counter(
        (
            tuple(sorted(labels[i] for i in r.reactants)),
            tuple(sorted(labels[i] for i in r.products)),
            r.rate,
            r.factor,
        )
        for r in network.reactions
    )
    return set(labels), reactions


def test_fceri_ji_is_bionetgens_network():
    # fceri_ji.net (BioNetGen 2.9.3): 354 species, 3680 reactions with statistical factors.
    builder = fceri_faeder2003()
    species, reactions = generated_network(builder)
    expected_species, expected_reactions = bionetgen_network(builder, "fceri_ji")
    assert (len(species), sum(reactions.values())) == (354, 3680)
    assert species == expected_species
    assert reactions == expected_reactions


@pytest.mark.slow
def test_fceri_gamma2_is_bionetgens_network():
    # fceri_gamma2.net: the receptor with two gamma ITAMs, 3744 species, 58276 reactions.
    builder = fceri_faeder2003(gamma_sites=2)
    species, reactions = generated_network(builder)
    expected_species, expected_reactions = bionetgen_network(builder, "fceri_gamma2")
    assert (len(species), sum(reactions.values())) == (3744, 58276)
    assert species == expected_species
    assert reactions == expected_reactions


def toy_jim() -> RuleModelBuilder:
    """toy-jim.bngl's rules: symmetric dimerisation of identical two-molecule patterns and
    rules on two molecules that are only in the same complex (``K(Y~U).K(Y~U)``)."""
    builder = RuleModelBuilder("toy_jim", units={"time": "s", "amount": "molecule"})
    for text in ("L(r)", "R(l,r,a)", "A(r,k)", "K(a,Y~U~P)", "Null()"):
        builder.molecule_type(text)
    for name in ("kpL", "kpD", "kpA", "kpK"):
        builder.parameter(name, "0.1 1/(molecule*s)")
    for name in ("kmL", "kmD", "kmA", "kmK", "pK", "pKs", "dM", "dC"):
        builder.parameter(name, "1 1/s")
    for text in ("L(r)", "R(l,r,a)", "A(r,k)", "K(a,Y~U)", "Null()"):
        builder.seed(text, "1 molecule")
    builder.rule("L(r) + R(l,r) <-> L(r!1).R(l!1,r)", "kpL", "kmL")
    builder.rule("L(r!1).R(l!1,r) + L(r!1).R(l!1,r) <-> L(r!1).R(l!1,r!3).L(r!2).R(l!2,r!3)", "kpD", "kmD")
    builder.rule("A(r) + R(a) <-> A(r!1).R(a!1)", "kpA", "kmA")
    builder.rule("A(k) + K(a) <-> A(k!1).K(a!1)", "kpK", "kmK")
    builder.rule("K(Y~U).K(Y~U) -> K(Y~U).K(Y~P)", "pK")
    builder.rule("K(Y~P).K(Y~U) -> K(Y~P).K(Y~P)", "pKs")
    builder.rule("R(a!1).A(r!1,k!2).K(a!2,Y~P) -> R(a!1).A(r!1,k!2).K(a!2,Y~U)", "dM")
    builder.rule("K(a,Y~P) -> K(a,Y~U)", "dC")
    return builder


def test_toy_jim_is_bionetgens_network():
    builder = toy_jim()
    species, reactions = generated_network(builder)
    expected_species, expected_reactions = bionetgen_network(builder, "toy-jim")
    assert (len(species), sum(reactions.values())) == (25, 101)
    assert species == expected_species
    assert reactions == expected_reactions


def small(*rules: tuple[str, str, str | None], seeds=("A(x)",), types=("A(x)",)) -> dict[str, str]:
    """``{equation in canonical species text: rate}`` of a small rule set."""
    builder = RuleModelBuilder("small", units={"time": "s", "amount": "molecule"})
    for text in types:
        builder.molecule_type(text)
    used = {name for _, forward, reverse in rules for name in (forward, reverse) if name}
    for name in sorted(used):  # k: second order (binding), kr: first order
        builder.parameter(name, "1 1/(molecule*s)" if name == "k" else "1 1/s")
    for text in seeds:
        builder.seed(text, "1 molecule")
    for text, forward, reverse in rules:
        builder.rule(text, forward, reverse)
    model = builder.build()
    label = {s.id: s.label for s in model.species}

    def side(text: str) -> str:
        terms = []
        for term in text.split(" + "):
            count, _, name = term.rpartition(" ")
            terms += [label[name]] * int(count or 1)
        return " + ".join(terms)

    return {" -> ".join(side(s) for s in r.equation.split(" -> ")): r.rate for r in model.reactions}


def test_identical_reactants_count_unordered_pairs():
    # A + A -> A.A: N^2/2 pairs, one bond each: 0.5*k; the dimer has one bond to break: kr.
    assert small(("A(x) + A(x) <-> A(x!1).A(x!1)", "k", "kr")) == {
        "A(x) + A(x) -> A(x!1).A(x!1)": "mass_action(0.5*k)",
        "A(x!1).A(x!1) -> A(x) + A(x)": "mass_action(kr)",
    }


def test_two_equivalent_sites_on_each_partner():
    # D(x,x) + D(x,x) -> dimer: 4 site pairs per molecule pair over N^2/2 pairs: 2*k
    # (test_fixed.net, reaction 10: 9,9 -> 10 2*k_bind). The chain stops at dimers because
    # only free D may bind here.
    rates = small(("D(x,x) + D(x,x) -> D(x,x!1).D(x,x!1)", "k", None), seeds=("D(x,x)",), types=("D(x,x)",))
    assert rates == {"D(x,x) + D(x,x) -> D(x,x!1).D(x,x!1)": "mass_action(2*k)"}


def test_unwritten_bond_means_free():
    # Dephosphorylation written without a bond does not act on the SH2-protected site.
    rates = small(
        ("R(b~P) -> R(b~U)", "kr", None),
        ("R(b~P) + S(h) <-> R(b~P!1).S(h!1)", "k", "kr"),
        seeds=("R(b~P)", "S(h)"),
        types=("R(b~U~P)", "S(h)"),
    )
    assert rates == {
        "R(b~P) -> R(b~U)": "mass_action(kr)",
        "R(b~P) + S(h) -> R(b~P!1).S(h!1)": "mass_action(k)",
        "R(b~P!1).S(h!1) -> R(b~P) + S(h)": "mass_action(kr)",
    }


def test_breaking_a_bond_inside_a_ring_is_not_a_dissociation():
    # A(x,x) and B(y,y) closed into a ring by two bonds: '+' on the right needs two complexes,
    # so only the ring-opening rule written with '.' applies to the ring (and not to the open
    # chain, where breaking the last bond would separate the molecules).
    types = ("A(x,x)", "B(y,y)")
    ring = "A(x!1,x!2).B(y!1,y!2)"
    builder = RuleModelBuilder("ring", units={"time": "s", "amount": "molecule"})
    builder.molecule_type(types[0]).molecule_type(types[1]).seed(ring, "1 molecule")
    builder.rule("A(x!1).B(y!1) -> A(x) + B(y)", "kr")
    assert builder.network().reactions == []
    opened = small(("A(x!1).B(y!1) -> A(x).B(y)", "kr", None), seeds=(ring,), types=types)
    # Either of the two bonds breaks, giving the same open chain: factor 2.
    assert opened == {"A(x!1,x!2).B(y!1,y!2) -> A(x,x!1).B(y,y!1)": "mass_action(2*kr)"}


def test_canonical_text_ignores_order_and_naming():
    builder = fceri_faeder2003()
    written = [
        "Lig(l!1,l!2).Rec(a!1,b~Y,g~pY).Rec(a!2,b~pY,g~Y)",
        "Rec(g~Y,b~pY,a!7).Lig(l!3,l!7).Rec(a!3,g~pY,b~Y)",
    ]
    assert builder.canonical(written[0]) == builder.canonical(written[1])
    assert builder.canonical(written[0]) != builder.canonical(
        "Lig(l!1,l!2).Rec(a!1,b~Y,g~Y).Rec(a!2,b~pY,g~pY)"
    )


def test_molecules_observables_count_every_match():
    # BioNetGen's tlbr.net groups: L(r,r,r) counts 6 for a free ligand (3! site orders),
    # a 'Species' observable counts the species once.
    builder = RuleModelBuilder("tri", units={"time": "s", "amount": "molecule"})
    builder.molecule_type("L(r,r,r)").seed("L(r,r,r)", "5 molecule", id="L")
    model = builder.observable("L0", "L(r,r,r)").observable("free", "L(r,r,r)", kind="Species").build()
    assert {o.id: o.expr for o in model.observables} == {"L0": "6*L", "free": "L"}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        (lambda b: b.rule("Q(x) -> Q(y)", "k"), ModelError, "unknown molecule type 'Q'"),
        (lambda b: b.rule("A(z) -> A(z)", "k"), ModelError, "'A' has no site 'z'"),
        (lambda b: b.rule("A(x~Q) -> A(x~U)", "k"), ModelError, "has no state 'Q'"),
        (lambda b: b.rule("A(x) <-> A(x)", "k"), ModelError, "needs two rate constants"),
        (lambda b: b.rule("A(x) -> A(x) + A(x)", "k"), UnsupportedFeatureError, "creating molecules"),
        (lambda b: b.seed("A()", "1 molecule"), ModelError, "must list every site"),
        (lambda b: b.rule("A(x!1) -> A(x)", "k"), ModelError, "bond !1 must join exactly two sites"),
        (lambda b: b.rule("A(x) => A(x)", "k"), ModelError, "no arrow"),
    ],
)
def test_bad_rules_are_refused(change, error, message):
    builder = RuleModelBuilder("bad", units={"time": "s", "amount": "molecule"})
    builder.molecule_type("A(x~U~P)").parameter("k", "1 1/s").seed("A(x~U)", "1 molecule")
    with pytest.raises(error, match=re.escape(message)):
        change(builder)
        builder.build()


def test_unbounded_polymerisation_stops_with_a_clear_error():
    builder = RuleModelBuilder("chains", units={"time": "s", "amount": "molecule"})
    builder.molecule_type("D(x,x)").parameter("k", "1 1/(molecule*s)").seed("D(x,x)", "1 molecule")
    builder.rule("D(x) + D(x) -> D(x!1).D(x!1)", "k")
    with pytest.raises(ModelError, match="more than 50 species"):
        builder.network(max_species=50)
