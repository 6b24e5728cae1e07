"""Old name of ``catalog.vocabulary``, kept only while the issue-13 branches still
import it; import from ``catalog.vocabulary`` (the lead's final sweep removes this)."""

from catalog.vocabulary import DEFAULT_MASK, FIELD_TYPES, Level, MaskMethod, PICategory

__all__ = ["DEFAULT_MASK", "FIELD_TYPES", "Level", "MaskMethod", "PICategory"]
