"""The only part of opsflow that touches SpiffWorkflow.

Everything above this package sees the project's own dataclasses
(`engine.views`) and errors (`engine.errors`).
"""
