"""Why a whole file is refused (malformed, unreadable, nothing to import): nothing is changed."""

from __future__ import annotations

from broadcast.core.errors import InvalidInput


class ImportRefused(InvalidInput):
    code = "import_refused"

    def __init__(self, reason_fr: str, reason_en: str) -> None:
        super().__init__(f"Fichier refusé : {reason_fr}", f"File refused: {reason_en}")
