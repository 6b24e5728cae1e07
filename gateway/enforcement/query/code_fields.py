"""Which result columns hold codes: identifiers written with digits that are not
quantities (ID numbers, region codes, phone and card numbers, postcodes).

A code is text to whoever reads it (``430102`` is a county, not four hundred thousand),
but a source may store one as INTEGER: by its type alone the spreadsheet would make it
a number (summed, shown as ``4.30E+05``, its leading zero lost), so the xlsx writer asks
here, by the field's meaning in the catalog:

- its personal-information category is an identifier (``id_number``, ``phone``,
  ``bank_card``, ``uscc``);
- its name says code or number (``region_code``, ``zip``, ``account_no``, ``编码``…).

Only columns that carry a field's values count: an aggregate's outputs (counts, sums)
are quantities even when named like a code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from catalog.entries import CatalogEntry
from catalog.vocabulary import PICategory
from gateway.enforcement.query.plan import OutputColumn

CODE_CATEGORIES = frozenset({PICategory.ID_NUMBER, PICategory.PHONE, PICategory.BANK_CARD,
                             PICategory.USCC})  # fmt: skip
# a name ending in a word for code or number, in English or Chinese
CODE_NAME = re.compile(
    r"(?:^|[_\-\s])(?:code|codes|no|nr|num|number|phone|mobile|tel|fax|zip|zipcode|postcode"
    r"|uscc|card|iban)$|(?:代码|编码|编号|号码|电话|手机|邮编|证号|卡号)$",
    re.IGNORECASE,
)
_FIELD_VALUES = frozenset({"allow", "mask"})  # the actions whose column is a field's values


def code_columns(entry: CatalogEntry, columns: Iterable[OutputColumn]) -> frozenset[str]:
    """The names among ``columns`` whose values are codes (see the module docstring)."""
    fields = {f.name: f for f in entry.fields}
    found = set()
    for column in columns:
        field = fields.get(column.name)
        if field is None or column.action not in _FIELD_VALUES:
            continue
        if field.pi_category in CODE_CATEGORIES or CODE_NAME.search(field.name):
            found.add(column.name)
    return frozenset(found)
