"""The OPC UA server: DI and MachineVision NodeSets, one ``VisionSystemType`` object per line, result events.

Each line ``L`` is an object ``ns=<lines>;s=L`` (browse name ``L``) under Objects, of the
MachineVision ``VisionSystemType``. A piece record becomes one ``SortResultReadyEventType`` event
on its line's object: a subtype of MachineVision's ``ResultReadyEventType`` (so a client that
subscribes to ``ResultReadyEventType`` receives it) that adds the sorting fields: ``LineId``,
``Grade``, ``Family``, ``Bin``, ``Decision`` and ``FireCount`` (the encoder count at which the
bin's valve opens; null without the line's ejection set-up). The specification's fields carry the
ids: ``ResultId`` = the record id (the cursor of ``GET /v1/pieces``), ``PartId`` = ``piece_id``,
``ResultState`` (see :mod:`api.opcua.results`), ``CreationTime`` = when the service received the
piece, and ``ResultContent`` = the JSON body the line was answered over HTTP.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from asyncua import Node, Server, ua

from api.opcua.access import KeyUserManager, LineRuleset
from api.opcua.results import SortResult
from blending.errors import InputError

log = logging.getLogger("api.opcua")
MACHINE_VISION = "http://opcfoundation.org/UA/MachineVision"
LINES_NAMESPACE = "urn:aluloop:sorting-lines"
NODESETS = ("Opc.Ua.Di.NodeSet2.xml", "Opc.Ua.MachineVision.NodeSet2.xml")
# NodeIds of the MachineVision NodeSet (in its own namespace)
VISION_SYSTEM_TYPE = 1003
RESULT_READY_EVENT_TYPE = 1024
EVENT_NAME = "SortResultReadyEventType"


async def build_server(endpoint: str, user_manager: KeyUserManager, allow_anonymous: bool,
                       certificate: Path | None = None, private_key: Path | None = None) -> LineServer:
    """A server on ``endpoint`` with the NodeSets loaded and the event type made; no line objects yet.

    With ``certificate`` and ``private_key`` the only endpoint is Basic256Sha256 SignAndEncrypt (user
    passwords, that is API keys, are then encrypted); without them the only one is None (in the clear).
    """
    if (certificate is None) != (private_key is None):
        raise InputError("give both opcua_certificate and opcua_private_key, or neither",
                         field="opcua_certificate" if certificate is None else "opcua_private_key")
    server = Server(user_manager=user_manager)
    await server.init()
    server.set_endpoint(endpoint)
    policy = ua.SecurityPolicyType.NoSecurity
    if certificate is not None:
        for path, name in ((certificate, "opcua_certificate"), (private_key, "opcua_private_key")):
            if not Path(path).is_file():
                raise InputError(f"{path}: no such file", field=name)
        await server.load_certificate(str(certificate))
        await server.load_private_key(str(private_key))
        policy = ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt
    server.set_server_name("aluloop sorting lines")
    tokens = [ua.UserNameIdentityToken] + ([ua.AnonymousIdentityToken] if allow_anonymous else [])
    server.set_identity_tokens(tokens)
    folder = resources.files("api.opcua") / "nodesets"
    for name in NODESETS:
        await server.import_xml(xmlstring=(folder / name).read_text(encoding="utf-8"))
    line_of_node: dict[ua.NodeId, str] = {}
    server.set_security_policy([policy], permission_ruleset=LineRuleset(line_of_node))
    mv = await server.get_namespace_index(MACHINE_VISION)
    idx = await server.register_namespace(LINES_NAMESPACE)
    event_type = await server.create_custom_event_type(
        idx, EVENT_NAME, ua.NodeId(RESULT_READY_EVENT_TYPE, mv),
        [("LineId", ua.VariantType.String), ("Grade", ua.VariantType.String), ("Family", ua.VariantType.String),
         ("Bin", ua.VariantType.String), ("Decision", ua.VariantType.String), ("FireCount", ua.VariantType.Int64)])
    return LineServer(server, idx, mv, event_type, line_of_node)


class LineServer:
    """The server and its line objects; :meth:`publish` fires one result event."""

    def __init__(self, server: Server, idx: int, mv: int, event_type: Node, line_of_node: dict[ua.NodeId, str]):
        self.server = server
        self.idx = idx
        self.mv = mv
        self.event_type = event_type
        self.line_of_node = line_of_node
        self.generators: dict[str, object] = {}

    async def add_line(self, line_id: str) -> None:
        """The line's VisionSystemType object (once) and its event generator."""
        if line_id in self.generators:
            return
        node = await self.server.nodes.objects.add_object(ua.NodeId(line_id, self.idx), ua.QualifiedName(line_id,
                                                          self.idx), objecttype=ua.NodeId(VISION_SYSTEM_TYPE, self.mv))
        await node.write_attribute(ua.AttributeIds.EventNotifier, ua.DataValue(ua.Variant(1, ua.VariantType.Byte)))
        stack = [node]
        while stack:   # every node of the object belongs to the line (read and monitor rights)
            n = stack.pop()
            self.line_of_node[n.nodeid] = line_id
            stack.extend(await n.get_children())
        self.generators[line_id] = await self.server.get_event_generator(self.event_type, node)
        log.info("OPC UA: line %s", line_id)

    async def publish(self, result: SortResult) -> None:
        """One ResultReadyEvent (of the sorting subtype) on the result's line object."""
        await self.add_line(result.line_id)
        generator = self.generators[result.line_id]
        ev = generator.event
        ev.ResultId = ua.ResultIdDataType(Id=str(result.record_id))
        ev.PartId = ua.PartIdDataType(Id=result.piece_id)
        ev.ResultState = ua.Variant(result.result_state, ua.VariantType.Int32)
        ev.IsPartial = ua.Variant(False, ua.VariantType.Boolean)
        ev.IsSimulated = ua.Variant(False, ua.VariantType.Boolean)
        ev.CreationTime = result.received_at
        ev.ResultContent = ua.Variant([ua.Variant(result.content_json, ua.VariantType.String)],
                                      ua.VariantType.Variant)
        ev.LineId, ev.Grade, ev.Family = result.line_id, result.grade, result.family
        ev.Bin, ev.Decision = result.bin, result.decision
        ev.FireCount = (ua.Variant(result.fire_count, ua.VariantType.Int64) if result.fire_count is not None
                        else ua.Variant(None, ua.VariantType.Null))
        await generator.trigger(message=f"{result.piece_id}: {result.state} {result.grade or '-'} -> {result.bin}")
