"""SMS encoding, length and segments (RULES S4), and the opt-in punctuation normaliser."""

from __future__ import annotations

import pytest

from broadcast.channels.sms_text import (
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_ESCAPE,
    GSM7_EXTENSION,
    SmsAnalysis,
    analyse,
    normalise_punctuation,
    warning,
)

S4_GSM7 = list("éèàùìòÉÇÄÖÜäöüñ")
S4_UCS2 = [*"êâîôûëïçÀÈÊÎÔÙŒœ«»’“”…–", "\u00a0", "\u202f"]
S4_REWRITES = [
    ("’", "'"),
    ("‘", "'"),
    ("«", '"'),
    ("»", '"'),
    ("“", '"'),
    ("”", '"'),
    ("…", "..."),
    ("\u00a0", " "),
    ("\u202f", " "),
    ("–", "-"),
    ("—", "-"),
]


@pytest.mark.parametrize("char", S4_GSM7)
def test_s4_letters_stay_gsm7(char: str) -> None:
    assert analyse(f"Bonjour {char}") == SmsAnalysis("GSM-7", 9, 1, ())


@pytest.mark.parametrize("char", S4_UCS2)
def test_s4_characters_force_ucs2(char: str) -> None:
    analysis = analyse(f"Bonjour {char}")
    assert (analysis.encoding, analysis.units, analysis.segments) == ("UCS-2", 9, 1)
    assert analysis.ucs2_characters == (char,)


def test_gsm7_tables_as_in_03_38() -> None:
    assert len(GSM7_BASIC_TABLE) == 128
    assert GSM7_ESCAPE not in GSM7_BASIC
    assert len(GSM7_BASIC) == 127
    assert set("^{}\\[~]|€") == GSM7_EXTENSION
    assert analyse(GSM7_BASIC_TABLE.replace(GSM7_ESCAPE, "")).encoding == "GSM-7"


def test_escape_character_is_not_usable_text() -> None:
    assert analyse("a\x1bb").ucs2_characters == ("\x1b",)


def test_empty_text_has_no_segment() -> None:
    assert analyse("") == SmsAnalysis("GSM-7", 0, 0, ())


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_extension_characters_count_twice(char: str) -> None:
    assert analyse(char) == SmsAnalysis("GSM-7", 2, 1, ())


@pytest.mark.parametrize(
    ("count", "units", "segments"),
    [(80, 160, 1), (81, 162, 2), (153, 306, 2), (154, 308, 3)],
)
def test_euro_signs_fill_segments_two_septets_each(count: int, units: int, segments: int) -> None:
    assert analyse("€" * count) == SmsAnalysis("GSM-7", units, segments, ())


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (153 * 2, 2), (153 * 2 + 1, 3), (153 * 3, 3), (153 * 3 + 1, 4)],
)
def test_gsm7_segment_boundaries(length: int, segments: int) -> None:
    assert analyse("a" * length) == SmsAnalysis("GSM-7", length, segments, ())


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (67 * 2, 2), (67 * 2 + 1, 3)],
)
def test_ucs2_segment_boundaries(length: int, segments: int) -> None:
    analysis = analyse("ê" + "a" * (length - 1))
    assert (analysis.encoding, analysis.units, analysis.segments) == ("UCS-2", length, segments)


def test_ucs2_counts_utf16_code_units() -> None:
    analysis = analyse("Sortie 🚌 annulée")
    assert analysis.encoding == "UCS-2"
    assert analysis.units == len("Sortie 🚌 annulée") + 1
    assert analysis.ucs2_characters == ("🚌",)


def test_extension_characters_count_once_in_ucs2() -> None:
    assert analyse("ê€").units == 2


def test_issue_example_names_the_one_offending_letter() -> None:
    analysis = analyse("Nous regrettons la gêne occasionnée")
    assert analysis.encoding == "UCS-2"
    assert analysis.ucs2_characters == ("ê",)


def test_offending_characters_distinct_in_order_of_appearance() -> None:
    analysis = analyse("L’école «\u00a0fermée\u00a0» : fête et forêt’")
    assert analysis.ucs2_characters == ("’", "«", "\u00a0", "»", "ê")


@pytest.mark.parametrize(("mark", "replacement"), S4_REWRITES)
def test_normaliser_rewrites_punctuation(mark: str, replacement: str) -> None:
    assert normalise_punctuation(f"a{mark}b") == f"a{replacement}b"


def test_normaliser_strips_spaces_inside_guillemets() -> None:
    assert normalise_punctuation("« Bonjour »") == '"Bonjour"'
    assert normalise_punctuation("«\u00a0Bonjour\u202f»") == '"Bonjour"'


def test_normaliser_never_touches_letters() -> None:
    text = "Nous regrettons la gêne occasionnée, ç Œ œ À"
    assert normalise_punctuation(text) == text


def test_typical_french_sentence_becomes_gsm7_after_normalisation() -> None:
    text = "L’école est fermée demain\u00a0: «\u00a0panne de chauffage\u00a0»… Merci – la direction"
    assert analyse(text).encoding == "UCS-2"
    normalised = normalise_punctuation(text)
    assert normalised == (
        'L\'école est fermée demain : "panne de chauffage"... Merci - la direction'
    )
    assert analyse(normalised) == SmsAnalysis("GSM-7", len(normalised), 1, ())


def test_normalisation_keeps_ucs2_when_a_letter_forces_it() -> None:
    analysis = analyse(normalise_punctuation("Désolés pour la gêne’"))
    assert analysis.ucs2_characters == ("ê",)


def test_no_warning_for_gsm7() -> None:
    assert warning(analyse("Bonjour à tous")) is None
    assert warning(analyse("Bonjour à tous"), "en") is None


def test_warning_in_french_by_default() -> None:
    assert warning(analyse("Nous regrettons la gêne occasionnée")) == (
        "Le message passe en UCS-2 (70 caractères par SMS au lieu de 160) à cause de : ê."
    )


def test_warning_in_english() -> None:
    assert warning(analyse("Nous regrettons la gêne occasionnée"), "en") == (
        "The message switches to UCS-2 (70 characters per SMS instead of 160) because of: ê."
    )
    assert warning(analyse("gêne"), "en-GB") == warning(analyse("gêne"), "en")


def test_warning_names_invisible_spaces() -> None:
    analysis = analyse("forêt\u00a0!\u202f?\t")
    assert warning(analysis) == (
        "Le message passe en UCS-2 (70 caractères par SMS au lieu de 160) à cause de : "
        "ê, espace insécable (U+00A0), espace fine insécable (U+202F), U+0009."
    )
    assert warning(analysis, "en") == (
        "The message switches to UCS-2 (70 characters per SMS instead of 160) because of: "
        "ê, no-break space (U+00A0), narrow no-break space (U+202F), U+0009."
    )
