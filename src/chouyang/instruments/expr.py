"""The expression language of instruments: XLSForm's `relevant`, `constraint` and `required`.

Users write these in Excel in the XLSForm dialect (an XPath subset); chouyang parses them here
(never `eval`), evaluates the tree at ingest, and hands the same tree to the browser as JSON
(`to_json`), where static/expr.js evaluates it: there is one parser, and two evaluators that
tests/test_expr.py checks against each other on generated trees and values.

Grammar, loosest first: `or` < `and` < (`=` `!=`) < (`<` `<=` `>` `>=`) < (`+` `-`) <
(`*` `div` `mod`) < unary `-`; all binary operators associate to the left.  Operands: numbers
(`3`, `2.5`, `.5`), strings `'…'` or `"…"` (no escapes), `${name}` (name: a letter or `_`, then
letters, digits, `_`, `-`, `.`), `.` (the field's own value), parentheses, and the functions
selected(ref, code), count-selected(ref), count(ref), string-length(x), today(), now(), date(x),
if(c, a, b) and not(x).  Anything else is refused with an ExprError naming the character position.

The code: expr_syntax.py (parser, to_text, to_json), expr_eval.py (evaluate), expr_describe.py
(describe); import all of it from here.

Semantics (expr.js implements exactly these):
- Values are strings as entered ('' = empty; a missing reference, None or no dot is ''), numbers
  (Python ints become floats: both sides use IEEE doubles) and booleans; a `date` passed in Python
  is its ISO text; a select_multiple holds its codes separated by spaces; a list (a repeat's rows)
  may only be what count() counts, anywhere else it is an ExprError.  Names and letters in
  `${…}` may be any Unicode letters (XLSForm names are XML names).
- number(v): floats as they are; true/false → 1/0; a string that is, between spaces, tabs and
  newlines, `-?D+(.D*)?` or `-?.D+` (D = 0-9) → its value; anything else NaN.
- string(v): true/false → 'true'/'false'; NaN → 'NaN', ±∞ → 'Infinity'/'-Infinity'; any other
  number → the shortest digits that read back as the same double, without exponent and without a
  trailing '.0' (3.0 → '3', 1e21 → '1000000000000000000000', -0 → '0').
- truthy(v) is XPath boolean(): '', 0, NaN and false are false, everything else true ('0' too).
- `=` `!=`: a boolean on either side → compare truthy(); both numeric (a float, or a string
  number() reads) → compare numbers (NaN equals nothing); otherwise compare string().
- `<` `<=` `>` `>=`: a boolean on either side → compare number(); both numeric → compare numbers;
  otherwise false if either string() is '', else compare string() by code points (so
  'YYYY-MM-DD' dates compare in calendar order).
- `+ - * div mod`, unary `-`: on number(); div or mod by 0 → NaN; mod keeps the dividend's sign
  (C fmod, JS %).  `and`/`or` short-circuit and give booleans; not(x) → not truthy(x);
  if(c, a, b) evaluates only the branch truthy(c) picks.
- selected(ref, code): string(code) is one of ref's codes (string(ref) split at single spaces,
  empty pieces dropped); count-selected(ref): how many codes.  count(ref): a list → its items
  other than '' and null; any other value → 1 if string() is not '', else 0.
- string-length(x): code points of string(x).  today(): the caller's date as 'YYYY-MM-DD' (no
  date given → ExprError).  now(): the same date as today() (chouyang keeps dates, not times; XLSForms
  write now() in a calculate for the phone's timestamp, which chouyang never computes).  date(x):
  string(x) if it is a real calendar date 'YYYY-MM-DD' (year 0001-9999), else ''; a literal that
  is not one is refused when parsing.  Dates stay strings.
"""

from chouyang.instruments.expr_describe import describe
from chouyang.instruments.expr_eval import evaluate, to_number, to_string, truthy
from chouyang.instruments.expr_syntax import (
    FUNCTIONS,
    Binary,
    Call,
    Dot,
    ExprError,
    Lit,
    Node,
    Ref,
    Unary,
    format_number,
    parse,
    references,
    to_json,
    to_text,
    uses_dot,
)

__all__ = ["FUNCTIONS", "Binary", "Call", "Dot", "ExprError", "Lit", "Node", "Ref", "Unary", "describe", "evaluate",
           "format_number", "parse", "references", "to_json", "to_number", "to_string", "to_text", "truthy", "uses_dot"]
