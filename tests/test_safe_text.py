"""Text from landed files made safe for logs and errors."""

from retention.landing.safe_text import printable


def test_control_and_format_characters_are_escaped_on_one_line():
    assert printable("a\nb\r\t\x1b[31m\u202e\u2028z") == "a\\nb\\r\\t\\x1b[31m\\u202e\\u2028z"
    assert printable("南京西路 ok") == "南京西路 ok"


def test_backslashes_are_escaped_unless_the_text_was_escaped_already():
    assert printable("C:\\x") == "C:\\\\x"
    once = printable("crm\nFAKE.csv")
    assert printable(f"{once}: missing", escape_backslash=False) == "crm\\nFAKE.csv: missing"
    # Still no raw control character gets through.
    assert printable("a\\n\nb", escape_backslash=False) == "a\\n\\nb"


def test_long_text_is_cut_with_a_marker():
    assert printable("x" * 205, limit=200) == "x" * 200 + "...(+5 chars)"
    assert printable("x" * 205, limit=None) == "x" * 205
