"""The live view: a page that signs in, opens the real-time stream and shows signals as they change.

Served by the docs function at /v1/docs/live (the API's own origin: no CORS, and the stream's URL is
the page's host with /v1/stream). Its one script and one style sheet are inline, allowed by their
hashes in the page's Content-Security-Policy; it may connect to its own origin only. Tokens stay in
the page's memory. It keeps the last event id it saw, and reconnects with it (a new ticket) when the
stream closes, so that it misses nothing; it pings every 5 minutes against the 10-minute idle close.
"""

from __future__ import annotations

import base64
import hashlib

_STYLE = """
body { font: 14px system-ui, sans-serif; margin: 2rem; color: #222; }
form { display: flex; gap: .5rem; margin-bottom: 1rem; }
#status { margin: .5rem 0; color: #555; }
table { border-collapse: collapse; min-width: 40rem; }
th, td { border-bottom: 1px solid #ddd; padding: .3rem .6rem; text-align: left; }
td.event { color: #1f77b4; }
"""

_SCRIPT = """
"use strict";
const status = document.getElementById("status");
const rows = document.getElementById("signals");
let token = null, lastEventId = null, socket = null, pinger = null;

async function api(path, body) {
  const headers = {"Content-Type": "application/json"};
  if (token) headers.Authorization = "Bearer " + token;
  const reply = await fetch(path, {method: "POST", headers, body: JSON.stringify(body || {})});
  const answer = await reply.json();
  if (!reply.ok) throw new Error(answer.error ? answer.error.message : reply.statusText);
  return answer;
}

function show(event) {
  const signal = event.data;
  let row = document.getElementById("signal-" + signal.id);
  if (!row) {
    row = document.createElement("tr");
    row.id = "signal-" + signal.id;
    rows.prepend(row);
  }
  row.replaceChildren(...[event.id, event.type, signal.symbol, signal.direction, signal.entry_price,
    signal.status, event.at].map((text, index) => {
      const cell = document.createElement("td");
      cell.textContent = text;
      if (index === 1) cell.className = "event";
      return cell;
    }));
}

async function openStream() {
  const {ticket} = await api("/v1/stream/tickets");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  let url = scheme + "//" + location.host + "/v1/stream?ticket=" + encodeURIComponent(ticket);
  if (lastEventId !== null) url += "&last_event_id=" + lastEventId;
  socket = new WebSocket(url);
  socket.onopen = () => {
    status.textContent = "live";
    pinger = setInterval(() => socket.send(JSON.stringify({action: "ping"})), 5 * 60 * 1000);
  };
  socket.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.id) lastEventId = event.id;
    if (event.type.startsWith("signal.")) show(event);
  };
  socket.onclose = (closed) => {
    clearInterval(pinger);
    status.textContent = "closed (" + closed.code + "), reconnecting";
    if (closed.code !== 4008) setTimeout(() => openStream().catch(fail), 2000);
  };
}

function fail(error) { status.textContent = "error: " + error.message; }

document.getElementById("login").addEventListener("submit", async (submitted) => {
  submitted.preventDefault();
  const form = new FormData(submitted.target);
  try {
    token = (await api("/v1/auth/login", {email: form.get("email"), password: form.get("password")})).access_token;
    status.textContent = "signed in, connecting";
    await openStream();
  } catch (error) { fail(error); }
});
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Investment System: live signals</title>
<style>{style}</style>
</head>
<body>
<h1>Live signals</h1>
<form id="login">
  <input name="email" type="email" placeholder="email" required autocomplete="username">
  <input name="password" type="password" placeholder="password" required autocomplete="current-password">
  <button type="submit">Sign in and listen</button>
</form>
<p id="status">signed out</p>
<table>
  <thead><tr><th>event</th><th>type</th><th>symbol</th><th>direction</th><th>entry</th><th>status</th><th>at</th></tr></thead>
  <tbody id="signals"></tbody>
</table>
<script>{script}</script>
</body>
</html>
"""


def _hash(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode()).digest()).decode() + "'"


LIVE_PAGE = _PAGE.format(style=_STYLE, script=_SCRIPT)
LIVE_CSP = (
    f"default-src 'none'; script-src {_hash(_SCRIPT)}; style-src {_hash(_STYLE)}; connect-src 'self'; "
    "form-action 'none'; frame-ancestors 'none'"
)
