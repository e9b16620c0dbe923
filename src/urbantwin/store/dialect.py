"""One SQL construct, two spellings: the small helper behind most of store/'s portable functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.ext.compiler import compiles

Element = TypeVar("Element", bound=type)


def spelled(postgresql: str, sqlite: str) -> Callable[[Element], Element]:
    """Class decorator for a `FunctionElement`: compile it by template, `{args}` standing for its
    compiled arguments, on PostgreSQL and on SQLite (every dialect other than PostgreSQL)."""

    def register(element_class: Element) -> Element:
        def render(template: str) -> Callable[..., str]:
            def compile_element(element: Any, compiler: Any, **kw: Any) -> str:
                return template.replace("{args}", compiler.process(element.clauses, **kw))

            return compile_element

        compiles(element_class, "postgresql")(render(postgresql))
        compiles(element_class)(render(sqlite))
        return element_class

    return register
