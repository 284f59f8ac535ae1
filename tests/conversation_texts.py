"""Articles and chains of follow-up questions shared by the conversation tests.

FERRY and LIBRARY are written for these tests. The seed chains ask about the shared seed
article (tests that use them skip when it is absent); each step is a question and a few
words the first quote must hold (never the article's text itself).
"""

from __future__ import annotations

from tests.conftest import SHARED

SEED = SHARED / "seed" / "000_25aae2e60ceb2198.txt"

FERRY = """Harbor council approves ferry deal

The Port Averly council approved a new ferry contract on Tuesday after a four-hour meeting in the old customs house.

"This deal keeps the island connected for another decade," Mayor Lucia Ortiz said after the vote.

Ortiz also said that fares would stay at two dollars for residents until 2027.

Councilman Derek Hale, who voted against the contract, said the price was too high for a city facing a budget gap.

"We are paying twice what the last operator charged," Hale said.

The first new ferry will arrive in Port Averly in March, according to the transport office.
"""  # noqa: E501

LIBRARY = """Library extends weekend hours

The Port Averly public library will stay open until 9 p.m. on Saturdays starting next month.

"Students asked us for quiet evenings to study, and we listened," library director Ana Silva said.

The change costs about 40,000 dollars a year, paid from a state grant.
"""

Step = tuple[str, str]  # (question, words the first quote holds; "a|b": either is right)


def holds(words: str, quote: str) -> bool:
    """Whether a quote holds a step's words (one of them, when several are right)."""
    return any(w in quote for w in words.split("|"))

# Who said what, what else they said, and someone else; then where and when; then a move to
# the other article (the conversation's article is a prior, never a filter).
FERRY_CHAIN: list[Step] = [
    ("What did Ortiz say about the deal?", "keeps the island connected"),
    ("What else did she say?", "fares would stay at two dollars"),
    ("And Hale?", "paying twice"),
    ("Where was the meeting?", "old customs house"),
    ("When was that?", "on Tuesday"),
    ("What did the library director say?", "quiet evenings"),
]

SEED_CHAINS: list[list[Step]] = [
    [("What did Pompeo say about the missile engine plant?", "modalities"),
     ("What else did he say?", "repatriation of remains"),
     ("And Kim?", "very serious discussion"),
     ("And Cronin?", "two-to-three-month window")],
    [("Who said he slept just fine?", "slept just fine"),
     ("What else did he say?", "repatriation of remains|modalities"),  # another of his
     ("When is that meeting?", "next week")],
    [("When did North Korea express regret?", "Saturday"),
     ("Where did Pompeo spend the night?", "government guesthouse"),
     ("Did he see Kim Jong Un?", "did not see the North Korean leader")],
]


def title_and_text(article: str) -> tuple[str, str]:
    title, _, text = article.partition("\n")
    return title, text
