// The loyalty web page: calls the API on this origin with a bearer token
// kept in sessionStorage. No framework, no build step. Every value from the
// API is written with textContent, never as HTML.
"use strict";

(function () {
  const TOP = 10;
  const AROUND = 2;
  const HISTORY_PAGE = 10;
  const $ = (id) => document.getElementById(id);

  const state = {
    token: "", role: "", subject: "",
    customer: "",        // whose dashboard is shown
    board: "all-time",   // or "season"
    seasons: null,       // null: not probed yet; true/false: the API has season boards
    historyBefore: null, // the next history page's before, null: no more
  };

  const dateFmt = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });
  const numFmt = new Intl.NumberFormat("en-GB");

  // --- messages -----------------------------------------------------------

  function say(text) { $("status").textContent = text; }

  function showError(text, issues) {
    const box = $("error");
    box.replaceChildren();
    const p = document.createElement("p");
    p.textContent = text;
    box.append(p);
    if (issues && issues.length) {
      const ul = document.createElement("ul");
      for (const i of issues) {
        const li = document.createElement("li");
        li.textContent = i.field + ": " + i.reason;
        ul.append(li);
      }
      box.append(ul);
    }
    box.hidden = false;
  }

  function clearError() { $("error").hidden = true; $("error").replaceChildren(); }

  // problemText says what went wrong from a problem+json body.
  function problemText(res) {
    const p = res.body || {};
    if (res.status === 0) return "The service can't be reached. Check your connection and try again.";
    if (p.detail) return p.detail;
    return "The request failed (HTTP " + res.status + ").";
  }

  // --- API ----------------------------------------------------------------

  async function api(method, path, body) {
    const headers = { "Accept": "application/json" };
    if (state.token) headers["Authorization"] = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch (e) {
      return { status: 0, body: null };
    }
    let data = null;
    const ct = res.headers.get("Content-Type") || "";
    if (ct.includes("json")) {
      try { data = await res.json(); } catch (e) { data = null; }
    }
    if (res.status === 401 && state.token) {
      signOut("Your sign-in has expired or is not valid here: sign in again.");
    }
    return { status: res.status, body: data, headers: res.headers };
  }

  // --- sign-in ------------------------------------------------------------

  // claims reads a JWT's payload (not verified here: the API verifies it).
  function claims(token) {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    try {
      const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(parts[1].length / 4) * 4, "="));
      return JSON.parse(json);
    } catch (e) {
      return null;
    }
  }

  function signIn(token) {
    const c = claims(token);
    if (!c || (c.role !== "customer" && c.role !== "staff") || !c.sub) {
      showError("This is not a customer or staff token: paste the whole token (three parts separated by dots).");
      return false;
    }
    state.token = token;
    state.role = c.role;
    state.subject = c.sub;
    sessionStorage.setItem("loyalty.token", token);
    clearError();
    $("signin").hidden = true;
    $("who").textContent = (c.role === "staff" ? "Staff: " : "Customer ") + c.sub;
    $("who").hidden = false;
    $("signout").hidden = false;
    if (c.role === "staff") {
      $("page-title").textContent = "Customer service";
      $("staff").hidden = false;
      $("dash").hidden = true;
      say("Signed in as staff " + c.sub + ".");
      $("find-id").focus();
    } else {
      $("page-title").textContent = "Your loyalty points";
      $("staff").hidden = true;
      showCustomer(c.sub, true);
    }
    return true;
  }

  function signOut(reason) {
    state.token = state.role = state.subject = state.customer = "";
    state.seasons = null;
    sessionStorage.removeItem("loyalty.token");
    for (const id of ["dash", "staff", "points-form", "who", "signout", "board-switch"]) $(id).hidden = true;
    $("signin").hidden = false;
    $("page-title").textContent = "Loyalty points";
    $("token").value = "";
    $("subject").value = "";
    $("find-id").value = "";
    clearDashboard();
    if (reason) showError(reason); else clearError();
    say(reason ? "" : "Signed out.");
    const first = $("dev-form").hidden ? $("token") : $("subject");
    first.focus();
  }

  async function devSignIn(ev) {
    ev.preventDefault();
    clearError();
    const role = document.querySelector('input[name="role"]:checked').value;
    const subject = $("subject").value.trim();
    if (!subject) {
      showError(role === "customer" ? "Enter your customer id." : "Enter your staff user name.");
      $("subject").focus();
      return;
    }
    const res = await api("POST", "/dev/token", { role, subject });
    if (res.status !== 201) {
      showError(problemText(res), res.body && res.body.errors);
      $("subject").focus();
      return;
    }
    signIn(res.body.token);
  }

  function updateSubjectLabel() {
    const role = document.querySelector('input[name="role"]:checked').value;
    $("subject-label").textContent = role === "customer" ? "Customer id" : "Staff user name";
    $("subject").setAttribute("inputmode", role === "customer" ? "numeric" : "text");
  }

  // The development sign-in exists only on the embedded store: GET
  // /dev/token answers 200 there, 404 elsewhere.
  async function probeDevSignIn() {
    const res = await api("GET", "/dev/token");
    $("dev-form").hidden = res.status !== 200;
  }

  // --- dashboard ----------------------------------------------------------

  // clearDashboard empties what a previous sign-in showed.
  function clearDashboard() {
    $("me-rank").textContent = "-";
    $("me-points").textContent = "-";
    $("pct-card").hidden = true;
    $("board-name").hidden = true;
    for (const id of ["nudges", "meta", "points-result"]) $(id).replaceChildren();
    for (const id of ["top-table", "around-table", "history-table"]) $(id).tBodies[0].replaceChildren();
    $("history-note").hidden = true;
    $("history-more").hidden = true;
  }

  function dashPath(id, board, top, around) {
    let q = "?top=" + top + "&around=" + around;
    if (board === "season") q += "&board=season";
    return "/loyalty/" + encodeURIComponent(id) + q;
  }

  // probeSeasons asks once whether the API has season boards: where it
  // does, a season dashboard names its season in "board"; before, the API
  // answers 400 or 404, or ignores the parameter (no "board" in the answer).
  async function probeSeasons(id) {
    if (state.seasons !== null) return;
    const res = await api("GET", dashPath(id, "season", 1, 0));
    const board = res.status === 200 && res.body ? res.body.board : undefined;
    state.seasons = typeof board === "string" && board !== "all-time";
    $("board-switch").hidden = !state.seasons;
    $("season-name").textContent = state.seasons ? " (" + board + ")" : "";
  }

  async function showCustomer(id, focus) {
    state.customer = id;
    state.historyBefore = null;
    const mine = state.role === "customer";
    $("dash-h").textContent = mine ? "Your dashboard" : "Dashboard of customer " + id;
    $("around-h").textContent = mine ? "Around you" : "Around customer " + id;
    $("dash").hidden = false;
    if (!mine) {
      $("points-form").hidden = false;
      $("points-customer").textContent = id;
      if (!$("idem").value) $("idem").value = newKey();
    }
    const params = new URLSearchParams(location.search);
    if (state.seasons === null && params.get("board") === "season") state.board = "season";
    await probeSeasons(id);
    if (!state.seasons) state.board = "all-time";
    for (const r of document.querySelectorAll('input[name="board"]')) r.checked = r.value === state.board;
    // Focus goes to the dashboard as soon as it is shown, not after the
    // history below it has loaded too.
    const ok = await loadDashboard();
    if (ok && focus) $("dash-h").focus();
    await loadHistory(true);
  }

  async function loadDashboard() {
    say("Loading the dashboard...");
    const res = await api("GET", dashPath(state.customer, state.board, TOP, AROUND));
    if (res.status !== 200) {
      say("");
      if (res.status !== 401) showError(problemText(res), res.body && res.body.errors);
      return false;
    }
    clearError();
    render(res.body);
    say("Dashboard loaded: rank " + res.body.me.rank + ", " + res.body.me.points + " points.");
    return true;
  }

  function render(d) {
    const me = d.me;
    $("me-rank").textContent = numFmt.format(me.rank);
    $("me-points").textContent = numFmt.format(me.points);

    const pct = typeof d.topPercent === "number";
    $("pct-card").hidden = !pct;
    if (pct) $("me-pct").textContent = "Top " + percent(d.topPercent) + "%";

    const boardName = $("board-name");
    if (typeof d.board === "string") {
      boardName.textContent = d.board === "all-time" ? "All-time board" : "Season " + d.board;
      boardName.hidden = false;
    } else {
      boardName.hidden = true;
    }

    const nudges = $("nudges");
    nudges.replaceChildren();
    const nudge = (text) => { const li = document.createElement("li"); li.textContent = text; nudges.append(li); };
    const mine = state.role === "customer";
    if ("pointsToNextRank" in d) {
      if (d.pointsToNextRank === null) nudge(mine ? "You are at the top of the board." : "This customer is at the top of the board.");
      else nudge(plural(d.pointsToNextRank, "more point") + " to move up a place.");
    }
    if ("pointsToTop" in d && typeof d.pointsToTop === "number") {
      if (d.pointsToTop === 0) nudge((mine ? "You are" : "This customer is") + " in the top " + TOP + ".");
      else nudge(plural(d.pointsToTop, "more point") + " to reach the top " + TOP + ".");
    }

    const meta = [];
    if (d.ranked) {
      meta.push("Rank " + numFmt.format(me.rank) + " of " + numFmt.format(d.totalRanked) + " customers with points");
      if (d.tiedWith > 0) meta.push("tied with " + plural(d.tiedWith, "other customer"));
    } else {
      meta.push("No points yet: the rank shown is the one a first point would give");
    }
    if (d.asOf && d.asOf.at) meta.push("as of " + dateFmt.format(new Date(d.asOf.at)));
    if (d.stale) meta.push("may miss the very latest changes");
    if (d.partial) meta.push("neighbours are still loading");
    $("meta").textContent = meta.join(" · ") + ".";

    const isMe = (e) => e.you === true || (e.proxyName === me.proxyName && e.points === me.points && e.rank === me.rank);
    $("top-h").textContent = "Top " + TOP;
    fillRanks($("top-table"), d.top || [], isMe);
    const around = [...(d.above || []), me, ...(d.below || [])];
    fillRanks($("around-table"), around, isMe);
  }

  function fillRanks(table, entries, isMe) {
    const body = table.tBodies[0];
    body.replaceChildren();
    const mine = state.role === "customer";
    for (const e of entries) {
      const tr = document.createElement("tr");
      const you = isMe(e);
      const rank = cell("td", numFmt.format(e.rank));
      const name = cell("td", e.proxyName);
      if (you) {
        tr.className = "me";
        tr.setAttribute("aria-current", "true");
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = mine ? "you" : "this customer";
        name.append(" ", tag);
      }
      tr.append(rank, name, cell("td", numFmt.format(e.points), "num"));
      body.append(tr);
    }
    if (!entries.length) {
      const tr = document.createElement("tr");
      const td = cell("td", "Nobody has points yet.");
      td.colSpan = 3;
      tr.append(td);
      body.append(tr);
    }
  }

  function cell(tag, text, cls) {
    const c = document.createElement(tag);
    c.textContent = text;
    if (cls) c.className = cls;
    return c;
  }

  // percent shows a share of the board: one decimal from 10%, two
  // significant digits below (top 0.00042% of 50 million is still news).
  function percent(p) {
    if (p >= 10) return new Intl.NumberFormat("en-GB", { maximumFractionDigits: 1 }).format(p);
    return new Intl.NumberFormat("en-GB", { maximumSignificantDigits: 2 }).format(p);
  }

  function plural(n, word) { return numFmt.format(n) + " " + word + (n === 1 ? "" : "s"); }

  // --- history ------------------------------------------------------------

  const kinds = { order: "Purchase", refund: "Refund", manual: "Points from customer service", correction: "Order corrected" };
  const channels = { web: "Website", app: "App", store: "Store" };

  async function loadHistory(fresh) {
    const note = $("history-note");
    const body = $("history-table").tBodies[0];
    let path = "/loyalty/" + encodeURIComponent(state.customer) + "/history?limit=" + HISTORY_PAGE;
    if (!fresh && state.historyBefore !== null) path += "&before=" + state.historyBefore;
    const res = await api("GET", path);
    if (res.status !== 200) {
      if (fresh) body.replaceChildren();
      note.textContent = res.status === 503
        ? "The points history is unavailable for a moment; the dashboard above is up to date. Try again shortly."
        : problemText(res);
      note.hidden = false;
      $("history-more").hidden = true;
      return;
    }
    if (fresh) body.replaceChildren();
    const entries = res.body.entries || [];
    for (const e of entries) {
      const tr = document.createElement("tr");
      const what = kinds[e.kind] || e.kind;
      const pts = (e.points > 0 ? "+" : e.points < 0 ? "\u2212" : "") + numFmt.format(Math.abs(e.points));
      let where = channels[e.channel] || "";
      if (e.storeId) where += " " + e.storeId;
      let order = e.orderId || "";
      if (e.kind === "manual" && e.reason) order = e.reason;
      tr.append(
        labelled(cell("td", dateFmt.format(new Date(e.at))), "Date"),
        labelled(cell("td", what), "What"),
        labelled(cell("td", pts, "num"), "Points"),
        labelled(cell("td", numFmt.format(e.balance), "num"), "Balance"),
        labelled(cell("td", where || "-"), "Where"),
        labelled(cell("td", order || "-"), e.kind === "manual" ? "Reason" : "Order"),
      );
      body.append(tr);
    }
    if (fresh && !entries.length) {
      note.textContent = "No points history yet (a purchase shows here shortly after it counts).";
      note.hidden = false;
    } else {
      note.hidden = true;
    }
    state.historyBefore = typeof res.body.nextBefore === "number" ? res.body.nextBefore : null;
    $("history-more").hidden = state.historyBefore === null;
  }

  function labelled(td, label) { td.dataset.label = label; return td; }

  // --- staff --------------------------------------------------------------

  function newKey() {
    const b = new Uint8Array(8);
    crypto.getRandomValues(b);
    return "web-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  async function find(ev) {
    ev.preventDefault();
    clearError();
    const id = $("find-id").value.trim();
    if (!/^[1-9][0-9]{0,15}$/.test(id)) {
      showError("Enter a customer id: a number from 1 to 9007199254740991.");
      $("find-id").focus();
      return;
    }
    if (id !== state.customer) {
      $("idem").value = newKey();
      $("points-result").textContent = "";
    }
    await showCustomer(id, true);
  }

  async function addPoints(ev) {
    ev.preventDefault();
    clearError();
    const raw = $("points").value.trim();
    const points = Number(raw);
    const reason = $("reason").value.trim();
    const key = $("idem").value.trim();
    if (!/^-?[0-9]+$/.test(raw) || points === 0) {
      showError("Points must be a whole number other than 0 (negative to deduct).");
      $("points").focus();
      return;
    }
    if (!reason) {
      showError("Give a reason for the points (1-200 characters).");
      $("reason").focus();
      return;
    }
    $("points-submit").disabled = true;
    const res = await api("POST", "/loyalty/" + encodeURIComponent(state.customer),
      { "loyalty-points": points, reason, idempotencyKey: key });
    $("points-submit").disabled = false;
    if (res.status !== 201 && res.status !== 200) {
      showError(problemText(res), res.body && res.body.errors);
      $("points-result").textContent = res.status >= 400 && res.status < 500
        ? "Nothing was added: " + problemText(res)
        : "Not confirmed: " + problemText(res) + " Send it again with the same idempotency key: it never counts twice.";
      return;
    }
    const r = res.body;
    $("points-result").textContent = (r.replayed
      ? "Already applied with this key (nothing added again): "
      : (r.pointsAwarded >= 0 ? "Added " : "Deducted ") + plural(Math.abs(r.pointsAwarded), "point") + ": ")
      + "the balance is now " + numFmt.format(r.balance) + " (ledger id " + r.ledgerId + ").";
    $("idem").value = newKey();
    $("points").value = "";
    $("reason").value = "";
    await loadDashboard();
    await loadHistory(true);
  }

  // --- start --------------------------------------------------------------

  function start() {
    $("dev-form").addEventListener("submit", devSignIn);
    for (const r of document.querySelectorAll('input[name="role"]')) r.addEventListener("change", updateSubjectLabel);
    $("token-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const t = $("token").value.trim();
      if (!t) { showError("Paste a token first."); $("token").focus(); return; }
      signIn(t);
    });
    $("signout").addEventListener("click", () => signOut(""));
    $("find-form").addEventListener("submit", find);
    $("points-form").addEventListener("submit", addPoints);
    $("history-more").addEventListener("click", () => loadHistory(false));
    for (const r of document.querySelectorAll('input[name="board"]')) {
      r.addEventListener("change", async () => {
        state.board = r.value;
        const url = new URL(location.href);
        if (state.board === "season") url.searchParams.set("board", "season"); else url.searchParams.delete("board");
        history.replaceState(null, "", url);
        await loadDashboard();
      });
    }
    updateSubjectLabel();
    probeDevSignIn();
    const saved = sessionStorage.getItem("loyalty.token");
    if (saved) signIn(saved);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
