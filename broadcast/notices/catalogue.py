"""The services a notice may say are concerned: six built in, more by settings.

A notice stores codes (``ent``, ``messagerie``...); pages and feeds show the label in the
reader's language. ``Settings.extra_notice_services`` adds codes beside the built-in ones (a
département's school transport, a regional canteen booking site...).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from broadcast.core.errors import InvalidInput
from broadcast.settings import ServiceLabels, Settings

BUILT_IN: dict[str, ServiceLabels] = {
    "ent": ServiceLabels(fr="ENT", en="Digital workspace (ENT)"),
    "messagerie": ServiceLabels(fr="Messagerie", en="Messaging"),
    "vie_scolaire": ServiceLabels(fr="Vie scolaire", en="School life (attendance, marks)"),
    "telephone": ServiceLabels(fr="Téléphone", en="Telephone"),
    "restauration": ServiceLabels(fr="Restauration", en="School meals"),
    "transport": ServiceLabels(fr="Transport", en="School transport"),
}


@dataclass(frozen=True, slots=True)
class ServiceCatalogue:
    labels: Mapping[str, ServiceLabels]

    def label(self, code: str, locale: str) -> str:
        """The label in ``locale``; a code no longer configured shows as itself."""
        labels = self.labels.get(code)
        if labels is None:
            return code
        return (labels.en or labels.fr) if locale == "en" else labels.fr

    def check(self, codes: Iterable[str]) -> list[str]:
        """The codes without duplicates, in their order; 422 naming any unknown one."""
        unique = list(dict.fromkeys(codes))
        unknown = [code for code in unique if code not in self.labels]
        if unknown:
            known = ", ".join(self.labels)
            raise InvalidInput(
                f"Service inconnu : {', '.join(unknown)}. Services possibles : {known}.",
                f"Unknown service: {', '.join(unknown)}. Known services: {known}.",
                details=[{"field": "services", "message": f"inconnu : {c}"} for c in unknown],
            )
        return unique


DEFAULT_CATALOGUE = ServiceCatalogue(BUILT_IN)


def catalogue_of(settings: Settings) -> ServiceCatalogue:
    return ServiceCatalogue({**BUILT_IN, **settings.extra_notice_services})
