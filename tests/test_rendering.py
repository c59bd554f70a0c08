"""Sandboxed Jinja2 rendering of message templates (RULES A5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from jinja2 import UndefinedError
from jinja2.exceptions import TemplateNotFound

from broadcast.rendering import UNSUBSCRIBE_PLACEHOLDER, PlainValue, Renderer


def notice_context(**overrides: PlainValue) -> dict[str, PlainValue]:
    context: dict[str, PlainValue] = {
        "notice_id": 7,
        "notice_title": "ENT indisponible",
        "notice_status": "investigating",
        "update_message": "Le service est interrompu.",
        "organisation_name": "Académie de Lyon",
        "urgent": False,
        "public_url": "http://127.0.0.1:8000/status/7",
        "unsubscribe_url": UNSUBSCRIBE_PLACEHOLDER,
    }
    context.update(overrides)
    return context


def test_email_notice_has_subject_text_and_html_in_french() -> None:
    parts = Renderer().render("email", "notice", "fr", notice_context())

    assert set(parts) == {"subject", "text", "html"}
    assert parts["subject"].strip() == "[Académie de Lyon] ENT indisponible"
    for body in (parts["text"], parts["html"]):
        assert "Incident en cours d’analyse" in body
        assert "Le service est interrompu." in body
        assert "http://127.0.0.1:8000/status/7" in body
        assert UNSUBSCRIBE_PLACEHOLDER in body


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("investigating", "Incident en cours d’analyse"),
        ("identified", "Cause identifiée"),
        ("monitoring", "Sous surveillance"),
        ("resolved", "Résolu"),
    ],
)
def test_status_is_written_in_words(status: str, words: str) -> None:
    parts = Renderer().render("email", "notice", "fr", notice_context(notice_status=status))

    assert words in parts["text"]
    assert words in parts["html"]


def test_html_is_escaped_and_text_is_not() -> None:
    message = '<script>alert("x")</script> & co'
    parts = Renderer().render("email", "notice", "fr", notice_context(update_message=message))

    assert "<script>" not in parts["html"]
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; co" in parts["html"]
    assert message in parts["text"]


def test_unknown_locale_falls_back_to_french() -> None:
    parts = Renderer().render("email", "notice", "de", notice_context())

    assert "État" in parts["text"]
    assert '<html lang="fr">' in parts["html"]


def test_regional_locale_falls_back_to_its_language() -> None:
    parts = Renderer().render("email", "notice", "en-GB", notice_context())

    assert "Incident under investigation" in parts["text"]
    assert '<html lang="en">' in parts["html"]


def test_urgent_notice_has_no_unsubscribe_footer() -> None:
    context = notice_context(urgent=True, unsubscribe_url=None, public_url=None)
    parts = Renderer().render("email", "notice", "fr", context)

    assert "courriel" not in parts["text"]
    assert "<a " not in parts["html"]


def test_missing_context_value_is_an_error() -> None:
    context = notice_context()
    del context["notice_title"]

    with pytest.raises(UndefinedError):
        Renderer().render("email", "notice", "fr", context)


def test_only_plain_values_reach_a_template() -> None:
    context: dict[str, object] = {**notice_context(), "notice_title": Path("/etc")}

    with pytest.raises(TypeError):
        Renderer().render("email", "notice", "fr", context)  # type: ignore[arg-type]


def test_sandbox_blocks_unsafe_attribute_access(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "evil.fr.txt").write_text("{{ name.__class__.__mro__ }}")

    with pytest.raises(Exception, match="unsafe"):
        Renderer(tmp_path).render("sms", "evil", "fr", {"name": "x"})


def test_templates_folder_can_be_overridden(tmp_path: Path) -> None:
    (tmp_path / "sms").mkdir()
    (tmp_path / "sms" / "notice.fr.txt").write_text("{{ notice_title }} : {{ update_message }}")

    parts = Renderer(tmp_path).render("sms", "notice", "en", notice_context())

    assert parts == {"text": "ENT indisponible : Le service est interrompu."}


def test_names_cannot_leave_the_templates_folder() -> None:
    with pytest.raises(ValueError, match="invalid template"):
        Renderer().render("email", "../notice", "fr", notice_context())


def test_missing_template_is_reported() -> None:
    with pytest.raises(TemplateNotFound):
        Renderer().render("email", "absent", "fr", notice_context())
