"""SMS encoding, length and segments (RULES S4), and the opt-in punctuation normaliser."""

from __future__ import annotations

import pytest

from broadcast.channels.sms_text import (
    GSM7_BASIC,
    GSM7_BASIC_TABLE,
    GSM7_ESCAPE,
    GSM7_EXTENSION,
    MAX_BODY_CHARS,
    SmsAnalysis,
    analyse,
    body_chars,
    normalise_punctuation,
    segments_warning,
    split_parts,
    too_long_message,
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
    ("\u02bc", "'"),
    ("‚", "'"),
    ("„", '"'),
    ("‹", "'"),
    ("›", "'"),
    ("\u2007", " "),
    ("\u2009", " "),
    ("\u2010", "-"),
    ("\u2011", "-"),
    ("′", "'"),
    ("´", "'"),
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
    assert set("\f^{}\\[~]|€") == GSM7_EXTENSION
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
    [(80, 160, 1), (81, 162, 2), (152, 304, 2), (153, 306, 3), (228, 456, 3), (229, 458, 4)],
)
def test_euro_signs_fill_segments_two_septets_each(count: int, units: int, segments: int) -> None:
    """76 escape pairs fill 152 septets of a 153-septet part: the 77th opens the next part."""
    assert analyse("€" * count) == SmsAnalysis("GSM-7", units, segments, ())


def test_form_feed_is_an_extension_character() -> None:
    assert analyse("a\fb") == SmsAnalysis("GSM-7", 4, 1, ())


@pytest.mark.parametrize(
    ("text", "segments"),
    [("a" * 158 + "€", 1), ("a" * 159 + "€", 2), ("a" * 159 + "\f", 2)],
)
def test_an_escape_pair_counts_whole_against_the_single_sms(text: str, segments: int) -> None:
    assert analyse(text).segments == segments


def test_an_escape_pair_that_does_not_fit_opens_the_next_part() -> None:
    text = "a" * 152 + "€" + "a" * 152  # 306 septets: two full parts if the pair were cut
    assert analyse(text) == SmsAnalysis("GSM-7", 306, 3, ())
    assert split_parts(text) == ["a" * 152, "€" + "a" * 151, "a"]


def test_an_escape_pair_that_fits_exactly_closes_the_part() -> None:
    text = "a" * 151 + "€" + "a" * 153
    assert split_parts(text) == ["a" * 151 + "€", "a" * 153]
    assert analyse(text).segments == 2


def test_a_surrogate_pair_that_does_not_fit_opens_the_next_part() -> None:
    text = "ê" + "a" * 65 + "🚌" + "a" * 66  # 134 UTF-16 units: two full parts if cut
    analysis = analyse(text)
    assert (analysis.encoding, analysis.units, analysis.segments) == ("UCS-2", 134, 3)
    parts = split_parts(text)
    assert parts == ["ê" + "a" * 65, "🚌" + "a" * 65, "a"]
    assert [len(part.encode("utf-16-le")) // 2 for part in parts] == [66, 67, 1]


@pytest.mark.parametrize(("emojis", "extra", "segments"), [(35, "", 1), (35, "a", 2), (67, "", 3)])
def test_surrogate_pairs_against_ucs2_boundaries(emojis: int, extra: str, segments: int) -> None:
    """35 emojis are 70 units (one SMS); split, a 67-unit part holds 33 of them (66 units)."""
    assert analyse("🚌" * emojis + extra).segments == segments


def test_parts_join_back_into_the_text() -> None:
    text = ("Réunion {parents} ~ 18 h € " * 30)[:700]
    assert "".join(split_parts(text)) == text
    assert len(split_parts(text)) == analyse(text).segments


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


def test_normaliser_strips_spaces_inside_single_guillemets() -> None:
    assert normalise_punctuation("‹\u2009mot\u202f›") == "'mot'"


def test_normaliser_never_touches_letters() -> None:
    text = "Nous regrettons la gêne occasionnée, ç Œ œ À é É ë ï ñ"
    assert normalise_punctuation(text) == text


def test_normaliser_makes_keyboard_apostrophes_and_spaces_gsm7() -> None:
    text = "L\u02bcENT de l´école ‚ok‘ „oui“ 10\u2009h\u2007: mise\u2011à\u2010jour 5′"
    normalised = normalise_punctuation(text)
    assert normalised == "L'ENT de l'école 'ok' \"oui\" 10 h : mise-à-jour 5'"
    assert analyse(normalised).encoding == "GSM-7"


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


def test_twilio_body_limit_counts_utf16_units() -> None:
    assert body_chars("a" * MAX_BODY_CHARS) == 1600
    assert body_chars("🚌") == 2
    assert too_long_message("a" * 1600) is None
    assert too_long_message("🚌" * 800) is None
    assert too_long_message("a" * 1599 + "🚌") == (
        "Le SMS ferait 1601 caractères : au-delà de 1600 caractères, limite de l'opérateur "
        "(Twilio, erreur 21617), il ne peut pas être envoyé. Raccourcissez le message."
    )


def test_segments_warning_above_three_segments() -> None:
    assert segments_warning(analyse("a" * 153 * 3)) is None
    assert segments_warning(analyse("a" * (153 * 3 + 1))) == (
        "Chaque SMS sera facturé 4 segments (plus de 3) : raccourcissez le message pour "
        "réduire le coût."
    )
    assert segments_warning(analyse("ê" * (67 * 3 + 1)), "en") == (
        "Each SMS will be billed 4 segments (more than 3): shorten the message to reduce the cost."
    )
