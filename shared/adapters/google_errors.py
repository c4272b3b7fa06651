"""Translate Google client-library exceptions into the project's own, at the adapter boundary."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from google.api_core import exceptions as gexc
from google.protobuf.message import DecodeError

from shared.errors import ConflictError, NotFoundError, StoreRefusedError, UnavailableError

_TRANSIENT = (
    gexc.ServiceUnavailable,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.TooManyRequests,
    gexc.Aborted,
    gexc.ResourceExhausted,
    gexc.BadGateway,
    gexc.GatewayTimeout,
    gexc.RetryError,
)


def aborted_for_contention(exc: BaseException) -> bool:
    """A transaction that aborted: from a read (Aborted), or at commit on every attempt the client
    made (it gives up with a ValueError raised from the last Aborted)."""
    return isinstance(exc, gexc.Aborted) or (isinstance(exc, ValueError) and isinstance(exc.__cause__, gexc.Aborted))


@contextmanager
def translated(what: str) -> Iterator[None]:
    try:
        yield
    except gexc.NotFound as exc:
        raise NotFoundError(f"{what}: not found") from exc
    except gexc.InvalidArgument as exc:  # data the store cannot hold, checked on its side
        raise StoreRefusedError(what, exc.message) from exc
    except DecodeError as exc:  # a value nested deeper than a write message may be
        raise StoreRefusedError(what, str(exc)) from exc
    except (gexc.AlreadyExists, gexc.FailedPrecondition, gexc.PreconditionFailed, gexc.Conflict) as exc:
        raise ConflictError(f"{what}: changed concurrently") from exc
    except _TRANSIENT as exc:
        raise UnavailableError(f"{what}: storage temporarily unavailable") from exc
    except OSError as exc:  # connection failures, requests' included
        raise UnavailableError(f"{what}: storage unreachable") from exc
    except ValueError as exc:
        # Any ValueError but a transaction that aborted on every attempt is a bug, left as it is.
        if aborted_for_contention(exc):
            raise UnavailableError(f"{what}: storage busy with concurrent changes, try again") from exc
        raise
