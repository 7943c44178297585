# Copyright: lvs.cluster developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lvs.cf's lexer: the fast path for lines without quotes splits them exactly as the general
path does, tokens, columns and end column alike."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from plugins.module_utils.lvs_cluster.lvs_cf import lexer

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
