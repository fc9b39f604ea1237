import pytest

from monai_tumorcls.utils import as_flag


@pytest.mark.parametrize(
    "value, expected",
    [(True, True), (False, False), (None, False), (1, True), (0, False),
     ("true", True), ("True", True), (" yes ", True), ("1", True), ("false", False), ("False", False),
     ("no", False), ("0", False), ("", False), ("null", False)],
)
def test_command_line_words_are_read_as_booleans(value, expected):
    assert as_flag(value) is expected


def test_other_words_are_refused_with_the_option_name():
    with pytest.raises(ValueError, match="saliency must be true or false, got 'maybe'"):
        as_flag("maybe", "saliency")
