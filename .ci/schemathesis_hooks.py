"""schemathesis hooks for .ci/schemathesis (loaded through SCHEMATHESIS_HOOKS).

Idempotency-Key: a client sends a new key with every new request (the IETF httpapi
draft; ADR 0025). schemathesis draws the header from its schema, so it sends one short
key with many different requests, and the server rightly answers the second of them 422
`idempotency_key_reused` (pinned by `the_same_key_with_another_request_is_422` in
crates/server/tests/api/idempotency.rs). A schema-valid key is therefore made unique per
request, as a real client's is. Negative cases are sent as drawn: an invalid key must
reach the server, and editing any header of a negative case would make schemathesis
revalidate it as positive and put back a header the case is meant to leave out (a
missing `Authorization` would then be sent after all). A refusal is what a negative case
expects, and `idempotency_key_reused` is one.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"[!-~]{1,255}")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    # Every phase (examples, coverage, fuzzing, stateful) sends through here.
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        return
    headers = case.headers
    if headers:
        key = headers.get("Idempotency-Key")
        if isinstance(key, str) and VALID_KEY.fullmatch(key):
            headers["Idempotency-Key"] = f"st-{uuid.uuid4().hex}"
