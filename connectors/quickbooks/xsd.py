"""Check a QuickBooks JSON payload against Intuit's XSD.

QuickBooks' JSON uses the XSD's element names, but JSON has no order and
XML Schema sequences do. ``to_xml`` therefore walks the schema's own
types: each JSON key becomes the element of that name, placed at its index
in the type's sequence (the order Intuit's XSD declares, inherited elements
first); a list becomes repeated elements; the attributes of a type
(``domain``, ``sparse``, ``status``; ``name`` and ``type`` of a reference)
become XML attributes, and a simple-content type such as ``ReferenceType``
takes its text from ``"value"``. ``validate`` then runs the schema's own
validator on the result.

The schema files are Intuit's (``specs/quickbooks/xsd/`` in the shared
folder next to the repository, or ``$PARTIDA_QBO_XSD_DIR``); they are not
part of the package, so callers skip when ``load_schema`` raises
``FileNotFoundError``. ``xmlschema`` (a test dependency) is imported only
when a schema is loaded.
"""

from __future__ import annotations

import functools
import os
import xml.etree.ElementTree as ET  # noqa: N817 - the usual alias
from decimal import Decimal
from pathlib import Path
from typing import Any

__all__ = ["NAMESPACE", "default_schema_dir", "element_names", "load_schema", "to_xml", "validate"]

NAMESPACE = "http://schema.intuit.com/finance/v3"
_ENTRY = "IntuitRestServiceDef.xsd"


def default_schema_dir() -> Path:
    """``$PARTIDA_QBO_XSD_DIR``, else ``<repo>/../shared/specs/quickbooks/xsd``."""
    override = os.environ.get("PARTIDA_QBO_XSD_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / ".." / "shared" / "specs" / "quickbooks" / "xsd"


@functools.lru_cache(maxsize=4)
def load_schema(directory: str | None = None) -> Any:
    """Intuit's schema set (``xmlschema.XMLSchema``), loaded once per directory.

    Raises:
        FileNotFoundError: when the XSD files are not there.
    """
    path = Path(directory) if directory else default_schema_dir()
    entry = path / _ENTRY
    if not entry.is_file():
        raise FileNotFoundError(f"Intuit's XSD not found: {entry}")
    import xmlschema  # a test dependency, loaded on demand

    return xmlschema.XMLSchema(str(entry.resolve()))


def _children(xsd_type: Any) -> dict[str, tuple[int, Any]]:
    # name -> (position in the type's sequence, element declaration); first wins.
    found: dict[str, tuple[int, Any]] = {}
    content = getattr(xsd_type, "content", None)
    if content is None or not hasattr(content, "iter_elements"):
        return found
    for index, element in enumerate(content.iter_elements()):
        name = getattr(element, "local_name", None)
        if name and name not in found:
            found[name] = (index, element)
    return found


def _attributes(xsd_type: Any) -> set[str]:
    attributes = getattr(xsd_type, "attributes", None) or {}
    return {name for name in attributes if name}


def element_names(entity_name: str, schema: Any | None = None) -> dict[str, Any]:
    """Element name -> its type, for a global element (``Invoice``)."""
    schema = schema if schema is not None else load_schema()
    return {name: element.type for name, (_, element) in _children(schema.elements[entity_name].type).items()}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _fill(node: ET.Element, xsd_type: Any, value: Any, path: str, problems: list[str]) -> None:
    if xsd_type.is_simple():
        if isinstance(value, (dict, list)):
            problems.append(f"{path}: expected a single value, got {type(value).__name__}")
            return
        node.text = _text(value)
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object, got {type(value).__name__}")
        return
    attributes = _attributes(xsd_type)
    if xsd_type.has_simple_content():
        for key, item in value.items():
            if key == "value":
                node.text = _text(item)
            elif key in attributes:
                node.set(key, _text(item))
            else:
                problems.append(f"{path}.{key}: not a field of {xsd_type.local_name}")
        return
    children = _children(xsd_type)
    for key in sorted(value, key=lambda k: children.get(k, (-1, None))[0]):
        _add(node, key, value[key], children, attributes, xsd_type, f"{path}.{key}", problems)


def _add(node: ET.Element, key: str, item: Any, children: dict[str, tuple[int, Any]], attributes: set[str],
         xsd_type: Any, path: str, problems: list[str]) -> None:
    if key in attributes:
        node.set(key, _text(item))
        return
    if key not in children:
        problems.append(f"{path}: not a field of {xsd_type.local_name or 'this type'}")
        return
    element = children[key][1]
    items = item if isinstance(item, list) else [item]
    if isinstance(item, list) and element.max_occurs == 1:
        problems.append(f"{path}: a single {key} is expected, got a list")
        return
    for index, one in enumerate(items):
        child = ET.SubElement(node, f"{{{NAMESPACE}}}{key}")
        _fill(child, element.type, one, f"{path}[{index}]" if isinstance(item, list) else path, problems)


def to_xml(entity_name: str, payload: dict[str, Any], schema: Any | None = None) -> tuple[ET.Element, list[str]]:
    """The XML of a JSON payload, in the XSD's order, and the keys it could not place.

    Raises:
        KeyError: when ``entity_name`` is not a global element of the schema.
    """
    schema = schema if schema is not None else load_schema()
    root = ET.Element(f"{{{NAMESPACE}}}{entity_name}")
    problems: list[str] = []
    _fill(root, schema.elements[entity_name].type, payload, entity_name, problems)
    return root, problems


def validate(entity_name: str, payload: dict[str, Any], schema: Any | None = None) -> list[str]:
    """What is wrong with ``payload`` as an ``entity_name`` per Intuit's XSD (empty: valid).

    Args:
        entity_name: a global element of the schema (``Invoice``, ``Payment``...).
        payload: the JSON body (as parsed: dicts, lists, numbers, strings).
        schema: a loaded schema; the default directory's when None.

    Returns:
        One message per problem: keys that are not elements of their type,
        then the schema validator's errors (``path: reason``).

    Raises:
        FileNotFoundError: when no schema is given and the XSD files are absent.
    """
    schema = schema if schema is not None else load_schema()
    if entity_name not in schema.elements:
        return [f"{entity_name} is not an element of Intuit's schema"]
    root, problems = to_xml(entity_name, payload, schema)
    for error in schema.iter_errors(root):
        path = str(error.path or entity_name).replace(f"{{{NAMESPACE}}}", "")
        problems.append(f"{path}: {error.reason}")
    return problems
