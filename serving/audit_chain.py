"""Verifying the audit trail's hash chain (``sponsorwatch audit verify``).

The chain is described in :mod:`serving.audit`. :func:`verify_chain` reads the rows in
chain order (``seq``) once, recomputes each row's hash and follows each link, and names
every row that breaks the chain and how:

- *edited*: the row's content no longer gives its stored hash;
- *deleted*: positions are missing, and the next row names a predecessor not in the trail;
- *reordered*: a row names as its predecessor a row that stands elsewhere in the chain;
- *inserted*: a row outside the chain (no position), or one whose predecessor is unknown
  while no position is missing;
- *cut*: the trail starts later than position 1 without a purge row recording the cut, or
  ends before the head that the writers moved.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from serving.audit import PURGE_EVENT, row_digest
from serving.db import GENESIS_HASH, AuditChainHead, AuditEntry

#: Hashes of the latest rows kept to tell where a misplaced row's predecessor stands.
_WINDOW = 10_000
_MAX_PROBLEMS = 1_000


@dataclass
class ChainReport:
    """What ``verify_chain`` found; ``ok`` when no problem."""

    rows: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_seq: int | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, problem: str) -> None:
        if len(self.problems) < _MAX_PROBLEMS:
            self.problems.append(problem)


def _short(digest: str | None) -> str:
    return (digest or "none")[:12]


def _purge_anchors(session: Session) -> dict[int, str]:
    """through_seq -> hash of the last purged row, from every purge row in the trail."""
    anchors: dict[int, str] = {}
    for detail in session.scalars(select(AuditEntry.detail)
                                  .where(AuditEntry.endpoint == PURGE_EVENT)):
        try:
            data = json.loads(detail or "{}")
            anchors[int(data["through_seq"])] = str(data["last_hash"])
        except (ValueError, KeyError, TypeError):
            continue  # an edited purge row fails its own hash check
    return anchors


def verify_chain(engine: Engine) -> ChainReport:
    """Walk the whole chain; see the module docstring for what is reported."""
    report = ChainReport()
    with Session(engine) as session:
        head = session.get(AuditChainHead, 1)
        anchors = _purge_anchors(session)
        loose = session.scalars(select(AuditEntry.id).where(AuditEntry.seq.is_(None))
                                .order_by(AuditEntry.id)).all()
        for row_id in loose:
            report.add(f"row id {row_id} was inserted outside the chain (it has no position)")
        query = (select(AuditEntry).where(AuditEntry.seq.is_not(None))
                 .order_by(AuditEntry.seq).execution_options(yield_per=5_000))
        seen: OrderedDict[str, tuple[int, int]] = OrderedDict()  # hash -> (id, seq)
        waiting: dict[str, tuple[int, int]] = {}  # a misplaced row's predecessor hash -> row
        expected_seq: int | None = None
        prev_hash = GENESIS_HASH
        for entry in session.scalars(query):
            seq = int(entry.seq or 0)
            report.rows += 1
            if expected_seq is None:  # the first row: position 1, or just after a purge
                report.first_seq = seq
                expected_seq = seq
                prev_hash = GENESIS_HASH if seq == 1 else anchors.get(seq - 1, "")
                if seq != 1 and not prev_hash:
                    report.add(f"the trail starts at seq {seq} (row id {entry.id}) but no "
                               f"purge row records the deletion of seq 1..{seq - 1}: "
                               "rows deleted from the start")
                    prev_hash = entry.prev_hash or ""
            missing = seq - expected_seq
            if entry.prev_hash != prev_hash:
                if missing > 0:
                    report.add(f"rows seq {expected_seq}..{seq - 1} were deleted (before "
                               f"row id {entry.id}, seq {seq})")
                elif entry.prev_hash in seen:
                    before_id, before_seq = seen[entry.prev_hash]
                    report.add(f"row id {entry.id} (seq {seq}) is out of order: it was "
                               f"written after row id {before_id} (seq {before_seq}), not "
                               f"after the row before it: rows reordered or a row inserted")
                else:
                    waiting[entry.prev_hash or ""] = (entry.id, seq)
            elif missing > 0:
                report.add(f"positions seq {expected_seq}..{seq - 1} are missing before row id "
                           f"{entry.id}: rows deleted")
            if row_digest(_content(entry), entry.prev_hash or "") != entry.row_hash:
                report.add(f"row id {entry.id} (seq {seq}) was edited: its content does not "
                           f"match its hash {_short(entry.row_hash)}")
            if entry.row_hash in waiting:
                later_id, later_seq = waiting.pop(entry.row_hash)
                report.add(f"row id {later_id} (seq {later_seq}) is out of order: it was "
                           f"written after row id {entry.id}, which now stands after it at "
                           f"seq {seq}: rows reordered")
            seen[entry.row_hash or ""] = (entry.id, seq)
            if len(seen) > _WINDOW:
                seen.popitem(last=False)
            prev_hash = entry.row_hash or ""
            expected_seq = seq + 1
            report.head_seq, report.head_hash = seq, prev_hash
        for row_id, seq in waiting.values():
            report.add(f"row id {row_id} (seq {seq}) names a predecessor that is not in the "
                       "trail: a row was deleted before it, or it was inserted")
        _check_head(report, head, session)
    return report


def _check_head(report: ChainReport, head: AuditChainHead | None, session: Session) -> None:
    if head is None:
        report.add("the chain's head row is missing")
        return
    if head.seq != report.head_seq or (head.seq and head.row_hash != report.head_hash):
        if head.seq > report.head_seq:
            report.add(f"the trail ends at seq {report.head_seq} but the writers reached seq "
                       f"{head.seq}: rows deleted from the end")
        else:
            report.add(f"the trail ends at seq {report.head_seq} ({_short(report.head_hash)}) "
                       f"but the writers' head is seq {head.seq} ({_short(head.row_hash)}): "
                       "rows inserted at the end, or the last row changed")
    elif report.rows == 0 and session.scalar(select(func.count()).select_from(AuditEntry)):
        report.add("no row of the trail is chained")


def _content(entry: AuditEntry) -> dict:
    return {"at": entry.at, "key_id": entry.key_id, "role": entry.role,
            "endpoint": entry.endpoint, "sponsor_ids": entry.sponsor_ids,
            "sponsor_count": entry.sponsor_count, "model_version": entry.model_version,
            "score_as_of": entry.score_as_of, "detail": entry.detail}
