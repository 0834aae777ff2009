"""The quick-reference card (docs/quick-reference.md, `make card`) is the
alarm table, the patterns and the words, never typed: it fails here when they
drift apart (run `make card` and review the diff)."""
import struct

import pytest

from host_tools.view import card
from host_tools.view import words as W
from pumpmon import alarms as A
from pumpmon import screenwords as SW


@pytest.mark.req("R-066")
def test_the_card_in_docs_is_the_tables():
    assert card.CARD.read_text() == card.markdown(), "run `make card`"


@pytest.mark.req("R-066")
def test_every_condition_is_on_the_card_high_priority_first():
    rows = card.rows()
    assert sorted(r["name"] for r in rows) == sorted(
        "%s/%s" % (A.KIND_NAMES[k], c) for k, _p, c in A.TABLE)
    prios = [A.PRIORITY_NAMES.index(r["priority"]) for r in rows]
    assert prios == sorted(prios)
    text = card.markdown()
    for k, _p, c in A.TABLE:
        assert W.CONDITION_WORDS[(A.KIND_NAMES[k], c)] in text
        assert "**%s**" % SW.WORDS[(A.KIND_NAMES[k], c)][0] in text


@pytest.mark.req("R-066")
def test_a_changed_word_or_pattern_changes_the_card(monkeypatch):
    # the drift check can fail: the card follows the tables it is made of
    before = card.markdown()
    key = (A.KIND_NAMES[A.TABLE[0][0]], A.TABLE[0][2])
    monkeypatch.setitem(W.CONDITION_WORDS, key, "something else")
    assert card.markdown() != before
    monkeypatch.undo()
    from pumpmon import patterns as P
    monkeypatch.setattr(P, "SOUND", ((P.C4, 100, 900),) + P.SOUND[1:])
    assert "1 beep (C4), every 1 s" in card.markdown()


@pytest.mark.req("R-066")
def test_the_card_as_png(tmp_path):
    p = tmp_path / "card.png"
    card.png(p)
    data = p.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1650, 1170)


@pytest.mark.req("R-066")
def test_the_demonstrations_order_in_its_doc_is_the_tables():
    # docs/alarm-demo.md lists what `pumpmon demo` plays (demo.py's order)
    from host_tools.commands.demo import plan
    from host_tools.paths import ROOT
    from pumpmon import demo as D
    doc = (ROOT / "docs" / "alarm-demo.md").read_text()
    rows = [ln for ln in doc.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert rows == ["| %d | %s | %s |" % (i * D.DEMO_MS // 1000, t, p)
                    for i, (t, p) in enumerate(plan())]
