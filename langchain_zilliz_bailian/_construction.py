"""A pydantic base whose bad constructor arguments raise our typed error, not pydantic's.

Mixed into every pydantic framework class (LangChain's retriever and Bailian models, the
Bailian app settings LlamaIndex's LLM derives from), so a bad argument is an
:class:`~langchain_zilliz_bailian.errors.InvalidInputError` naming the class, in both frameworks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from langchain_zilliz_bailian._http.checks import typed_construction

__all__ = ["TypedConstruction"]


class TypedConstruction(BaseModel):
    """``__init__`` turns a ``ValidationError`` into :class:`InvalidInputError`."""

    if not TYPE_CHECKING:  # type checkers keep pydantic's typed signature

        def __init__(self, **data: Any) -> None:
            with typed_construction(type(self).__name__):
                super().__init__(**data)
