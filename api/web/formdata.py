"""Forms on the pages: a localized JSON Schema becomes fields to render, a posted form becomes typed data.

Parsing converts what a browser can send (strings, a checkbox's presence) into the schema's types and
leaves anything it cannot convert as the raw text, so the engine's validation — the one authority —
answers with its own message in the user's language. Date-times are entered in the company's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.datastructures import MultiDict

LOCAL_ZONE = timezone(timedelta(hours=8), "Asia/Shanghai")  # the company's offices (no DST)
TEXTAREA_FROM = 201  # maxLength from which a string is a multi-line field


@dataclass
class Field:
    name: str
    label: str
    widget: str  # text, textarea, select, checkbox, number, date, datetime, email
    required: bool = False
    help: str = ""
    value: str = ""
    checked: bool = False
    options: list[tuple[str, str]] = field(default_factory=list)
    attrs: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


def _widget(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if "enum" in prop:
        return "select"
    if kind == "boolean":
        return "checkbox"
    if kind in ("integer", "number"):
        return "number"
    fmt = prop.get("format")
    if fmt == "date":
        return "date"
    if fmt == "date-time":
        return "datetime"
    if fmt == "email":
        return "email"
    if prop.get("x-widget") == "textarea" or (prop.get("maxLength") or 0) >= TEXTAREA_FROM:
        return "textarea"
    return "text"


def _attrs(prop: dict[str, Any], widget: str) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    if widget in ("text", "textarea", "email"):
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength"), ("pattern", "pattern")):
            if key in prop:
                attrs[attr] = prop[key]
    if widget == "number":
        attrs["step"] = "1" if prop.get("type") == "integer" else "any"
        for key in ("minimum", "maximum"):
            if key in prop:
                attrs[key[:3]] = prop[key]
        if "exclusiveMinimum" in prop:
            attrs["min"] = prop["exclusiveMinimum"]
    return attrs


def display_value(value: Any, widget: str) -> str:
    """A stored value as the text an input shows."""
    if value is None:
        return ""
    if widget == "datetime" and isinstance(value, str):
        try:
            return datetime.fromisoformat(value).astimezone(LOCAL_ZONE).strftime("%Y-%m-%dT%H:%M")
        except ValueError:
            return value
    return str(value)


def fields_of(schema: dict[str, Any] | None, values: dict[str, Any] | None = None,
              errors: dict[str, list[str]] | None = None, *, raw: MultiDict[str, str] | None = None) -> list[Field]:
    """The form's fields in schema order, filled from stored values or from what the user just posted."""
    if not schema:
        return []
    values = values or {}
    errors = errors or {}
    required = set(schema.get("required") or [])
    out: list[Field] = []
    for name, prop in (schema.get("properties") or {}).items():
        widget = _widget(prop)
        item = Field(name=name, label=str(prop.get("title") or name), widget=widget, required=name in required,
                     help=str(prop.get("description") or ""), attrs=_attrs(prop, widget),
                     errors=list(errors.get(name, [])))
        if widget == "select":
            labels = prop.get("x-enumNames") or [str(v) for v in prop["enum"]]
            item.options = [(str(v), str(label)) for v, label in zip(prop["enum"], labels, strict=False)]
        if raw is not None:
            item.value = raw.get(name, "")
            item.checked = name in raw
        else:
            item.value = display_value(values.get(name, prop.get("default")), widget)
            item.checked = values.get(name, prop.get("default")) is True
        out.append(item)
    return out


def _number(text: str, integer: bool) -> Any:
    try:
        if integer:
            return int(text)
        number = Decimal(text)
        if not number.is_finite():
            return text
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)
    except (ValueError, InvalidOperation):
        return text


def _datetime(text: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=LOCAL_ZONE)
    return moment.isoformat()


def parse_form(schema: dict[str, Any] | None, form: MultiDict[str, str]) -> dict[str, Any]:
    """Typed data for the schema's fields; empty inputs are left out (so `required` can speak)."""
    data: dict[str, Any] = {}
    for name, prop in ((schema or {}).get("properties") or {}).items():
        kind = prop.get("type")
        if kind == "boolean" and "enum" not in prop:
            data[name] = name in form
            continue
        text = form.get(name, "").strip()
        if text == "":
            continue
        if kind in ("integer", "number"):
            data[name] = _number(text, kind == "integer")
        elif prop.get("format") == "date-time":
            data[name] = _datetime(text)
        else:
            data[name] = text
    return data
