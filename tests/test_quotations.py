"""A quotation and its attribution answer together.

'What did Lindqvist say about the storms?' is answered by the quotation and
by who said it: the answering sentence must hold both, and the passage must
be found although the quote itself never names her.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.story import Story

HEADLINE = "Varnby harbour counts the cost of the storms\n\n"
OTHER = ("The storms of last winter closed the north quay for six weeks.\n\n"
         "Fishing boats will use the south quay while the north quay is repaired.\n")


def _ask(tmp_path: Path, quote_paragraph: str, question: str):
    (tmp_path / "000_harbour.txt").write_text(HEADLINE + quote_paragraph + "\n\n" + OTHER, encoding="utf-8")
    return Story.from_folder(tmp_path).ask(question)


@pytest.mark.parametrize("quotation", [
    "\u201cThe storms were the worst in memory and we lost two boats,\u201d",  # one sentence
    "\u201cThe storms were the worst in memory. We lost two boats,\u201d",  # several: no cut at the inner stop
])
def test_a_quotation_comes_with_its_attribution(tmp_path: Path, quotation: str) -> None:
    answer = _ask(tmp_path, quotation + " harbour master Eira Lindqvist said on Monday.",
                  "What did Lindqvist say about the storms?")
    assert "worst in memory" in answer.hits[0].passage.text
    assert answer.sentence is not None
    assert "worst in memory" in answer.sentence and "Lindqvist said" in answer.sentence
