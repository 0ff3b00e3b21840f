#!/usr/bin/env python3
"""A real OAuth 2.0 authorization server for tokenkeeper's tests and demo, built on Authlib.

It listens on 127.0.0.1 only and keeps everything in memory. It implements:

- the refresh_token grant (RFC 6749 section 6) with refresh token rotation and reuse detection:
  every redemption returns a new refresh token, and presenting a refresh token that was already
  redeemed revokes its whole family (every token descended from the same sign-in);
- the Microsoft Entra On-Behalf-Of grant: grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
  requested_token_use=on_behalf_of, the user's access token (a JWT this server issued) as
  `assertion`, client authentication by secret; it returns a refresh token (with offline_access);
- RFC 7009 revocation (revoking a refresh token revokes its family);
- client authentication with client_secret_post and client_secret_basic;
- id_tokens with tid, oid and sub claims; Entra-style error bodies for dead tokens
  (invalid_grant with AADSTS700082, AADSTS50173, AADSTS70043, and interaction_required);
- fault injection for tests: 429 with Retry-After, 5xx, delays, connections dropped before the
  request is handled, and answers lost after it was (the token already rotated).

Admin endpoints (tests and the demo use them; a real IdP has none of these):

  POST /admin/signin   {"tenant", "user", "scope"?}        a sign-in: a new token family, its token response
                       {"tenant", "users": [...]}           many sign-ins: their refresh tokens
  POST /admin/assertion {"tenant", "user"}                 a user access token to use as an OBO assertion
  POST /admin/faults   {"status", "count", "retry_after"?, "delay"?, "drop"?, "drop_answer"?, "paths"?}
                       the next `count` requests to /token (or `paths`) fail that way; "drop" closes the
                       connection before the request is handled, "drop_answer" after (the request took
                       effect, a refresh token was rotated, but its answer is lost);
                       with "error" (and "error_description"?, "error_codes"?): that error body instead;
                       with "tenant" or "user": only requests whose refresh token belongs to that tenant or user;
                       with "echo": true: an error body that echoes the request (its body raw and URL-decoded, its
                       Authorization header) with control characters, as a careless provider or proxy might;
                       {"omit_refresh_token": true, "count"}: the next answers carry no new refresh token
  POST /admin/kill     {"refresh_token", "code"}            make a family dead with an AADSTS code, or
                       "interaction_required"
  GET  /admin/stats                                         counters: requests, redemptions, reuse, revocations
  GET  /admin/family?refresh_token=...                      a family's state
  POST /admin/check    {"refresh_tokens": [...]}            whether each can still be redeemed
  POST /admin/tokens   {"refresh_tokens": [...]}            each one's tenant, user, used (redeemed), dead
  GET  /admin/access_tokens                                 every access token issued (to search outputs for)
  GET  /admin/requests                                      every /token request: monotonic arrival time, fault

  idp.py [--port 0] [--client-id tokenkeeper] [--client-secret-env IDP_CLIENT_SECRET]

Prints `listening on http://127.0.0.1:PORT` once ready.
"""
import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import socket
import sys
import threading
import time
import urllib.parse

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.jose import JsonWebToken
from authlib.oauth2.rfc6749 import ClientMixin, TokenMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Flask, g, jsonify, request
from werkzeug.serving import make_server

ISSUER = "http://127.0.0.1/tokenkeeper-test-idp"
SIGNING_KEY = secrets.token_bytes(32)
JWT = JsonWebToken(["HS256"])
OBO_GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"

DEAD_MESSAGES = {
    "AADSTS700082": "The refresh token has expired due to inactivity.",
    "AADSTS50173": "The provided grant has expired due to it being revoked, a fresh auth token is needed.",
    "AADSTS70043": "The refresh token has expired or is invalid due to sign-in frequency checks by conditional access.",
    "AADSTS70008": "The provided authorization code or refresh token has expired due to inactivity.",
}

LOCK = threading.RLock()
FAMILIES = {}       # family id -> {"tenant", "user", "scope", "dead": None | code}
REFRESH = {}        # refresh token -> {"family", "used": bool}
STATS = {"token_requests": 0, "redemptions": 0, "reuse_detected": 0, "revocations": 0, "obo": 0, "faults": 0}
FAULTS = []         # pending faults, first first
OMIT_REFRESH = {"count": 0}  # answers to leave without a new refresh token
ACCESS_TOKENS = []  # every access token issued, so tests can search outputs for them
REQUESTS = []       # every /token request: {"time": monotonic seconds at arrival, "fault": what was injected or None}


class EntraError(OAuth2Error):
    """An error with Entra's body: error, error_description starting with the AADSTS code, error_codes."""

    def __init__(self, error, code=None, description=None, status_code=400):
        self.error = error
        self.aadsts = code
        text = description or DEAD_MESSAGES.get(code, "")
        super().__init__(description=f"{code}: {text}" if code else text, status_code=status_code)

    def get_body(self):
        body = super().get_body()
        if self.aadsts:
            body.append(("error_codes", [int(self.aadsts[6:])]))
            body.append(("timestamp", time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())))
        return body


class Client(ClientMixin):
    def __init__(self, client_id, secret):
        self.client_id = client_id
        self.secret = secret

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return None

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return False

    def check_client_secret(self, client_secret):
        return hmac.compare_digest(self.secret.encode(), (client_secret or "").encode())

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_post", "client_secret_basic")

    def check_response_type(self, response_type):
        return False

    def check_grant_type(self, grant_type):
        return grant_type in ("refresh_token", OBO_GRANT_TYPE)


class StoredRefreshToken(TokenMixin):
    def __init__(self, value, record, client):
        self.value = value
        self.record = record
        self.client = client

    def check_client(self, client):
        return client.get_client_id() == self.client.get_client_id()

    def get_scope(self):
        return FAMILIES[self.record["family"]]["scope"]

    def get_expires_in(self):
        return 90 * 86400

    def is_expired(self):
        return False

    def is_revoked(self):
        return self.record["used"] or FAMILIES[self.record["family"]]["dead"] is not None

    def get_user(self):
        return FAMILIES[self.record["family"]]

    def get_client(self):
        return self.client


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def id_token(family):
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CONFIG["client_id"], "iat": now, "exp": now + 3600,
              "tid": family["tenant"], "oid": family["user"], "sub": hashlib.sha256(family["user"].encode()).hexdigest()[:32]}
    return JWT.encode({"alg": "HS256"}, claims, SIGNING_KEY).decode()


def new_family(tenant, user, scope):
    family_id = secrets.token_hex(8)
    FAMILIES[family_id] = {"tenant": tenant, "user": user, "scope": scope or "offline_access", "dead": None, "id": family_id}
    return family_id


def token_response(family_id, include_refresh=True):
    family = FAMILIES[family_id]
    token = {"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "scope": family["scope"],
             "access_token": "at." + secrets.token_urlsafe(24), "id_token": id_token(family)}
    ACCESS_TOKENS.append(token["access_token"])
    if include_refresh:
        refresh = "rt." + secrets.token_urlsafe(32)
        REFRESH[refresh] = {"family": family_id, "used": False}
        token["refresh_token"] = refresh
    return token


def revoke_family(family_id, code="AADSTS50173"):
    FAMILIES[family_id]["dead"] = code


class RotatingRefreshTokenGrant(grants.RefreshTokenGrant):
    """refresh_token grant: rotation on every redemption, reuse revokes the family (Authlib's grant,
    with the token store and Entra's error bodies)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        with LOCK:
            record = REFRESH.get(refresh_token)
            if record is None:
                raise EntraError("invalid_grant", "AADSTS70008", "The refresh token is not known to this server.")
            family = FAMILIES[record["family"]]
            if record["used"]:
                STATS["reuse_detected"] += 1
                revoke_family(record["family"])
                raise EntraError("invalid_grant", "AADSTS50173", "The refresh token was already redeemed; its family is revoked.")
            if family["dead"] == "interaction_required":
                raise EntraError("interaction_required", None, "AADSTS50076: The user must sign in again (multi-factor authentication).")
            if family["dead"]:
                raise EntraError("invalid_grant", family["dead"])
            return StoredRefreshToken(refresh_token, record, self.request.client)

    def authenticate_user(self, refresh_token):
        return refresh_token.get_user()

    def issue_token(self, user, refresh_token):
        with LOCK:
            STATS["redemptions"] += 1
            token = token_response(refresh_token.record["family"])
            if OMIT_REFRESH["count"] > 0:
                # Like Google: an answer without a new refresh token (the old one stays valid).
                OMIT_REFRESH["count"] -= 1
                REFRESH.pop(token.pop("refresh_token"))
                refresh_token.record["keep"] = True
            return token

    def save_token(self, token):
        pass

    def revoke_old_credential(self, refresh_token):
        with LOCK:
            if not refresh_token.record.pop("keep", False):
                refresh_token.record["used"] = True


class OnBehalfOfGrant(grants.BaseGrant, grants.TokenEndpointMixin):
    """Entra's On-Behalf-Of flow: the middle tier trades the user's access token (assertion) for
    tokens of its own, with a refresh token when offline_access is asked for."""

    GRANT_TYPE = OBO_GRANT_TYPE
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        form = self.request.form
        if form.get("requested_token_use") != "on_behalf_of":
            raise InvalidRequestError("requested_token_use must be on_behalf_of")
        assertion = form.get("assertion")
        if not assertion:
            raise InvalidRequestError("Missing 'assertion' in request")
        try:
            claims = JWT.decode(assertion, SIGNING_KEY, claims_options={"iss": {"essential": True, "value": ISSUER},
                                                                        "aud": {"essential": True, "value": client.get_client_id()},
                                                                        "exp": {"essential": True}})
            claims.validate(leeway=30)
        except Exception as error:  # authlib.jose errors
            raise EntraError("invalid_grant", "AADSTS50013", f"Assertion failed signature or claims validation: {error}")
        self.request.user = {"tenant": claims["tid"], "user": claims["oid"]}

    def create_token_response(self):
        with LOCK:
            STATS["obo"] += 1
            user = self.request.user
            scope = self.request.form.get("scope") or "offline_access"
            family = new_family(user["tenant"], user["user"], scope)
            token = token_response(family, include_refresh="offline_access" in scope.split())
        return 200, token, self.TOKEN_RESPONSE_HEADER


class FamilyRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token_string, token_type_hint):
        with LOCK:
            record = REFRESH.get(token_string)
            return StoredRefreshToken(token_string, record, self.server.query_client(CONFIG["client_id"])) if record else None

    def revoke_token(self, token, request):
        with LOCK:
            STATS["revocations"] += 1
            revoke_family(token.record["family"])


CONFIG = {}
app = Flask(__name__)


def query_client(client_id):
    return CLIENT if client_id == CONFIG["client_id"] else None


server = AuthorizationServer(app, query_client=query_client, save_token=lambda token, request: None)


def token_owner():
    """The family (tenant, user) of the refresh token a request presents, or None."""
    record = REFRESH.get(request.form.get("refresh_token", ""))
    return FAMILIES[record["family"]] if record else None


def fault_matches(candidate, path):
    if path not in candidate.get("paths", ["/token"]):
        return False
    if "tenant" in candidate or "user" in candidate:
        owner = token_owner()
        if owner is None:
            return False
        if "tenant" in candidate and owner["tenant"] != candidate["tenant"]:
            return False
        if "user" in candidate and owner["user"] != candidate["user"]:
            return False
    return True


def echo_body():
    """What a provider that echoes its input answers: the request body raw and decoded, and the
    Authorization header, with control characters (an ANSI clear-screen, a colour, CR and LF)."""
    raw = request.get_data(as_text=True)
    decoded = urllib.parse.unquote_plus(raw)
    auth = request.headers.get("Authorization", "")
    return {"error": "invalid_request\x1b[2J" + raw, "error_description": f"echo: {decoded}\n{raw}\r\x1b[31m{auth}"}


@app.before_request
def inject_faults():
    if request.path.startswith("/admin"):
        return None
    # Entra's per-tenant token endpoint ({authority}/{tenant}/oauth2/v2.0/token) counts as /token.
    path = "/token" if request.path.endswith("/oauth2/v2.0/token") else request.path
    with LOCK:
        fault = None
        for candidate in FAULTS:
            if fault_matches(candidate, path):
                fault = candidate
                break
        if path == "/token":
            STATS["token_requests"] += 1
            REQUESTS.append({"time": time.monotonic(), "fault": fault_name(fault)})
        if fault is None:
            return None
        fault["count"] -= 1
        if fault["count"] <= 0:
            FAULTS.remove(fault)
        STATS["faults"] += 1
    if fault.get("delay"):
        time.sleep(float(fault["delay"]))
    if fault.get("drop"):
        drop_connection()
        return ("", 500)
    if fault.get("drop_answer"):
        g.drop_answer = True  # handled as usual; drop_lost_answers closes the connection before the answer goes
        return None
    status = int(fault.get("status", 0))
    if not status:
        return None
    headers = {"Retry-After": str(fault["retry_after"])} if fault.get("retry_after") is not None else {}
    if fault.get("echo"):
        return jsonify(echo_body()), status, headers
    if fault.get("error"):
        body = {"error": fault["error"], "error_description": fault.get("error_description", "")}
        if fault.get("error_codes"):
            body["error_codes"] = fault["error_codes"]
        return jsonify(body), status, headers
    error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
    return jsonify({"error": error, "error_description": f"injected {status}"}), status, headers


def fault_name(fault):
    """What a fault does, for the request log: "status 429", "delay", "drop", "drop_answer"; None for no fault."""
    if fault is None:
        return None
    for kind in ("drop", "drop_answer"):
        if fault.get(kind):
            return kind
    return f"status {int(fault['status'])}" if fault.get("status") else "delay"


def drop_connection():
    connection = request.environ.get("werkzeug.socket")
    if connection is not None:
        connection.shutdown(socket.SHUT_RDWR)
        connection.close()


@app.after_request
def drop_lost_answers(response):
    """The lost-answer fault: the request took effect (a refresh token was redeemed and rotated), then the
    connection closes before the answer is written, as when a network drops a response."""
    if g.get("drop_answer"):
        drop_connection()
    return response


@app.post("/token")
def token_endpoint():
    return server.create_token_response()


@app.post("/<tenant>/oauth2/v2.0/token")
def tenant_token_endpoint(tenant):
    """Entra's per-tenant token endpoint shape; the same server behind every tenant."""
    return server.create_token_response()


@app.post("/revoke")
def revoke_endpoint():
    return server.create_endpoint_response("revocation")


@app.post("/admin/signin")
def admin_signin():
    body = request.get_json(force=True)
    with LOCK:
        if "users" in body:  # many sign-ins at once: {"tenant", "users": [...]} -> {"refresh_tokens": [...]}
            tokens = [token_response(new_family(body["tenant"], user, body.get("scope")))["refresh_token"] for user in body["users"]]
            return jsonify({"refresh_tokens": tokens})
        family = new_family(body["tenant"], body["user"], body.get("scope"))
        return jsonify(token_response(family))


@app.post("/admin/assertion")
def admin_assertion():
    body = request.get_json(force=True)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CONFIG["client_id"], "iat": now, "exp": now + int(body.get("expires_in", 3600)),
              "tid": body["tenant"], "oid": body["user"], "scp": "access_as_user"}
    return jsonify({"assertion": JWT.encode({"alg": "HS256"}, claims, SIGNING_KEY).decode()})


@app.post("/admin/faults")
def admin_faults():
    body = request.get_json(force=True)
    with LOCK:
        if body.get("clear"):
            FAULTS.clear()
        elif body.get("omit_refresh_token"):
            OMIT_REFRESH["count"] = int(body.get("count", 1))
        else:
            FAULTS.append(dict(body, count=int(body.get("count", 1))))
    return jsonify({"pending": len(FAULTS)})


@app.post("/admin/kill")
def admin_kill():
    body = request.get_json(force=True)
    with LOCK:
        record = REFRESH.get(body["refresh_token"])
        if record is None:
            return jsonify({"error": "unknown refresh token"}), 404
        revoke_family(record["family"], body.get("code", "AADSTS700082"))
    return jsonify({"ok": True})


@app.get("/admin/stats")
def admin_stats():
    with LOCK:
        dead = sum(1 for family in FAMILIES.values() if family["dead"])
        return jsonify(dict(STATS, families=len(FAMILIES), dead_families=dead))


@app.get("/admin/family")
def admin_family():
    with LOCK:
        record = REFRESH.get(request.args.get("refresh_token", ""))
        if record is None:
            return jsonify({"error": "unknown refresh token"}), 404
        family = FAMILIES[record["family"]]
        live = [token for token, other in REFRESH.items() if other["family"] == record["family"] and not other["used"]]
        return jsonify({"tenant": family["tenant"], "user": family["user"], "dead": family["dead"], "used": record["used"],
                        "live_tokens": len(live)})


@app.post("/admin/check")
def admin_check():
    """For many refresh tokens at once: whether each can still be redeemed (known, unused, family alive)."""
    body = request.get_json(force=True)
    with LOCK:
        usable = {}
        for token in body["refresh_tokens"]:
            record = REFRESH.get(token)
            usable[token] = bool(record) and not record["used"] and FAMILIES[record["family"]]["dead"] is None
        return jsonify({"usable": usable})


@app.post("/admin/tokens")
def admin_tokens():
    """For many refresh tokens at once: whose each is (tenant, user), whether it was redeemed (used), and
    whether its family is dead; null for a token this server never issued."""
    body = request.get_json(force=True)
    with LOCK:
        tokens = {}
        for token in body["refresh_tokens"]:
            record = REFRESH.get(token)
            if record is None:
                tokens[token] = None
                continue
            family = FAMILIES[record["family"]]
            tokens[token] = {"tenant": family["tenant"], "user": family["user"], "used": record["used"],
                             "dead": family["dead"] is not None}
        return jsonify({"tokens": tokens})


@app.get("/admin/access_tokens")
def admin_access_tokens():
    with LOCK:
        return jsonify({"access_tokens": list(ACCESS_TOKENS)})


@app.get("/admin/requests")
def admin_requests():
    with LOCK:
        return jsonify({"requests": list(REQUESTS)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--client-id", default="tokenkeeper")
    parser.add_argument("--client-secret-env", default="IDP_CLIENT_SECRET")
    args = parser.parse_args()
    secret = os.environ.get(args.client_secret_env)
    if not secret:
        print(f"idp.py: set {args.client_secret_env} to the client secret", file=sys.stderr)
        return 2
    CONFIG["client_id"] = args.client_id
    global CLIENT
    CLIENT = Client(args.client_id, secret)
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_grant(OnBehalfOfGrant)
    server.register_endpoint(FamilyRevocationEndpoint)
    http = make_server("127.0.0.1", args.port, app, threaded=True)
    print(f"listening on http://127.0.0.1:{http.server_port}", flush=True)
    http.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
