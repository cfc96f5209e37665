"""A case's data shown to people: each variable under the label its form gave it (or, for what scripts and
decision tables set, forms/_variables.json), in the page's language, and each choice by the label of its
option rather than its stored value."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from engine.forms import FormService, localize

HIDDEN_PREFIXES = ("_",)


@lru_cache(maxsize=8)
def _catalog(forms: FormService, lang: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(field labels, option labels by field) over every form, the first form that names a field winning,
    then the variables no form asks for."""
    labels: dict[str, str] = {}
    options: dict[str, dict[str, str]] = {}
    sources = [form.get("schema", {}).get("properties") or {} for form in forms.forms.values()]
    for properties in [*sources, forms.variables]:
        for name, prop in properties.items():
            if "title" in prop:
                labels.setdefault(name, str(localize(prop["title"], lang)))
            if prop.get("x-enum-labels"):
                known = options.setdefault(name, {})
                for value, label in prop["x-enum-labels"].items():
                    known.setdefault(str(value), str(localize(label, lang)))
    return labels, options


def _humanized(name: str) -> str:
    return name.replace("_", " ").strip().capitalize()


def labelled(data: dict[str, Any], forms: FormService | None, lang: str,
             only: list[str] | None = None) -> list[tuple[str, Any]]:
    """(label, value) pairs: the `only` names in their order, or every visible variable, labelled ones first."""
    labels, options = _catalog(forms, lang) if forms is not None else ({}, {})
    names = [n for n in only if n in data] if only else sorted(data, key=lambda n: (n not in labels, n))
    out: list[tuple[str, Any]] = []
    for name in names:
        if name.startswith(HIDDEN_PREFIXES):
            continue
        value = data[name]
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value) in options.get(name, {}):
            value = options[name][str(value)]
        out.append((labels.get(name) or _humanized(name), value))
    return out
