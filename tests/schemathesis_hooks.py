"""Schemathesis hooks for tests/test_schemathesis_e2e.py (loaded through SCHEMATHESIS_HOOKS).

The schema says what it can about q (1-1000 characters); its description adds what a JSON Schema
cannot say: a query of only blanks or invisible characters (zero-width space, BOM), or one with a
control character such as NUL, is refused with 422. Positive cases are the requests the API promises
to answer, so those are left out of them; negative cases are kept as they come.
"""

import schemathesis

from tracuu.core.query import BadQuery, Query


@schemathesis.hook
def filter_case(context, case) -> bool:
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return True
    q = (case.query or {}).get("q")
    if not isinstance(q, str):
        return True
    try:
        Query.parse(q)
    except BadQuery:
        return False
    return True
