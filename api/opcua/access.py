"""Who may sign in to the OPC UA server and what they may read: the API keys and roles of the HTTP service.

Sign-in is user name and password, where the password is an API key (the user name is free, for
the PLC's own logs); the key is checked against the hashed keys in the database, so a key made or
revoked with ``aluloop keys`` counts at the next sign-in. The roles that read piece records over
HTTP (``controller``, ``quality``) may sign in; a controller key that names lines reads only those
lines' objects. Anonymous sign-in is off unless the ``opcua_anonymous`` setting turns it on (then
an anonymous client reads every line). The address space is read-only for everyone: no writes,
no method calls, no node management.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from asyncua import ua
from asyncua.common.utils import Buffer
from asyncua.crypto.permission_rules import USER_TYPES, PermissionRuleset, User, UserRole
from asyncua.ua.ua_binary import struct_from_binary
from sqlalchemy.orm import Session, sessionmaker

from api.db.keys import authenticate

log = logging.getLogger("api.opcua")
READER_ROLES = ("controller", "quality")
# what a reader may send: sessions, browsing, reading, subscriptions; not Write, Call, History updates
READ_ONLY = {ua.NodeId(t) for t in USER_TYPES} - {ua.NodeId(t) for t in (
    ua.ObjectIds.WriteRequest_Encoding_DefaultBinary, ua.ObjectIds.CallRequest_Encoding_DefaultBinary)}
READ = ua.NodeId(ua.ObjectIds.ReadRequest_Encoding_DefaultBinary)
BROWSE = ua.NodeId(ua.ObjectIds.BrowseRequest_Encoding_DefaultBinary)
MONITOR = ua.NodeId(ua.ObjectIds.CreateMonitoredItemsRequest_Encoding_DefaultBinary)


@dataclass
class LineUser(User):
    """A signed-in key: its role and the lines it may read (None: every line)."""

    key_role: str = ""
    lines: tuple[str, ...] | None = None


class KeyUserManager:
    """asyncua user manager: the password is an API key of a reader role; anonymous only when allowed."""

    def __init__(self, sessions: sessionmaker[Session], allow_anonymous: bool = False):
        self.sessions = sessions
        self.allow_anonymous = allow_anonymous

    def get_user(self, iserver: Any, username: str | None = None, password: str | bytes | None = None,
                 certificate: Any = None) -> User | None:
        if password is None:   # anonymous (or a certificate, which this server does not take yet)
            if username is None and self.allow_anonymous:
                return LineUser(role=UserRole.User, name="anonymous", key_role="anonymous")
            return None
        key = password.decode("utf-8", "replace") if isinstance(password, bytes) else password
        with self.sessions() as session:
            principal = authenticate(session, key)
        if principal is None or principal.role not in READER_ROLES:
            log.warning("OPC UA sign-in refused for user %r (%s)", username,
                        "unknown or revoked key" if principal is None else f"role {principal.role}")
            return None
        return LineUser(role=UserRole.User, name=principal.name, key_role=principal.role, lines=principal.lines)


class LineRuleset(PermissionRuleset):
    """Read-only access; a user with lines reads, browses and monitors no node of another line's object."""

    def __init__(self, line_of_node: dict[ua.NodeId, str]):
        self.line_of_node = line_of_node   # every node of every line object -> its line (kept up to date)

    def _other_line(self, user: LineUser, nodes: list[ua.NodeId]) -> bool:
        return any((line := self.line_of_node.get(n)) is not None and line not in user.lines for n in nodes)

    def check_validity(self, user: User, action_type_id: ua.NodeId, body: Buffer) -> bool:
        if action_type_id not in READ_ONLY:
            return False
        lines = getattr(user, "lines", None)
        if lines is None:
            return True
        if action_type_id == READ:
            params = struct_from_binary(ua.ReadParameters, body.copy())
            return not self._other_line(user, [r.NodeId for r in params.NodesToRead])
        if action_type_id == BROWSE:
            params = struct_from_binary(ua.BrowseParameters, body.copy())
            return not self._other_line(user, [d.NodeId for d in params.NodesToBrowse])
        if action_type_id == MONITOR:
            params = struct_from_binary(ua.CreateMonitoredItemsParameters, body.copy())
            return not self._other_line(user, [i.ItemToMonitor.NodeId for i in params.ItemsToCreate])
        return True
