"""Schemathesis hooks for fuzzing sessiond (loaded through SCHEMATHESIS_HOOKS by run.sh).

The fuzzer runs as a real admin and a real end user, with API tokens.

Realistic data: half the time a `session_id` is replaced by one of the live sessions run.sh
made before the passes, and then half the time `user_id` by that session's owner; half the
time a token `id` by a token id that exists. So shows and deletes succeed as well as fail
(404, 403), in every phase. (Schemathesis's own parameter dictionaries reach only its
fuzzing phase, where few requests are made.)

Protection: left alone the fuzzer would
sooner or later delete, suspend or demote those very users, or revoke their tokens, and spend
the rest of the run on 401s. So, right before each call, a request that would do that to one
of the protected users or tokens is pointed at a sacrificial user, or a token id that does
not exist, instead. Everything else is sent as generated; nothing is filtered out and no
check is relaxed. (What deleting or suspending yourself does is covered by the Rust tests.)
"""

import os
import random

import schemathesis

PROTECTED_USERS = {u for u in os.environ.get("SESSIOND_PROTECTED_USERS", "").split(",") if u} | {"me"}
PROTECTED_TOKENS = {t for t in os.environ.get("SESSIOND_PROTECTED_TOKENS", "").split(",") if t}
SACRIFICE_USER = os.environ.get("SESSIOND_SACRIFICE_USER", "999999999")
MISSING_TOKEN = "999999999"
TOKEN_IDS = [t for t in os.environ.get("SESSIOND_TOKEN_IDS", "").split(",") if t]
# session id -> its owner's id, for the live sessions run.sh made before the passes.
SESSION_OWNERS = dict(
    pair.split(":", 1) for pair in os.environ.get("SESSIOND_SESSION_OWNERS", "").split(",") if ":" in pair
)


@schemathesis.hook
def before_call(context, case, kwargs):
    params = case.path_parameters
    if not params:
        return
    method = case.method.upper()
    path = case.path
    if "session_id" in params and SESSION_OWNERS and random.random() < 0.5:
        session, owner = random.choice(sorted(SESSION_OWNERS.items()))
        params["session_id"] = session
        if "user_id" in params and random.random() < 0.5:
            params["user_id"] = owner
    if "id" in params and TOKEN_IDS and random.random() < 0.5:
        params["id"] = random.choice(TOKEN_IDS)
    # PUT/DELETE /api/v2/users/{user_id} (suspend, demote, delete). Not …/sessions (signing
    # a user's sessions out leaves their API token working) nor …/password (a user's own
    # change needs the previous password, and any change leaves API tokens working).
    if method in ("PUT", "DELETE") and path in ("/api/v2/users/{user_id}", "/api/v2/users/{user_id}.json"):
        if str(params.get("user_id")) in PROTECTED_USERS:
            params["user_id"] = SACRIFICE_USER
    if method == "DELETE" and path.startswith("/api/v2/api_tokens/{id}"):
        if str(params.get("id")) in PROTECTED_TOKENS:
            params["id"] = MISSING_TOKEN
