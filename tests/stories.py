"""A folder of stories for tests: the bundled story and a small second one with nothing in common."""
from __future__ import annotations

import shutil
from pathlib import Path

from helpers import SEEDS

BRIDGE = {
    "001_bridge.txt": """Harbour bridge reopens after two years of repairs

The Lindqvist harbour bridge reopened to traffic on Monday after two years of repairs that cost 80 million euros.

Engineers replaced every cable of the suspension span, which had corroded in the salt air since the bridge opened in 1962.

Mayor Ingrid Halvorsen cut a ribbon at the northern end and said the city had missed its bridge.
""",
    "002_ferry.txt": """Ferry service ends as the bridge returns

The temporary ferry that carried commuters across the harbour during the repairs made its last crossing on Sunday evening.

About 4,000 passengers a day used the ferry, which the city hired from a company in Bergen for the two years.

Ferry captain Olav Dahl said his crew would miss the morning commuters and their coffee.
""",
}


def make_stories(root: Path, *, alice: str = "alice", bridge: str = "bridge") -> Path:
    """``root`` holding two stories: ``alice`` (the bundled seeds) and ``bridge`` (two short articles)."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SEEDS, root / alice)
    (root / bridge).mkdir()
    for name, text in BRIDGE.items():
        (root / bridge / name).write_text(text, encoding="utf-8")
    return root


def bridge_titles() -> set[str]:
    return {text.split("\n", 1)[0] for text in BRIDGE.values()}
