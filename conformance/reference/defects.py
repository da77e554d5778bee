"""Defect injection: each defect makes the reference service break one requirement.

The registry is data (name, requirement, description, default parameter). The gateway,
the engines' timing and the declaration writer ask :class:`ActiveDefects` whether a
defect is on at the single point where it acts. ``--defect NAME`` or ``--defect NAME=VALUE``
(VALUE overrides the default parameter, e.g. ``dies_after=2``).

A "one request in k" defect falls exactly once in every block of k consecutive chat
requests, at a position drawn from the service's ``--seed`` (``ServiceState.faulty_at``):
never always the first request, the same for the same seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from conformance._core.errors import InputError, Problem


@dataclass(frozen=True)
class Defect:
    name: str
    requirement: str
    description: str
    param: float | None = None
    param_doc: str = ""


_D = Defect
REGISTRY: tuple[Defect, ...] = (
    _D("malformed_response", "API-001",
       "non-streaming responses lack `object` and `created`, and `choices[].message.role`"),
    _D("missing_done", "API-002", "streams end without the `data: [DONE]` terminator"),
    _D("no_stream_usage", "API-003", "stream_options.include_usage is ignored"),
    _D("ignore_max_tokens", "API-004",
       "max_tokens is ignored: generation runs PARAM tokens past it", 8, "extra tokens"),
    _D("ignore_stop", "API-005", "stop sequences are ignored"),
    _D("server_error_on_bad_json", "API-006", "malformed JSON bodies get 500 instead of 400"),
    _D("models_list_incomplete", "API-007", "GET /v1/models lists no model"),
    _D("silent_truncation", "API-008",
       "prompts beyond the context window are silently truncated and answered"),
    _D("no_request_id", "API-009",
       "no x-request-id header, and every response body carries the same id"),
    _D("wrong_model_field", "API-010", "responses name a model that was not requested"),
    _D("ttft_spikes", "PERF-001",
       "one request in PARAM (once per block, seeded position) waits 5500 ms more before its "
       "first token", 20, "requests"),
    _D("slow_tokens", "PERF-002", "every output token takes PARAM times longer", 30,
       "factor"),
    _D("midstream_stall", "PERF-003", "each stream stalls PARAM ms at its 10th token", 3500,
       "ms"),
    _D("slow_minority", "PERF-004",
       "one request in PARAM (once per block, seeded position) decodes at 300 ms per token",
       5,
       "requests"),
    _D("overclaimed_capacity", "PERF-005",
       "the declaration claims PARAM times the capacity the service reaches", 3, "factor"),
    _D("poor_scaling", "PERF-006",
       "per-token time grows by PARAM per extra active sequence (instead of 0.02)", 0.6,
       "growth"),
    _D("slow_long_prefill", "PERF-007",
       "prompts beyond 4096 tokens cost PARAM ms per extra token to prefill", 4, "ms"),
    _D("random_5xx", "STAB-001",
       "one request in PARAM (once per block, seeded position) fails with 500", 50,
       "requests"),
    _D("truncated_streams", "STAB-002",
       "one request in PARAM (once per block, seeded position) is a stream cut off "
       "mid-way: no finish_reason, no [DONE]", 50, "requests"),
    _D("5xx_under_load", "STAB-003", "requests beyond the concurrency limit get 503, not 429"),
    _D("no_retry_after", "STAB-003", "429 answers carry neither Retry-After nor x-ratelimit-*"),
    _D("html_200", "STAB-003",
       "every chat completion is answered 200 text/html (a sign-in page), never refused"),
    _D("slow_recovery", "STAB-004",
       "after any overload refusal, TTFT stays PARAM ms higher for 120 s", 2000, "ms"),
    _D("latency_episode", "STAB-005",
       "TTFT is 2000 ms higher during the second of every three PARAM-second spans of uptime "
       "(default: minutes 1–2, 4–5, …): a degraded minute", 60, "seconds"),
    _D("dies_after", "STAB-006",
       "after PARAM seconds of uptime every request gets 503", 300, "seconds"),
    _D("cjk_overcount", "METER-001",
       "prompt_tokens over-counted by 10% when the prompt contains CJK text"),
    _D("cjk_off_by_one", "METER-001",
       "prompt_tokens over-counted by PARAM token(s) only when the prompt contains CJK text",
       1, "tokens"),
    _D("hidden_system_prompt", "METER-002",
       "a hidden system prompt is prepended and billed to the user"),
    _D("hidden_token", "METER-002",
       "a hidden prompt of exactly PARAM token(s) is prepended to every prompt and billed",
       1, "tokens"),
    _D("completion_inflated", "METER-003",
       "completion_tokens reports PARAM more tokens than were delivered", 2, "tokens"),
    _D("padded_logprobs", "METER-003",
       "responses that ask for logprobs get PARAM padding entries (copies of the last one) "
       "and completion_tokens counts them", 2, "entries"),
    _D("inflated_length_cut", "METER-003",
       "an answer cut by max_tokens reports max_tokens + PARAM completion tokens", 2,
       "tokens"),
    _D("stream_usage_differs", "METER-004",
       "streamed usage reports one completion token more than the same request unstreamed"),
    _D("inconsistent_usage", "METER-005", "total_tokens is not prompt + completion"),
    _D("bill_beyond_cap", "METER-006",
       "a response cut by max_tokens reports max_tokens + 1 completion tokens"),
    _D("tokenizer_substitution", "METER-007",
       "prompts are counted after NFKC and whitespace folding (a different tokenizer)"),
    _D("refused_audit_probes", "METER-007",
       "probe-like requests (max_tokens 1) are refused — 429 with Retry-After or 500, "
       "the same prompt always alike — for a PARAM share of the prompts", 0.5, "share"),
    _D("cache_never_hits", "METER-008",
       "prompt caching is declared but cached_tokens is always 0"),
    _D("incomplete_price_list", "BILL-001",
       "the declaration omits the cached-input price although caching is declared"),
    _D("no_usage", "BILL-002",
       "one request in 10 (once per block, seeded position), when non-streaming, has no "
       "usage to bill from"),
    _D("double_billing", "BILL-003", "the billing export bills every request twice"),
    _D("bills_5xx", "BILL-003",
       "one request in 20 (once per block, seeded position) fails with 503 and is billed "
       "anyway"),
    _D("no_auth", "SEC-001", "requests without or with a wrong API key are served"),
    _D("plain_http", "SEC-002", "--tls is ignored: plain http is served and declared"),
    _D("wrong_ca", "SEC-002", "the declared CA bundle is not the CA that signed the server"),
    _D("stack_traces", "SEC-003", "error bodies carry a Python traceback with file paths"),
    _D("crash_on_bad_input", "SEC-004",
       "wrong types in the body (e.g. messages as a string) get 500 instead of 400"),
    _D("crash_on_nul_byte", "SEC-004",
       "a raw NUL byte in the request body gets 500 instead of 400 (one corpus case)"),
    _D("no_rate_limit", "SEC-005", "no per-key rate limit: never 429"),
    _D("loose_rate_limit", "SEC-005",
       "the per-key rate limiter admits PARAM times the declared rpm and tpm (429s come, "
       "late)", 10, "factor"),
    _D("no_retry_after_rate_limit", "SEC-005",
       "429s for exceeding the declared rpm/tpm carry neither Retry-After nor "
       "x-ratelimit-* (concurrency refusals still do)"),
    _D("echo_api_key", "SEC-006", "the caller's API key is echoed in an x-debug-key header"),
    _D("shared_prompt_cache", "SEC-007",
       "the prompt cache is shared across tenants (B hits what A primed)"),
    # hqts-2026.2 (issue 17)
    _D("malformed_tool_args", "API-011",
       "tool-call arguments are cut before their closing brace (not JSON)"),
    _D("broken_tool_deltas", "API-011",
       "streamed tool calls drop their first argument fragment: the deltas do not "
       "reassemble to the call"),
    _D("ignores_response_format", "API-012",
       "response_format json_schema is ignored: the answer is free text"),
    _D("tools_unbilled", "METER-009",
       "tool definitions are not counted in prompt_tokens (only the messages are)"),
)
# Defects of one dialect's endpoint (issue 17): each fails its requirement in that dialect
# (tests/mutation runs them against a service declaring it); chat completions are untouched.
DIALECT_DEFECTS: tuple[Defect, ...] = (
    _D("anthropic_error_shape", "API-006",
       "/v1/messages answers errors in the OpenAI shape, not {type: error, error: {...}}"),
    _D("anthropic_no_message_start", "API-002", "/v1/messages streams open without message_start"),
    _D("anthropic_no_delta_usage", "API-003",
       "the final message_delta of a /v1/messages stream carries no usage"),
    _D("anthropic_bearer_bypass", "SEC-001",
       "/v1/messages checks only x-api-key: any Authorization: Bearer token is served"),
    _D("anthropic_stack_traces", "SEC-003",
       "/v1/messages error bodies carry a Python traceback with file paths"),
    _D("anthropic_echo_key", "SEC-006",
       "a refused key on /v1/messages is quoted back in the 401 message"),
    _D("anthropic_crash_on_bad_input", "SEC-004",
       "/v1/messages answers 500 to a message content that is an object"),
    _D("responses_error_shape", "API-006",
       "/v1/responses answers errors as {error: \"text\"}, not the OpenAI error object"),
    _D("responses_no_created", "API-002", "/v1/responses streams open without response.created"),
    _D("responses_no_usage", "API-003",
       "the terminal response.completed/incomplete event carries no usage"),
    _D("responses_no_auth", "SEC-001", "/v1/responses serves requests without a valid key"),
    _D("responses_echo_key", "SEC-006",
       "a refused Authorization header on /v1/responses is quoted back in the 401 message"),
    _D("responses_crash_on_bad_input", "SEC-004",
       "/v1/responses answers 500 to an input array holding a non-object"),
)
ALL_DEFECTS: tuple[Defect, ...] = (*REGISTRY, *DIALECT_DEFECTS)
BY_NAME: Mapping[str, Defect] = {d.name: d for d in ALL_DEFECTS}


def parse_defects(specs: Iterable[str]) -> dict[str, float | None]:
    """``["ttft_spikes", "dies_after=2"]`` → ``{name: param}``; unknown names are errors."""
    out: dict[str, float | None] = {}
    problems: list[Problem] = []
    for spec in specs:
        name, sep, value = spec.partition("=")
        name = name.strip()
        d = BY_NAME.get(name)
        if d is None:
            import difflib

            near = difflib.get_close_matches(name, BY_NAME, n=1)
            problems.append(Problem(f"unknown defect {name!r}",
                                    hint=(f"did you mean {near[0]!r}? " if near else "")
                                    + "list them with: tokencert reference defects"))
            continue
        if sep:
            try:
                out[name] = float(value)
            except ValueError:
                problems.append(Problem(f"defect {name}: parameter {value!r} is not a number"))
        else:
            out[name] = d.param
    if problems:
        raise InputError("bad --defect option", problems)
    return out


class ActiveDefects:
    """The defects switched on in one service instance."""

    def __init__(self, active: Mapping[str, float | None] | None = None) -> None:
        self._active = dict(active or {})

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in BY_NAME:
            raise KeyError(f"no such defect {name!r}")  # a typo in the hooks is a bug
        return name in self._active

    def param(self, name: str) -> float:
        value = self._active.get(name)
        if value is None:
            value = BY_NAME[name].param
        if value is None:
            raise KeyError(f"defect {name} has no parameter")
        return value

    def names(self) -> list[str]:
        return sorted(self._active)
