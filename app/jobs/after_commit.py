"""Run side effects (enqueue jobs, publish live nudges) only once the transaction has committed."""

from sqlalchemy import event
from sqlalchemy.orm import Session

KEY = "after_commit_callbacks"


def on_commit(session, callback) -> None:
    session.info.setdefault(KEY, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_callbacks(session):
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released (SQLAlchemy fires after_commit for it too): the real commit is to come
    callbacks = session.info.pop(KEY, [])
    for callback in callbacks:
        callback()


@event.listens_for(Session, "after_rollback")
def _drop_callbacks(session):
    session.info.pop(KEY, None)
