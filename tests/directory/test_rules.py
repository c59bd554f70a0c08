"""French school data and personal data rules: UAI (F1), phones (F3), masking (R5), tokens."""

from __future__ import annotations

import pytest

from broadcast.core.masking import mask_address, mask_email, mask_phone
from broadcast.directory.phones import normalise_phone
from broadcast.directory.uai import is_valid_uai, make_uai
from broadcast.directory.unsubscribe import read_unsubscribe_token, unsubscribe_token


@pytest.mark.parametrize(
    ("uai", "valid"),
    [
        ("0750654D", True),
        ("0750655E", True),
        ("0750654E", False),
        ("750654D", False),
        ("0750654d", False),
        ("6200001" + "A", make_uai("6200001") == "6200001A"),
    ],
)
def test_uai_check_letter(uai: str, valid: bool) -> None:
    assert is_valid_uai(uai) is valid


@pytest.mark.parametrize(
    ("raw", "e164", "sms"),
    [
        ("06 12 34 56 78", "+33612345678", True),
        ("+33 7 81 23 45 67", "+33781234567", True),
        ("01 23 45 67 89", "+33123456789", False),
        ("0690 12 34 56", "+590690123456", True),
        ("0692 12 34 56", "+262692123456", True),
    ],
)
def test_phones_become_e164_with_france_as_default(raw: str, e164: str, sms: bool) -> None:
    phone = normalise_phone(raw)
    assert phone is not None and phone.e164 == e164 and phone.sms_capable is sms


@pytest.mark.parametrize(
    ("raw", "e164", "territory"),
    [
        ("+33 6 39 01 23 45", "+262639012345", "Mayotte"),
        ("+33 6 90 12 34 56", "+590690123456", "la Guadeloupe"),
        ("0033 691 28 12 34", "+590691281234", "la Guadeloupe"),
        ("+33692123456", "+262692123456", "La Réunion"),
        ("+33 6 93 12 34 56", "+262693123456", "La Réunion"),
        ("0033694201234", "+594694201234", "la Guyane"),
        ("+33 6 96 12 34 56", "+596696123456", "la Martinique"),
        ("+33 6 97 12 34 56", "+596697123456", "la Martinique"),
        ("+33 7 09 30 12 34", "+594709301234", "la Guyane"),
    ],
)
def test_overseas_mobiles_written_with_33_get_their_own_country_code(
    raw: str, e164: str, territory: str
) -> None:
    phone = normalise_phone(raw)
    assert phone is not None and (phone.e164, phone.sms_capable) == (e164, True)
    assert phone.rewrite_note() == (
        f"numéro mobile de {territory} écrit avec l'indicatif +33 : "
        f"enregistré avec l'indicatif {e164[:4]}"
    )


def test_a_number_taken_as_written_has_no_rewrite_note() -> None:
    for raw in ("06 12 34 56 78", "0690 12 34 56", "+590 690 12 34 56"):
        phone = normalise_phone(raw)
        assert phone is not None and phone.rewrite_note() is None, raw
    assert normalise_phone("+33 5 90 12 34 56") is None, "an overseas landline is not rewritten"


def test_garbage_is_not_a_phone() -> None:
    assert normalise_phone("pas un numéro") is None
    assert normalise_phone("06 12") is None


def test_masks_hide_addresses() -> None:
    assert mask_email("jeanne.martin@exemple.fr") == "j***n@e***.fr"
    assert mask_phone("+33612345678") == "+336******78"
    assert "martin" not in mask_address("email", "jeanne.martin@exemple.fr")


def test_unsubscribe_tokens_cannot_be_forged_or_moved() -> None:
    token = unsubscribe_token("secret-one-0123456789", 42)
    assert read_unsubscribe_token("secret-one-0123456789", token) == 42
    assert read_unsubscribe_token("secret-two-0123456789", token) is None
    assert read_unsubscribe_token("secret-one-0123456789", "43." + token.split(".")[1]) is None
    assert read_unsubscribe_token("secret-one-0123456789", "nonsense") is None
