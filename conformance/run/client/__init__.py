"""The measuring client: dialects, SSE splitting at first byte, raw records.

``decode_stream``/``decode_body`` of the record docs are :meth:`Client.decode` (or a
dialect's ``decode``), run after the request, off the hot path.
"""

from conformance.run.client.anthropic_messages import AnthropicMessages
from conformance.run.client.client import AUTH, Client
from conformance.run.client.config import DIALECTS, ClientConfig, decode_record, make_dialect
from conformance.run.client.dialect import BuiltRequest, ChatParams, CountTokens, Dialect
from conformance.run.client.openai_chat import OpenAIChat
from conformance.run.client.openai_responses import OpenAIResponses
from conformance.run.client.sse import SSESplitter

__all__ = [
    "AUTH",
    "DIALECTS",
    "AnthropicMessages",
    "BuiltRequest",
    "ChatParams",
    "Client",
    "ClientConfig",
    "CountTokens",
    "Dialect",
    "OpenAIChat",
    "OpenAIResponses",
    "SSESplitter",
    "decode_record",
    "make_dialect",
]
