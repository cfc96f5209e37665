"""The quick form acceptor never accepts what jsonschema refuses, and is used for the simple forms."""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from engine.errors import ValidationFailed
from engine.form_check import quick_acceptor
from engine.forms import VARIABLES_FILE, FormService, localize

ROOT = Path(__file__).resolve().parents[2]
FORM_FILES = [path for folder in (ROOT / "forms", ROOT / "bench" / "forms") for path in sorted(folder.glob("*.json"))
              if path.name != VARIABLES_FILE]

SAMPLE_VALUES = [None, True, False, 0, 1, -1, 2, 3.0, 2.5, -0.5, 1e9, 10**12, "", "a", "b", "x" * 300,
                 "2.4.1", "0123456789abcdef" * 4, "2026-12-01", "2026-12-01T10:00:00Z", "someone@example.com", "中文备注", [], ["a"], {}, {"k": 1}]

SYNTHETIC = [
    {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1, "maximum": 5}}, "required": ["n"]},
    {"type": "object", "properties": {"n": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 3}}},
    {"type": "object", "properties": {"s": {"type": "string", "minLength": 1, "maxLength": 3, "pattern": "^[ab]"}},
     "additionalProperties": False},
    {"type": "object", "properties": {"e": {"enum": [1, "a", True, None]}}},
    {"type": "object", "properties": {"e": {"type": "integer", "enum": [1, 2]}}, "required": ["e"]},
    {"type": "object", "properties": {"b": {"type": "boolean"}}, "required": ["b"], "additionalProperties": False},
]


def _schemas() -> list[dict]:
    return [localize(json.loads(p.read_text("utf-8"))["schema"], "en") for p in FORM_FILES] + SYNTHETIC


def _candidates(schema: dict, rng: random.Random) -> list[dict]:
    properties = schema.get("properties", {})
    names = [*properties, "extra"]
    out = [{}]
    # values each field's own schema accepts (as jsonschema judges), to build mostly-valid data
    fitting = {name: [v for v in SAMPLE_VALUES + list(sub.get("enum", [])) if Draft202012Validator(sub, format_checker=FormatChecker()).is_valid(v)]
               for name, sub in properties.items()}
    fitting = {name: values for name, values in fitting.items() if values}
    for _ in range(200):  # a valid-looking record, then the same with one field changed to anything
        record = {name: rng.choice(values) for name, values in fitting.items()}
        out.append(record)
        mutated = dict(record)
        mutated[rng.choice(names)] = rng.choice(SAMPLE_VALUES)
        out.append(mutated)
        if record:
            out.append({k: v for k, v in record.items() if k != rng.choice(list(record))})
    for name in names:  # every single field with every sample value
        out += [{name: v} for v in SAMPLE_VALUES]
    for _ in range(300):  # random combinations
        chosen = rng.sample(names, rng.randint(1, len(names)))
        out.append({name: rng.choice(SAMPLE_VALUES) for name in chosen})
    for prop_values in itertools.islice(itertools.product(SAMPLE_VALUES, repeat=min(2, len(names))), 200):
        out.append(dict(zip(names, prop_values, strict=False)))
    return out


@pytest.mark.parametrize("schema", [s for s in _schemas() if quick_acceptor(s) is not None], ids=lambda s: ",".join(s.get("properties", {}))[:40])
def test_quick_acceptance_implies_jsonschema_validity(schema: dict) -> None:
    accepts = quick_acceptor(schema)
    assert accepts is not None
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    rng = random.Random(7)
    accepted = 0
    for data in _candidates(schema, rng):
        if accepts(data):
            accepted += 1
            assert validator.is_valid(data), (schema, data)
    assert accepted > 0  # the acceptor does accept some valid data: it is really in use


def test_simple_forms_use_the_quick_path_and_others_do_not() -> None:
    assert quick_acceptor({"type": "object", "properties": {"a": {"type": "string", "enum": ["x"]}}}) is not None
    assert quick_acceptor({"type": "object", "properties": {"d": {"type": "string", "format": "date"}}}) is None
    assert quick_acceptor({"type": "object", "properties": {"l": {"type": "array", "items": {}}}}) is None
    assert quick_acceptor({"type": "object", "allOf": []}) is None
    simple = sum(quick_acceptor(s) is not None for s in _schemas())
    assert simple >= len(FORM_FILES) // 2  # most of the company's forms are simple


def test_type_edge_cases_follow_jsonschema() -> None:
    accepts = quick_acceptor({"type": "object", "properties": {"n": {"type": "integer"}, "x": {"type": "number"}}})
    assert accepts is not None
    assert accepts({"n": 3}) and accepts({"n": 3.0}) and accepts({"x": 2.5})
    assert not accepts({"n": True}) and not accepts({"x": False}) and not accepts({"n": 2.5})


def test_form_service_still_refuses_with_messages() -> None:
    forms = FormService(ROOT / "bench" / "forms")
    assert forms.clean("bench_first", {"choice": "a", "ignored": 1}, "en") == {"choice": "a"}
    with pytest.raises(ValidationFailed) as refused:
        forms.clean("bench_first", {"choice": "c"}, "zh")
    assert refused.value.errors["choice"] == ["请从给定选项中选择"]
    with pytest.raises(ValidationFailed) as missing:
        forms.clean("bench_first", {}, "en")
    assert missing.value.errors["choice"] == ["This field is required"]


@pytest.mark.parametrize("document", [
    [],  # not an object
    {"labels": {}},  # no properties
    {"properties": {"approval_level": "审批层级"}},  # an entry that is no object
    {"properties": {"approval_level": {"title": ["审批层级"]}}},
    {"properties": {"approval_level": {"title": "审批层级", "x-enum-labels": ["部门经理"]}}},
    {"properties": {"approval_level": {"title": "审批层级", "x-enum-labels": {"dept_manager": {"zh": 1}}}}},
    {"properties": {"approval_level": {"title": {"fr": "Niveau"}}}},  # no language the pages speak
    {"properties": {"approval_level": {"title": {}}}},
    {"properties": {"approval_level": {"x-enum-labels": {"dept_manager": "部门经理"}}}},  # no title
    {"properties": {"approval_level": {"title": "审批层级", "x-enum-labels": {"dept_manager": {}}}}},
])
def test_a_variable_labels_file_of_the_wrong_shape_is_refused_when_forms_load(tmp_path: Path, document: object) -> None:
    (tmp_path / VARIABLES_FILE).write_text(json.dumps(document), "utf-8")
    with pytest.raises(ValueError, match=VARIABLES_FILE):
        FormService(tmp_path)


def test_variable_labels_load_beside_the_forms(tmp_path: Path) -> None:
    labels = {"title": {"zh": "审批层级", "en": "Approval level"}, "x-enum-labels": {"dept_manager": "部门经理"}}
    (tmp_path / VARIABLES_FILE).write_text(json.dumps({"properties": {"approval_level": labels}}), "utf-8")
    forms = FormService(tmp_path)
    assert forms.variables == {"approval_level": labels} and forms.forms == {}
