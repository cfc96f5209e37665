"""The RestrictedPython policy of the sandbox: what a diagram's code may say.

On top of RestrictedPython's own rules (no `_` names, guarded attribute/item access,
guarded iteration and unpacking) this policy
- refuses imports, class definitions, `yield`, `print`, bare `except:` and calls of
  builtins that open the interpreter (`open`, `getattr`, `type`, `eval`, ...);
- routes the operators that can build huge objects in one C call (`+ * ** << % //`)
  through size-checking guards (see `guards.py`);
- inserts a CPU-budget tick into every `while` body, function and lambda (for loops and
  comprehensions tick through `_getiter_`), see `limits.py` for why;
- routes f-string format specs through a guard (`f"{x:>{n}}"` can allocate gigabytes);
- allows `d[k] += v`, which RestrictedPython refuses but procedures need.
"""

from __future__ import annotations

import ast
from typing import Any

from RestrictedPython.transformer import INSPECT_ATTRIBUTES, RestrictingNodeTransformer

#: Builtins that must never be callable from a diagram; a call is refused at compile time,
#: any other use is refused at run time (the name is simply not defined in the sandbox).
FORBIDDEN_NAMES = frozenset(
    {
        "open",
        "getattr",
        "setattr",
        "delattr",
        "hasattr",
        "type",
        "eval",
        "exec",
        "compile",
        "vars",
        "dir",
        "globals",
        "locals",
        "breakpoint",
        "input",
        "help",
        "memoryview",
        "object",
        "super",
        "id",
        "classmethod",
        "staticmethod",
        "property",
        "exit",
        "quit",
        "print",
        "printed",
        "format",
        "iter",
        "next",
        "aiter",
        "anext",
        "bytearray",
        "bytes",
        "copyright",
        "credits",
        "license",
        "issubclass",
        "callable",
    }
)

#: Attribute names refused on any object besides those starting with "_".
FORBIDDEN_ATTRIBUTES = frozenset(INSPECT_ATTRIBUTES) | {
    "mro",
    "to_bytes",
    "translate",
    "gi_running",
    "gi_suspended",
    "cr_running",
    "ag_running",
}
FORBIDDEN_ATTRIBUTE_PREFIXES = ("_", "gi_", "cr_", "ag_", "f_", "tb_", "co_")

#: Operators that get a size guard, by AST class -> guard name.
GUARDED_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
    ast.FloorDiv: "_floordiv_",
}

AUG_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+=",
    ast.Sub: "-=",
    ast.Mult: "*=",
    ast.Div: "/=",
    ast.Mod: "%=",
    ast.Pow: "**=",
    ast.LShift: "<<=",
    ast.RShift: ">>=",
    ast.BitOr: "|=",
    ast.BitXor: "^=",
    ast.BitAnd: "&=",
    ast.FloorDiv: "//=",
    ast.MatMult: "@=",
}


def attribute_refusal(name: str) -> str | None:
    """The reason attribute `name` may not be read, or None when it may."""
    if name in FORBIDDEN_ATTRIBUTES or name.startswith(FORBIDDEN_ATTRIBUTE_PREFIXES):
        return f'attribute "{name}" is not allowed'
    return None


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    ast.copy_location(node, like)
    return ast.fix_missing_locations(node)


def _tick_stmt(like: ast.AST) -> ast.Expr:
    stmt = ast.Expr(_call("_tick_", [], like))
    ast.copy_location(stmt, like)
    return stmt


class SandboxPolicy(RestrictingNodeTransformer):
    """RestrictingNodeTransformer with the sandbox's additional rules and guards."""

    # Uniform, actionable messages ("name "x" is not allowed") instead of RestrictedPython's.
    def check_name(self, node: Any, name: str | None, allow_magic_methods: bool = False) -> None:
        if name is None:
            return
        if name in ("print", "printed") or (name.startswith("_") and name != "_"):
            self.error(node, f'name "{name}" is not allowed')
        else:
            super().check_name(node, name, allow_magic_methods)

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id in ("print", "printed"):
            self.error(node, f'name "{node.id}" is not allowed')
            return node
        return super().visit_Name(node)

    def visit_Attribute(self, node: ast.Attribute) -> Any:
        reason = attribute_refusal(node.attr)
        if reason is not None:
            self.error(node, reason)
            return self.node_contents_visit(node)
        return super().visit_Attribute(node)

    def visit_Call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_NAMES:
            self.error(node, f'name "{node.func.id}" is not allowed')
        return super().visit_Call(node)

    def visit_Import(self, node: ast.Import) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ImportFrom(self, node: ast.ImportFrom) -> Any:
        self.error(node, "import statements are not allowed")
        return node

    def visit_ClassDef(self, node: ast.ClassDef) -> Any:
        self.error(node, "class definitions are not allowed")
        return node

    def visit_Yield(self, node: ast.Yield) -> Any:
        self.error(node, "yield is not allowed")
        return node

    def visit_YieldFrom(self, node: ast.YieldFrom) -> Any:
        self.error(node, "yield is not allowed")
        return node

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> Any:
        # A bare except would also catch the sandbox's own abort (timeout, memory).
        if node.type is None:
            self.error(node, 'bare "except:" is not allowed, use "except Exception:"')
        return super().visit_ExceptHandler(node)

    # --- guards ---------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = GUARDED_BINOPS.get(type(node.op))
        if guard is None:
            return node
        return _call(guard, [node.left, node.right], node)

    def visit_AugAssign(self, node: ast.AugAssign) -> Any:
        if not isinstance(node.target, ast.Subscript):
            return super().visit_AugAssign(node)
        # d[k] += v  ->  _augitem_(d, k, "+=", v): container and key are evaluated once.
        node = self.node_contents_visit(node)
        target = node.target
        assert isinstance(target, ast.Subscript)
        op = ast.Constant(AUG_OPERATORS[type(node.op)])
        stmt = ast.Expr(_call("_augitem_", [target.value, target.slice, op, node.value], node))
        return ast.copy_location(stmt, node)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        node = self.node_contents_visit(node)
        if node.format_spec is None:
            return node
        # f"{x!r:>{n}}" -> f"{_format_(x, 'r', f'>{n}')}" so the width is checked first.
        conversion = ast.Constant(chr(node.conversion) if node.conversion > 0 else "")
        node.value = _call("_format_", [node.value, conversion, node.format_spec], node)
        node.conversion = -1
        node.format_spec = None
        return node

    def visit_While(self, node: ast.While) -> Any:
        node = self.node_contents_visit(node)
        node.body.insert(0, _tick_stmt(node.body[0]))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _tick_stmt(node.body[0]))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        node = super().visit_Lambda(node)
        # lambda: body  ->  lambda: _tick_() or body   (_tick_ returns None)
        ticked = ast.BoolOp(op=ast.Or(), values=[_call("_tick_", [], node.body), node.body])
        node.body = ast.fix_missing_locations(ast.copy_location(ticked, node.body))
        return node
