"""How references are recognised (softcollect_aging.domain.matching's rules)."""

from __future__ import annotations

from softcollect_aging.domain.matching import Catalogue, find_in_remittance, normalize_ref, resolve_refs

CATALOGUE = Catalogue([("INV-1002", "2026/1002"), ("INV-1003", "2026/1003"), ("INV-77", "77")])


def test_normalisation_sets_aside_case_separators_and_look_alikes():
    assert normalize_ref("2026/1O02") == normalize_ref("2026-1002") == normalize_ref("2026 1002") == "20261002"
    assert normalize_ref("inv-1002") == normalize_ref("INV-1OO2")


def test_invoice_refs_by_id_number_or_normalised_and_unknown_ones_kept_apart():
    named, unknown = resolve_refs(["2026/1003", "INV-1002", "2026-1003", "2026/1004", "77"], CATALOGUE)
    assert named == ["INV-1003", "INV-1002", "INV-77"]
    assert unknown == ["2026/1004"]  # not one typo away from 1003: a structured reference is never guessed


def test_remittance_in_order_of_appearance_with_typos():
    text = "Saldo ft. 2026/1O03 e fattura nr.2026/1002, rif INV-1002"
    assert find_in_remittance(text, CATALOGUE) == ["INV-1003", "INV-1002"]


def test_remittance_exact_number_is_never_taken_for_its_neighbour():
    both = Catalogue([("A", "2026/1002"), ("B", "2026/1003")])
    assert find_in_remittance("2026/1003", both) == ["B"]
    # with no invoice 2026/1003 known, one wrong digit is a typo of the only invoice that close
    assert find_in_remittance("2026/1003", Catalogue([("A", "2026/1002")])) == ["A"]


def test_one_edit_away_only_when_a_single_invoice_is_that_close_and_long_enough():
    assert find_in_remittance("2026/10002", CATALOGUE) == ["INV-1002"]
    assert find_in_remittance("2026/100", CATALOGUE) == []  # as close to 1002 as to 1003
    assert find_in_remittance("78", CATALOGUE) == []  # too short to guess
    assert find_in_remittance("pagamento merce consegnata", CATALOGUE) == []
