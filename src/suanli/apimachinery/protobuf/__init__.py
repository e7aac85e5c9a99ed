"""Decoding of Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``).

Clients such as kubectl send built-in kinds as protobuf.  :func:`decode_k8s_protobuf` turns such a body
into the JSON-style dict a JSON client would have sent, using a field table generated from the upstream
``generated.proto`` files by ``scripts/gen_proto_schema.py`` (``schema.json`` next to this file).
Only decoding is provided: responses are always JSON.
"""

from suanli.apimachinery.protobuf.decode import MAGIC, decode_k8s_protobuf, supported_kinds
from suanli.apimachinery.protobuf.wire import ProtobufError

__all__ = ["MAGIC", "ProtobufError", "decode_k8s_protobuf", "supported_kinds"]
