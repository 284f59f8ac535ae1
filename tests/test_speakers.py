from __future__ import annotations

import pytest

from index.ingest.speakers import attribute
from index.text import name_keys


@pytest.mark.parametrize(("sentence", "speaker"), [
    ('"We will rebuild," Pompeo said.', "Pompeo"),
    ('"We will rebuild", Secretary Pompeo said.', "Secretary Pompeo"),
    ('"We expected more", the spokesman said, according to the news agency, Yonhap.',
     "the spokesman"),
    ('"It is over," said Mayor Dana Reyes.', "Mayor Dana Reyes"),
    ('On the plant, Pompeo said, "We talked about the modalities."', "Pompeo"),
    ("Pompeo also said that there would be a meeting next week.", "Pompeo"),
    ("The ministry said on Friday that talks would resume.", "The ministry"),
    ("The deal, Kim said, was a step forward.", "Kim"),
    ("Prices will rise, according to the central bank.", "the central bank"),
    ("The bridge opened on Monday after four years of delays.", None),
    ("It was the first national title for the school.", None),
])
def test_attribution_patterns(sentence: str, speaker: str | None) -> None:
    assert attribute([sentence]) == [speaker]


def test_pronoun_resolves_to_the_last_named_speaker() -> None:
    assert attribute(['"Not today," he said.'], previous="Hannah Brooks") == ["Hannah Brooks"]


def test_a_continuing_quotation_inherits_its_speaker() -> None:
    got = attribute(['"There is a window," Cronin said.', '"So think about it."'])
    assert got == ["Cronin", "Cronin"]


def test_name_keys_drop_titles() -> None:
    assert name_keys("Secretary of State Mike Pompeo") == {"mike", "pompeo"}


def test_a_pronoun_resolves_to_a_speaker_named_earlier_in_the_paragraph() -> None:
    got = attribute(["Hannah Brooks said the vote was close.", '"Not today," she said.'])
    assert got == ["Hannah Brooks", "Hannah Brooks"]
