"""Writes index/articles/demonyms.py from the countryinfo package's country data (MIT licence).

    python bench/make_demonyms.py            # prints the table
    python bench/make_demonyms.py --write    # rewrites index/articles/demonyms.py

countryinfo (https://pypi.org/project/countryinfo/) gives each country's name, its other spellings and
its demonym. A demonym shared by several entries ("French": France and its overseas lands) goes to the
most populous; one that belongs to a country with a name of several words ("American", "British") is kept
only when an other spelling of one word starts like it (none does for these two, see EXTRA). Both sides
must be one word of letters: the tokenizer maps one word to one word.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib import resources
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "index" / "articles" / "demonyms.py"
ONE_WORD = re.compile(r"[A-Za-z]+")
# Written here, not in countryinfo: its names for these countries are two words (United States,
# United Kingdom), yet news writes "America" and "Britain" as often as the adjectives.
EXTRA = {"American": "America", "British": "Britain"}


def country_demonyms() -> dict[str, str]:
    """Each one-word demonym and the one-word country name it belongs to, from countryinfo's data."""
    folder = resources.files("countryinfo") / "data"
    best: dict[str, tuple[str, float, list[str]]] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        country = json.loads(entry.read_text(encoding="utf-8"))
        name, demonyms, population = country.get("name"), country.get("demonym"), country.get("population")
        if not name or not demonyms:
            continue
        size = float(population) if isinstance(population, int | float) else 0.0
        spellings = [s for s in country.get("altSpellings", []) if ONE_WORD.fullmatch(s) and not s.isupper()]
        for demonym in (d.strip() for d in demonyms.split(",")):
            if demonym not in best or best[demonym][1] < size:
                best[demonym] = (name, size, spellings)
    table = {}
    for demonym, (name, _, spellings) in sorted(best.items()):
        if not ONE_WORD.fullmatch(demonym):
            continue
        choices = [name] if ONE_WORD.fullmatch(name) else [s for s in spellings if s[:4].lower() == demonym[:4].lower()]
        if choices and choices[0].lower() != demonym.lower():
            table[demonym] = choices[0]
    return table | EXTRA


def module_text(table: dict[str, str]) -> str:
    lines = [
        '"""Countries and their demonyms, one search term each ("Russian" finds "Russia", "Nigerien" finds "Niger").',
        "",
        "Written by bench/make_demonyms.py from the countryinfo package's data (MIT licence), with",
        "American and British added by hand; tests/index/test_demonyms.py checks it is current.",
        '"""',
        "",
        "DEMONYMS: dict[str, str] = {",
        *(f'    "{demonym}": "{country}",' for demonym, country in sorted(table.items())),
        "}",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help=f"rewrite {TARGET}")
    args = parser.parse_args()
    text = module_text(country_demonyms())
    if args.write:
        TARGET.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
