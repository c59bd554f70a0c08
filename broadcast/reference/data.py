"""The French education map as of the 2020 reform (Normandie one académie, Mayotte its own):
18 régions académiques, 30 académies, 101 départements (2A/2B and the five overseas ones).

Codes are the ``Organisation.code`` of each node. A région académique whose name is also the
name of its single académie (Corse, Normandie, the overseas ones) takes the prefix ``RA-`` so
that the two codes differ; the others are the upper-case name (``GRAND-EST``, ``STRASBOURG``),
as the demo seed uses them.
"""

from __future__ import annotations

from typing import NamedTuple


class Region(NamedTuple):
    code: str
    name: str


class Academie(NamedTuple):
    code: str
    name: str
    region: str


class Departement(NamedTuple):
    code: str
    name: str
    academie: str


REGIONS: tuple[Region, ...] = (
    Region("AUVERGNE-RHONE-ALPES", "Auvergne-Rhône-Alpes"),
    Region("BOURGOGNE-FRANCHE-COMTE", "Bourgogne-Franche-Comté"),
    Region("BRETAGNE", "Bretagne"),
    Region("CENTRE-VAL-DE-LOIRE", "Centre-Val de Loire"),
    Region("RA-CORSE", "Corse"),
    Region("GRAND-EST", "Grand Est"),
    Region("HAUTS-DE-FRANCE", "Hauts-de-France"),
    Region("ILE-DE-FRANCE", "Île-de-France"),
    Region("RA-NORMANDIE", "Normandie"),
    Region("NOUVELLE-AQUITAINE", "Nouvelle-Aquitaine"),
    Region("OCCITANIE", "Occitanie"),
    Region("PAYS-DE-LA-LOIRE", "Pays de la Loire"),
    Region("PROVENCE-ALPES-COTE-D-AZUR", "Provence-Alpes-Côte d'Azur"),
    Region("RA-GUADELOUPE", "Guadeloupe"),
    Region("RA-MARTINIQUE", "Martinique"),
    Region("RA-GUYANE", "Guyane"),
    Region("RA-LA-REUNION", "La Réunion"),
    Region("RA-MAYOTTE", "Mayotte"),
)

ACADEMIES: tuple[Academie, ...] = (
    Academie("AIX-MARSEILLE", "Aix-Marseille", "PROVENCE-ALPES-COTE-D-AZUR"),
    Academie("AMIENS", "Amiens", "HAUTS-DE-FRANCE"),
    Academie("BESANCON", "Besançon", "BOURGOGNE-FRANCHE-COMTE"),
    Academie("BORDEAUX", "Bordeaux", "NOUVELLE-AQUITAINE"),
    Academie("CLERMONT-FERRAND", "Clermont-Ferrand", "AUVERGNE-RHONE-ALPES"),
    Academie("CORSE", "Corse", "RA-CORSE"),
    Academie("CRETEIL", "Créteil", "ILE-DE-FRANCE"),
    Academie("DIJON", "Dijon", "BOURGOGNE-FRANCHE-COMTE"),
    Academie("GRENOBLE", "Grenoble", "AUVERGNE-RHONE-ALPES"),
    Academie("GUADELOUPE", "Guadeloupe", "RA-GUADELOUPE"),
    Academie("GUYANE", "Guyane", "RA-GUYANE"),
    Academie("LA-REUNION", "La Réunion", "RA-LA-REUNION"),
    Academie("LILLE", "Lille", "HAUTS-DE-FRANCE"),
    Academie("LIMOGES", "Limoges", "NOUVELLE-AQUITAINE"),
    Academie("LYON", "Lyon", "AUVERGNE-RHONE-ALPES"),
    Academie("MARTINIQUE", "Martinique", "RA-MARTINIQUE"),
    Academie("MAYOTTE", "Mayotte", "RA-MAYOTTE"),
    Academie("MONTPELLIER", "Montpellier", "OCCITANIE"),
    Academie("NANCY-METZ", "Nancy-Metz", "GRAND-EST"),
    Academie("NANTES", "Nantes", "PAYS-DE-LA-LOIRE"),
    Academie("NICE", "Nice", "PROVENCE-ALPES-COTE-D-AZUR"),
    Academie("NORMANDIE", "Normandie", "RA-NORMANDIE"),
    Academie("ORLEANS-TOURS", "Orléans-Tours", "CENTRE-VAL-DE-LOIRE"),
    Academie("PARIS", "Paris", "ILE-DE-FRANCE"),
    Academie("POITIERS", "Poitiers", "NOUVELLE-AQUITAINE"),
    Academie("REIMS", "Reims", "GRAND-EST"),
    Academie("RENNES", "Rennes", "BRETAGNE"),
    Academie("STRASBOURG", "Strasbourg", "GRAND-EST"),
    Academie("TOULOUSE", "Toulouse", "OCCITANIE"),
    Academie("VERSAILLES", "Versailles", "ILE-DE-FRANCE"),
)

DEPARTEMENTS: tuple[Departement, ...] = (
    Departement("01", "Ain", "LYON"),
    Departement("02", "Aisne", "AMIENS"),
    Departement("03", "Allier", "CLERMONT-FERRAND"),
    Departement("04", "Alpes-de-Haute-Provence", "AIX-MARSEILLE"),
    Departement("05", "Hautes-Alpes", "AIX-MARSEILLE"),
    Departement("06", "Alpes-Maritimes", "NICE"),
    Departement("07", "Ardèche", "GRENOBLE"),
    Departement("08", "Ardennes", "REIMS"),
    Departement("09", "Ariège", "TOULOUSE"),
    Departement("10", "Aube", "REIMS"),
    Departement("11", "Aude", "MONTPELLIER"),
    Departement("12", "Aveyron", "TOULOUSE"),
    Departement("13", "Bouches-du-Rhône", "AIX-MARSEILLE"),
    Departement("14", "Calvados", "NORMANDIE"),
    Departement("15", "Cantal", "CLERMONT-FERRAND"),
    Departement("16", "Charente", "POITIERS"),
    Departement("17", "Charente-Maritime", "POITIERS"),
    Departement("18", "Cher", "ORLEANS-TOURS"),
    Departement("19", "Corrèze", "LIMOGES"),
    Departement("2A", "Corse-du-Sud", "CORSE"),
    Departement("2B", "Haute-Corse", "CORSE"),
    Departement("21", "Côte-d'Or", "DIJON"),
    Departement("22", "Côtes-d'Armor", "RENNES"),
    Departement("23", "Creuse", "LIMOGES"),
    Departement("24", "Dordogne", "BORDEAUX"),
    Departement("25", "Doubs", "BESANCON"),
    Departement("26", "Drôme", "GRENOBLE"),
    Departement("27", "Eure", "NORMANDIE"),
    Departement("28", "Eure-et-Loir", "ORLEANS-TOURS"),
    Departement("29", "Finistère", "RENNES"),
    Departement("30", "Gard", "MONTPELLIER"),
    Departement("31", "Haute-Garonne", "TOULOUSE"),
    Departement("32", "Gers", "TOULOUSE"),
    Departement("33", "Gironde", "BORDEAUX"),
    Departement("34", "Hérault", "MONTPELLIER"),
    Departement("35", "Ille-et-Vilaine", "RENNES"),
    Departement("36", "Indre", "ORLEANS-TOURS"),
    Departement("37", "Indre-et-Loire", "ORLEANS-TOURS"),
    Departement("38", "Isère", "GRENOBLE"),
    Departement("39", "Jura", "BESANCON"),
    Departement("40", "Landes", "BORDEAUX"),
    Departement("41", "Loir-et-Cher", "ORLEANS-TOURS"),
    Departement("42", "Loire", "LYON"),
    Departement("43", "Haute-Loire", "CLERMONT-FERRAND"),
    Departement("44", "Loire-Atlantique", "NANTES"),
    Departement("45", "Loiret", "ORLEANS-TOURS"),
    Departement("46", "Lot", "TOULOUSE"),
    Departement("47", "Lot-et-Garonne", "BORDEAUX"),
    Departement("48", "Lozère", "MONTPELLIER"),
    Departement("49", "Maine-et-Loire", "NANTES"),
    Departement("50", "Manche", "NORMANDIE"),
    Departement("51", "Marne", "REIMS"),
    Departement("52", "Haute-Marne", "REIMS"),
    Departement("53", "Mayenne", "NANTES"),
    Departement("54", "Meurthe-et-Moselle", "NANCY-METZ"),
    Departement("55", "Meuse", "NANCY-METZ"),
    Departement("56", "Morbihan", "RENNES"),
    Departement("57", "Moselle", "NANCY-METZ"),
    Departement("58", "Nièvre", "DIJON"),
    Departement("59", "Nord", "LILLE"),
    Departement("60", "Oise", "AMIENS"),
    Departement("61", "Orne", "NORMANDIE"),
    Departement("62", "Pas-de-Calais", "LILLE"),
    Departement("63", "Puy-de-Dôme", "CLERMONT-FERRAND"),
    Departement("64", "Pyrénées-Atlantiques", "BORDEAUX"),
    Departement("65", "Hautes-Pyrénées", "TOULOUSE"),
    Departement("66", "Pyrénées-Orientales", "MONTPELLIER"),
    Departement("67", "Bas-Rhin", "STRASBOURG"),
    Departement("68", "Haut-Rhin", "STRASBOURG"),
    Departement("69", "Rhône", "LYON"),
    Departement("70", "Haute-Saône", "BESANCON"),
    Departement("71", "Saône-et-Loire", "DIJON"),
    Departement("72", "Sarthe", "NANTES"),
    Departement("73", "Savoie", "GRENOBLE"),
    Departement("74", "Haute-Savoie", "GRENOBLE"),
    Departement("75", "Paris", "PARIS"),
    Departement("76", "Seine-Maritime", "NORMANDIE"),
    Departement("77", "Seine-et-Marne", "CRETEIL"),
    Departement("78", "Yvelines", "VERSAILLES"),
    Departement("79", "Deux-Sèvres", "POITIERS"),
    Departement("80", "Somme", "AMIENS"),
    Departement("81", "Tarn", "TOULOUSE"),
    Departement("82", "Tarn-et-Garonne", "TOULOUSE"),
    Departement("83", "Var", "NICE"),
    Departement("84", "Vaucluse", "AIX-MARSEILLE"),
    Departement("85", "Vendée", "NANTES"),
    Departement("86", "Vienne", "POITIERS"),
    Departement("87", "Haute-Vienne", "LIMOGES"),
    Departement("88", "Vosges", "NANCY-METZ"),
    Departement("89", "Yonne", "DIJON"),
    Departement("90", "Territoire de Belfort", "BESANCON"),
    Departement("91", "Essonne", "VERSAILLES"),
    Departement("92", "Hauts-de-Seine", "VERSAILLES"),
    Departement("93", "Seine-Saint-Denis", "CRETEIL"),
    Departement("94", "Val-de-Marne", "CRETEIL"),
    Departement("95", "Val-d'Oise", "VERSAILLES"),
    Departement("971", "Guadeloupe", "GUADELOUPE"),
    Departement("972", "Martinique", "MARTINIQUE"),
    Departement("973", "Guyane", "GUYANE"),
    Departement("974", "La Réunion", "LA-REUNION"),
    Departement("976", "Mayotte", "MAYOTTE"),
)

# The first three digits of a UAI name its département; Corsica uses 620 and 720 (RULES F1).
_UAI_PREFIX_EXCEPTIONS = {"620": "2A", "720": "2B"}


def departement_of_uai(uai: str) -> str:
    """``0670100X`` -> ``67``; ``6200001F`` -> ``2A``; ``9710001A`` -> ``971``."""
    prefix = uai[:3]
    if prefix in _UAI_PREFIX_EXCEPTIONS:
        return _UAI_PREFIX_EXCEPTIONS[prefix]
    return prefix if prefix.startswith("97") else prefix[1:]


def departement_code(value: str) -> str:
    """A département as the directory may write it (``067``, ``67``, ``02A``, ``2a``, ``620``)."""
    value = value.strip().upper()
    if value in _UAI_PREFIX_EXCEPTIONS:
        return _UAI_PREFIX_EXCEPTIONS[value]
    if len(value) == 3 and value.startswith("0"):  # 067, 02A
        return value[1:]
    return value.zfill(2) if value.isdigit() else value
