"""The report of one import run: counts and the rows refused, with their reasons in French."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MAX_REJECTIONS = 1000
"""Rejections kept in the report; ``rejected`` counts them all."""


@dataclass
class ImportReport:
    rows_read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    left: int = 0
    skipped: int = 0
    """Elements read that are not contacts to import (a SIECLE link to a non-legal contact)."""
    rejections: list[dict[str, Any]] = field(default_factory=list)
    remarks: int = 0
    sources: set[str] = field(default_factory=set)
    """Rejections and refused addresses, kept or not."""

    def reject(self, row: int, reason: str, *, file: str, external_id: str = "") -> None:
        self.rejected += 1
        self._note({"row": row, "reason": reason, "file": file, "id": external_id})

    def skip(self, row: int, reason: str, *, file: str, external_id: str = "") -> None:
        self.skipped += 1
        self._note({"row": row, "reason": reason, "file": file, "id": external_id, "skipped": True})

    def note(self, row: int, reason: str, *, file: str, external_id: str = "") -> None:
        """An address refused in a row that was imported with its other addresses."""
        self._note(
            {"row": row, "reason": reason, "file": file, "id": external_id, "imported": True}
        )

    def remark(self, row: int, remark: str, *, file: str, external_id: str = "") -> None:
        """A remark on a row imported anyway: an address corrected, a number not used."""
        self._note(
            {
                "row": row,
                "reason": remark,
                "file": file,
                "id": external_id,
                "imported": True,
                "remark": True,
            }
        )

    def _note(self, entry: dict[str, Any]) -> None:
        self.remarks += 1
        if len(self.rejections) < MAX_REJECTIONS:
            self.rejections.append(entry)

    def counts(self) -> dict[str, int]:
        return {
            "rows_read": self.rows_read,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected,
            "left": self.left,
            "skipped": self.skipped,
        }


_SUFFIXES = {
    (False, False): "",  # a rejection, or a skipped element: the reason says it
    (True, False): " (ligne importée sans cette adresse)",
    (True, True): " (ligne importée)",
    (False, True): "",
}


def format_report(report: ImportReport, *, dry_run: bool = False) -> list[str]:
    """The report as a person reads it, in French."""
    lines = [
        ("Simulation (rien n'a été enregistré) : " if dry_run else "")
        + f"{report.rows_read} ligne(s) lue(s), {report.created} contact(s) créé(s), "
        f"{report.updated} mis à jour, {report.unchanged} inchangé(s), "
        f"{report.rejected} rejeté(s), {report.left} marqué(s) comme parti(s)"
        + (f", {report.skipped} ignorée(s)." if report.skipped else ".")
    ]
    for entry in report.rejections:
        suffix = _SUFFIXES[(bool(entry.get("imported")), bool(entry.get("remark")))]
        ident = f" [{entry['id']}]" if entry.get("id") else ""
        lines.append(f"{entry['file']}, ligne {entry['row']}{ident} : {entry['reason']}{suffix}")
    if report.remarks > len(report.rejections):
        lines.append(f"(seules les {len(report.rejections)} premières remarques sont listées)")
    return lines
