"""Forms: JSON Schemas with zh/en labels, localized for display and enforced on submit.

A form file (forms/<key>.json) holds `title`, optional `description`, and a
JSON Schema whose `title`/`description` members may be {"zh": .., "en": ..}
dicts and whose enums may carry `x-enum-labels`. Submitted data is reduced to
the declared fields, then validated; messages come in the caller's language.

`forms/_variables.json` is no form: its `properties`, shaped like a schema's, label the case variables
no form asks for (those set by scripts and decision tables), so the pages can show them too.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError as SchemaError

from .errors import NotFound, ValidationFailed
from .form_check import Check, quick_acceptor

LANGUAGES = ("zh", "en")
VARIABLES_FILE = "_variables.json"
_FORMAT_CHECKER = FormatChecker()

MESSAGES: dict[str, dict[str, str]] = {
    "required": {"zh": "此项为必填项", "en": "This field is required"},
    "type": {"zh": "应为{expected}", "en": "Must be {expected}"},
    "enum": {"zh": "请从给定选项中选择", "en": "Choose one of the offered options"},
    "minimum": {"zh": "不能小于 {limit}", "en": "Must be at least {limit}"},
    "maximum": {"zh": "不能大于 {limit}", "en": "Must be at most {limit}"},
    "exclusiveMinimum": {"zh": "必须大于 {limit}", "en": "Must be more than {limit}"},
    "exclusiveMaximum": {"zh": "必须小于 {limit}", "en": "Must be less than {limit}"},
    "minLength": {"zh": "至少需要 {limit} 个字符", "en": "Must be at least {limit} characters"},
    "maxLength": {"zh": "不能超过 {limit} 个字符", "en": "Must be at most {limit} characters"},
    "pattern": {"zh": "格式不正确", "en": "Does not have the expected format"},
    "format": {"zh": "不是有效的{expected}", "en": "Is not a valid {expected}"},
    "minItems": {"zh": "至少选择 {limit} 项", "en": "Choose at least {limit} items"},
    "maxItems": {"zh": "最多选择 {limit} 项", "en": "Choose at most {limit} items"},
    "no_form": {"zh": "此任务没有表单，不接受数据", "en": "This task has no form and takes no data"},
    "invalid": {"zh": "值无效", "en": "Invalid value"},
}
TYPE_NAMES = {
    "string": {"zh": "文本", "en": "text"},
    "integer": {"zh": "整数", "en": "a whole number"},
    "number": {"zh": "数字", "en": "a number"},
    "boolean": {"zh": "是/否", "en": "yes or no"},
    "array": {"zh": "列表", "en": "a list"},
    "object": {"zh": "对象", "en": "an object"},
    "date": {"zh": "日期 (YYYY-MM-DD)", "en": "date (YYYY-MM-DD)"},
    "date-time": {"zh": "日期时间", "en": "date and time"},
    "email": {"zh": "电子邮箱地址", "en": "email address"},
}


def language_of(accept: str | None, default: str = "zh") -> str:
    """'zh' or 'en' from an Accept-Language header or a stored choice."""
    if not accept:
        return default
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return default


_LABEL_KEYS = frozenset({*LANGUAGES, "zh-CN"})


def localize(value: Any, lang: str) -> Any:
    """Pick the language from {"zh":..,"en":..} dicts anywhere in a structure."""
    if isinstance(value, dict):
        if value and set(value) <= _LABEL_KEYS:
            return value.get(lang) or value.get("zh-CN") or value.get("en") or next(iter(value.values()))
        return {k: localize(v, lang) for k, v in value.items()}
    if isinstance(value, list):
        return [localize(v, lang) for v in value]
    return value


def _message(kind: str, lang: str, **params: Any) -> str:
    return MESSAGES.get(kind, MESSAGES["invalid"])[lang].format(**params)


def _is_label(value: Any) -> bool:
    """A label as forms write them: text, or text by language (the languages `localize` picks from)."""
    return isinstance(value, str) or (isinstance(value, dict) and bool(value) and set(value) <= _LABEL_KEYS
                                      and all(isinstance(v, str) for v in value.values()))


def _variable_labels(path: Path) -> dict[str, dict[str, Any]]:
    """The `properties` of forms/_variables.json, checked at start (a wrong shape would fail every page)."""
    document = json.loads(path.read_text("utf-8"))
    properties = document.get("properties") if isinstance(document, dict) else None
    if not isinstance(properties, dict):
        raise ValueError(f"{path}: expected an object with 'properties', like a form's schema")
    for name, entry in properties.items():
        entry = entry if isinstance(entry, dict) else {"title": None}
        labels = entry.get("x-enum-labels", {})
        if (not _is_label(entry.get("title")) or not isinstance(labels, dict)
                or not all(_is_label(label) for label in labels.values())):
            raise ValueError(f"{path}: variable {name!r} needs a 'title' and optional 'x-enum-labels', each a label "
                             "(text, or text by language)")
    return dict(properties)


class FormService:
    """Form definitions loaded once from a directory."""

    def __init__(self, forms_dir: str | Path) -> None:
        self.forms: dict[str, dict[str, Any]] = {}
        #: labels of the case variables no form asks for: name -> {"title": .., "x-enum-labels": ..}
        self.variables: dict[str, dict[str, Any]] = {}
        for path in sorted(Path(forms_dir).glob("*.json")):
            if path.name == VARIABLES_FILE:
                self.variables = _variable_labels(path)
                continue
            form = json.loads(path.read_text("utf-8"))
            self.forms[form.get("key", path.stem)] = form
        self._compiled: dict[str, tuple[Check | None, Draft202012Validator]] = {}

    def has(self, form_key: str) -> bool:
        return form_key in self.forms

    def get(self, form_key: str, lang: str) -> dict[str, Any]:
        """The form with its schema localized: plain-string titles, `x-enumNames` beside each enum."""
        if form_key not in self.forms:
            raise NotFound(f"form {form_key!r} does not exist")
        form = copy.deepcopy(self.forms[form_key])
        schema = form.get("schema", {})
        for prop in schema.get("properties", {}).values():
            labels = prop.get("x-enum-labels")
            if labels and "enum" in prop:
                prop["x-enumNames"] = [localize(labels.get(str(v), str(v)), lang) for v in prop["enum"]]
        return localize(form, lang)  # type: ignore[no-any-return]

    def _checks(self, form_key: str) -> tuple[Check | None, Draft202012Validator]:
        """The form's quick acceptor (None when its schema is outside the quick subset) and its validator,
        built once from the schema with English labels."""
        if form_key not in self._compiled:
            schema = localize(self.forms[form_key].get("schema", {}), "en")
            self._compiled[form_key] = (quick_acceptor(schema),
                                        Draft202012Validator(schema, format_checker=_FORMAT_CHECKER))
        return self._compiled[form_key]

    def clean(self, form_key: str | None, data: dict[str, Any] | None, lang: str) -> dict[str, Any]:
        """Only the declared fields, validated. Raises ValidationFailed with per-field messages."""
        data = dict(data or {})
        if not form_key:
            if data:
                raise ValidationFailed("this task takes no data", {"_form": [_message("no_form", lang)]})
            return {}
        if form_key not in self.forms:
            raise NotFound(f"form {form_key!r} does not exist")
        declared = self.forms[form_key].get("schema", {}).get("properties", {})
        kept = {k: v for k, v in data.items() if k in declared}
        accepts, validator = self._checks(form_key)
        if accepts is not None and accepts(kept):  # certainly valid (see engine.form_check)
            return kept
        if validator.is_valid(kept):  # the common case, and cheaper than collecting no errors
            return kept
        errors: dict[str, list[str]] = {}
        for error in sorted(validator.iter_errors(kept), key=lambda e: list(e.path)):
            for field, message in self._describe(error, kept, lang):
                errors.setdefault(field, []).append(message)
        if errors:
            raise ValidationFailed("the form has errors", errors)
        return kept

    @staticmethod
    def _describe(error: SchemaError, data: dict[str, Any], lang: str) -> list[tuple[str, str]]:
        kind = str(error.validator)
        if kind == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            return [(name, _message("required", lang)) for name in missing]
        field = str(error.path[0]) if error.path else "_form"
        if kind == "type":
            expected = error.validator_value
            expected = expected[0] if isinstance(expected, list) else expected
            return [(field, _message("type", lang, expected=TYPE_NAMES.get(str(expected), {}).get(lang, expected)))]
        if kind == "format":
            fmt = str(error.validator_value)
            return [(field, _message("format", lang, expected=TYPE_NAMES.get(fmt, {}).get(lang, fmt)))]
        if kind in MESSAGES:
            return [(field, _message(kind, lang, limit=error.validator_value))]
        return [(field, _message("invalid", lang))]
