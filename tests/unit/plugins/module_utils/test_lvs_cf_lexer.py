# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf's lexer: the fast path for lines without quotes splits them exactly as the general
path does, tokens, columns and end column alike."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from plugins.module_utils.lvs_cluster.lvs_cf import lexer
from plugins.module_utils.lvs_cluster.lvs_cf.errors import LvsCfError
from plugins.module_utils.lvs_cluster.lvs_cf.parser import parse_lvs_cf

LINES = st.text(alphabet=st.sampled_from(["a", "7", ".", "=", "#", "é", " ", "\t"]),
                max_size=40)


@given(LINES)
def test_a_line_without_quotes_is_split_as_the_general_path_splits_it(line):
    start = lexer._skip_blanks(line, 0)  # pylint: disable=protected-access
    fast = lexer._tokenize(line, 1, "lvs.cf", [])  # pylint: disable=protected-access
    if start == len(line) or line[start] == "#":
        assert fast is None
        return
    general = lexer._tokenize_quoted(line, start, 1, "lvs.cf", [])  # pylint: disable=protected-access
    assert fast == general


def test_a_line_with_quotes_keeps_its_quoted_token():
    statement = lexer._tokenize('  label "two words"', 3, "lvs.cf", [])  # pylint: disable=protected-access
    assert [(t.text, t.column, t.quote) for t in statement.tokens] == [
        ("label", 3, None), ("two words", 9, '"')]
    assert statement.end_column == 20


def test_the_parser_takes_statements_as_they_are_lexed_not_all_first():
    """Streaming: a large lvs.cf is never held as statements all at once. The sign of it here:
    a mistake on line 2 is reported before the lexer reaches a bad character on line 4 (lexing
    everything first would report line 4)."""
    text = "serial_no = 1\nno_such_key = 1\n\nservice = lvs\x01\n"
    with pytest.raises(LvsCfError) as raised:
        parse_lvs_cf(text, "lvs.cf")
    assert raised.value.line == 2


def test_a_token_text_is_one_object_however_often_it_appears():
    first, second = (lexer._tokenize(line, 1, "lvs.cf", [])  # pylint: disable=protected-access
                     for line in ("address = 10.30.0.1", "  address = 10.30.0.1"))
    assert all(a.text is b.text for a, b in zip(first.tokens, second.tokens, strict=True))


def test_lex_counts_lines_as_before():
    assert [lexer.lex(text, "x").line_count for text in ("", "a", "a\n", "a\nb", "\n\n")] == \
        [0, 1, 1, 2, 2]
