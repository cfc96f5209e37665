"""Marshmallow schemas: one schema drives validation, serialization and the OpenAPI document."""
