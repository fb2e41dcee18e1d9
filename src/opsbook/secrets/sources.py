"""Reading a secret's last rotation from where the config says: a command printing a date (ISO 8601 or
epoch seconds; e.g. `aws secretsmanager describe-secret --secret-id jwt --query LastRotatedDate --output
text`) or a file's modification time. Blocking; the value of the secret is never read.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

from opsbook.backups import shell
from opsbook.backups.listing import parse_time
from opsbook.secrets.config import RotationSource


class SourceError(ValueError):
    """The command failed or printed no date, or the file is not there."""


def read_last_rotation(source: RotationSource) -> datetime:
    if source.file is not None:
        try:
            return datetime.fromtimestamp(os.stat(os.path.expanduser(source.file)).st_mtime, UTC)
        except OSError as exc:
            raise SourceError(f"cannot read {source.file}: {exc.strerror}") from None
    assert source.command is not None
    ran = shell.shell(source.command, source.timeout.total_seconds(), source.env)
    if not ran.ok:
        raise SourceError(f"the command failed ({ran.error}): {shell.tail(ran.output, 3, 300)}")
    for line in ran.output.splitlines():
        found = parse_time(line.strip().strip('"'))
        if found is not None:
            return found
    printed = shell.tail(ran.output, 3, 300)
    raise SourceError(f"the command printed no date (ISO 8601 or epoch seconds): {printed}")
