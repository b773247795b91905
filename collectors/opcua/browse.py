"""Browse paths to node ids, on a live session: TranslateBrowsePathsToNodeIds in batches.

A plant file may address robot variables by browse path (``Objects/{ns}:Robots/
{ns}:R01/{ns}:State``) instead of node id. The path is translated on every new
session, because a restarted server may number its nodes differently; the
path is what stays. A path the server cannot follow (``BadNoMatch``: a robot
not configured yet, a misspelt browse name) gives a text saying which path and
why; the collector records it as BAD_STATUS and tries again, like a node id
the server does not know.
"""

from __future__ import annotations

from collections.abc import Sequence

from asyncua import Client, ua

from shopfloor.collectors.opcua.decode import status_name
from shopfloor.collectors.opcua.plan import FleetPlan, MonitoredVariable, batches
from shopfloor.models.plant import BrowseName

# RemainingPathIndex of a target the server followed to the end of the path.
_WHOLE_PATH = 0xFFFFFFFF


def path_text(path: Sequence[BrowseName], ns_index: int | None) -> str:
    """The path as an operator would type it, with the namespace index this server uses."""
    parts = []
    for element in path:
        namespace: int | str | None = ns_index if element.namespace is None else element.namespace
        if namespace is None:
            namespace = "{ns}"  # namespace_uri, not on this server
        parts.append(element.name if namespace == 0 else f"{namespace}:{element.name}")
    return "/".join(parts)


def _browse_path(item: MonitoredVariable, ns_index: int) -> ua.BrowsePath:
    elements = [
        ua.RelativePathElement(
            ReferenceTypeId=ua.NodeId(ua.ObjectIds.HierarchicalReferences),  # type: ignore[arg-type]  # asyncua's ua.Int32 marker type stands for int
            IsInverse=False,  # type: ignore[arg-type]  # asyncua's ua.Boolean marker type stands for bool
            IncludeSubtypes=True,  # type: ignore[arg-type]  # asyncua's ua.Boolean marker type stands for bool
            TargetName=ua.QualifiedName(e.name, ns_index if e.namespace is None else e.namespace),
        )
        for e in item.browse_path or ()
    ]
    return ua.BrowsePath(
        StartingNode=ua.NodeId(ua.ObjectIds.RootFolder),  # type: ignore[arg-type]  # asyncua's ua.Int32 marker type stands for int
        RelativePath=ua.RelativePath(Elements=elements),
    )


def _target(result: ua.BrowsePathResult, text: str, namespace_array: Sequence[str]) -> ua.NodeId | str:
    """The node a translated path names, or why there is none."""
    if not result.StatusCode.is_good():
        return f"browse path {text!r}: {status_name(result.StatusCode.value)}"
    targets = [t for t in result.Targets or () if t.RemainingPathIndex == _WHOLE_PATH]
    if not targets:
        return f"browse path {text!r}: the server returned no node"
    target = targets[0].TargetId
    # asyncua decodes an ExpandedNodeId without a uri or server index as a plain NodeId.
    server_index = getattr(target, "ServerIndex", 0)
    uri = getattr(target, "NamespaceUri", None)
    if server_index:
        return f"browse path {text!r} leads to another server (server index {server_index})"
    index = target.NamespaceIndex
    if uri:
        if uri not in namespace_array:
            return f"browse path {text!r} leads to namespace {uri!r}, unknown to the server"
        index = list(namespace_array).index(uri)
    # A plain NodeId: the ExpandedNodeId's extra fields mean nothing to Read or CreateMonitoredItems.
    return ua.NodeId(target.Identifier, index, target.NodeIdType)


async def translate_browse_paths(
    client: Client, plan: FleetPlan, namespace_array: Sequence[str], indices: Sequence[int], batch_size: int
) -> dict[int, ua.NodeId | str]:
    """Node id (or why not) of each plan item in ``indices`` addressed by browse path.

    One request per ``batch_size`` paths, as servers limit the paths per
    request. A request the server refuses as a whole (a status, not a broken
    link) makes each of its paths a text; transport errors propagate, since
    they mean the link is lost.
    """
    namespaces = list(namespace_array)
    index_of = {uri: k for k, uri in enumerate(namespaces)}
    out: dict[int, ua.NodeId | str] = {}
    wanted: list[tuple[int, ua.BrowsePath, str]] = []
    for i in indices:
        item = plan.items[i]
        if item.browse_path is None:
            continue
        ns_index = index_of.get(item.namespace_uri or "")
        text = path_text(item.browse_path, ns_index)
        if ns_index is None and any(e.namespace is None for e in item.browse_path):
            out[i] = f"browse path {text!r}: namespace {item.namespace_uri!r} is not in the server's namespace array"
        else:
            wanted.append((i, _browse_path(item, ns_index or 0), text))
    for chunk in batches(wanted, batch_size):
        paths = [path for _, path, _ in chunk]
        try:
            results = await client.uaclient.translate_browsepaths_to_nodeids(paths)
        except ua.UaStatusCodeError as exc:
            for i, _, text in chunk:
                out[i] = f"browse path {text!r}: TranslateBrowsePathsToNodeIds failed: {status_name(exc.code)}"
            continue
        # one result per path requested, unless the server misbehaves: not enforced here
        for (i, _, text), result in zip(chunk, results, strict=False):
            out[i] = _target(result, text, namespaces)
    return out
