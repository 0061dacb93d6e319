// The status page's script, a module so that `deno compile` carries it in the binary. Plain
// browser JavaScript, no build step. Every value from `/status` reaches the page through
// textContent (or a sanitized class name): alert labels and summaries are attacker-controlled.
// The script avoids template literals so that it can live in one.
import { UI_LADDER_JS } from "./ui_ladder_js.ts";
import { UI_DOMAINS_JS } from "./ui_domains_js.ts";
import { UI_OFFENDERS_JS } from "./ui_offenders_js.ts";

/**
 * Fetches `/status` every few seconds and renders the header, the ladder, the breakers, the gates
 * (the domains' budgets among them), the decisions.
 */
export const UI_JS = `"use strict";
(function () {
  var REFRESH_MS = 5000;
  // Two refreshes missed: the page says its data is stale.
  var STALE_MS = 2 * REFRESH_MS + 1000;
  var last = null;
  var lastOk = 0;
  var lastError = "";

  function $(id) { return document.getElementById(id); }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function safeClass(s) { return String(s).toLowerCase().replace(/[^a-z0-9-]/g, ""); }

  function duration(ms) {
    var s = Math.round(Math.abs(ms) / 1000);
    if (s < 60) return s + " s";
    var m = Math.round(s / 60);
    if (m < 60) return m + " min";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h" + (m % 60 ? " " + (m % 60) + " min" : "");
    return Math.round(h / 24) + " d";
  }

  function relative(ms) {
    var d = ms - Date.now();
    if (Math.abs(d) < 5000) return "now";
    return d < 0 ? duration(d) + " ago" : "in " + duration(d);
  }

  // A time as "3 min ago" with the absolute time beside it and in full in the tooltip.
  function when(iso) {
    var t = Date.parse(iso);
    if (!iso || isNaN(t)) return el("span", "—");
    var e = el("time", relative(t) + " ");
    e.dateTime = new Date(t).toISOString();
    e.title = new Date(t).toString();
    e.appendChild(el("span", new Date(t).toLocaleTimeString(), "abs"));
    return e;
  }

  function row(cells) {
    var tr = document.createElement("tr");
    cells.forEach(function (c) {
      var td = document.createElement("td");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined ? "" : String(c);
      tr.appendChild(td);
    });
    return tr;
  }

  function item(dl, term, value, cls) {
    var d = document.createElement("div");
    d.appendChild(el("dt", term));
    var dd = el("dd");
    dd.appendChild(value instanceof Node ? value : el("span", value, cls));
    d.appendChild(dd);
    dl.appendChild(d);
  }

  function pill(yes, text) { return el("span", text, "pill " + (yes ? "yes" : "no")); }

  function renderSummary(s) {
    var dl = $("summary");
    dl.replaceChildren();
    var l = s.leadership || {};
    item(dl, "Replica", l.thisReplica || "?");
    item(dl, "Leader", l.elected ? (l.leader || "none") + (l.leading ? " (this replica)" : "")
      : "this replica (no election)");
    var p = s.pauses || {};
    var which = ["flag", "policy", "cluster"].filter(function (k) { return p[k]; });
    item(dl, "Paused", pill(s.paused, s.paused ? "yes: " + (which.join(", ") || "?") : "no"));
    item(dl, "Dry run", pill(s.dryRun, s.dryRun ? "yes" : "no"));
    if (s.ready === false) item(dl, "Ready", pill(true, "no: node index not synced"));
  }

  // What comes next for one node: its drain, its replacement, or its holds lapsing.
  function next(n, ttl) {
    if (n.wait) return waitText(n.wait);
    if (n.step === "draining") return el("span", "draining now");
    if (n.replaceAt && n.step !== "replacing") return label("replace ", when(n.replaceAt));
    if (n.drainAt && (!n.step || n.step === "cordoned")) return label("drain ", when(n.drainAt));
    if (n.step === "replacing") return el("span", "waiting for the replacement");
    var seen = Object.keys(n.alerts || {}).map(function (k) {
      var h = n.alerts[k];
      return Date.parse(h.seen || h.since);
    }).filter(function (t) { return !isNaN(t); });
    if (ttl && seen.length) {
      return label("uncordon when its alerts resolve; holds lapse ",
        when(new Date(Math.max.apply(null, seen) + ttl).toISOString()));
    }
    return el("span", n.ownedByNodeHeal ? "uncordon when its alerts resolve" : "—");
  }

  function label(text, node) { var s = el("span", text); s.appendChild(node); return s; }
` + UI_LADDER_JS + UI_DOMAINS_JS + UI_OFFENDERS_JS + `

  function renderLadder(s) {
    var body = $("ladder").tBodies[0];
    body.replaceChildren();
    var nodes = s.nodes || [];
    nodes.forEach(function (n) {
      var ul = el("ul", null, "alerts");
      Object.keys(n.alerts || {}).forEach(function (k) {
        var li = el("li", (n.alerts[k].alertname || k) + " ");
        li.title = "fingerprint " + k;
        li.appendChild(when(n.alerts[k].since));
        ul.appendChild(li);
      });
      if (n.moreAlerts) ul.appendChild(el("li", "and more (" + n.moreAlerts.listed + " listed apart)"));
      if ((n.outcomes || []).length) {
        var past = el("li", "before: ");
        past.appendChild(outcomesList(n.outcomes));
        ul.appendChild(past);
      }
      var step = n.step || (n.cordoned ? "cordoned" : "held");
      var tr = row([nodeName(n.node), stepPill(step), when(n.stepSince || n.since), ul, next(n, s.holdTtlMs)]);
      tr.dataset.node = n.node;
      tr.dataset.step = step;
      if (n.wait) tr.dataset.wait = n.wait.gate;
      body.appendChild(tr);
    });
    renderGone(body, s);
    if (s.nodesNotListed) body.appendChild(row(["and " + s.nodesNotListed + " more", "", "", "", ""]));
    $("ladder-empty").hidden = nodes.length + (s.nodesGone || []).length > 0;
  }

  // One gate as a bar of what is left, with its numbers and a line on what they mean.
  function gate(title, left, total, text, notBudget) {
    // A budget used up is red, card and all; the cooldown is per node, not a budget.
    var g = el("div", null, "gate" + (left <= 0 && !notBudget ? " spent" : ""));
    g.dataset.gate = title;
    g.appendChild(el("h3", title));
    var bar = el("div", null, "bar" + (left <= 0 ? " none" : left / Math.max(total, 1) < 0.34 ? " low" : ""));
    var fill = el("span");
    // CSSOM, not a style attribute: the CSP forbids inline styles.
    fill.style.width = Math.max(0, Math.min(100, 100 * left / Math.max(total, 1))) + "%";
    bar.appendChild(fill);
    bar.setAttribute("role", "meter");
    bar.setAttribute("aria-valuenow", String(left));
    bar.setAttribute("aria-valuemax", String(total));
    g.appendChild(bar);
    g.appendChild(el("p", text));
    return g;
  }

  function renderGates(s) {
    var box = $("gates");
    box.replaceChildren();
    var b = s.budgets;
    if (!b) return;
    var mh = b.minHealthy;
    box.appendChild(gate("minHealthy", mh.canTakeOut, b.selected,
      mh.canTakeOut + " of " + b.selected + " nodes may still go; " + mh.required +
      " must stay (" + b.available + " available, " + mh.heldByNodeHeal + " held by node-heal)"));
    var gone = b.rate.fromLedger || [];
    box.appendChild(gate("rate", b.rate.left, b.rate.max,
      b.rate.used + " take-outs used, " + b.rate.left + " left of " + b.rate.max + " per " +
      duration(b.rate.windowMs) + (gone.length ? "; counted from the replacement ledger, their Nodes gone: " +
      gone.join(", ") : "")));
    var mc = b.maxConcurrent;
    box.appendChild(gate("maxConcurrent", mc.max - mc.inFlight, mc.max,
      mc.inFlight + " of " + mc.max + " drains in flight" + (mc.nodes && mc.nodes.length
        ? ": " + mc.nodes.join(", ") : "") + " (replacements count in maxReplacing)"));
    var cd = b.cooldown;
    box.appendChild(gate("cooldown", cd.nodes.length ? 0 : 1, 1, cd.nodes.length
      ? cd.nodes.length + " in cooldown (" + duration(cd.ms) + "): " + cd.nodes.join(", ")
      : "no node in its " + duration(cd.ms) + " cooldown", true));
    var rb = s.replaceBudgets;
    if (rb && rb.maxReplacing && rb.replaceRate) {
      var mr = rb.maxReplacing;
      box.appendChild(gate("maxReplacing", mr.max - mr.inFlight, mr.max, mr.inFlight + " of " + mr.max +
        " replacements in flight" + (mr.nodes.length ? ": " + mr.nodes.join(", ") : "")));
      var rr = rb.replaceRate;
      box.appendChild(gate("replaceRate", rr.left, rr.max,
        rr.used + " used, " + rr.left + " left of " + rr.max + " per " + duration(rr.windowMs)));
      if (rb.damaged) box.appendChild(gate("ledger", 0, 1, "damaged: " + rb.damaged));
    }
  }

  function renderDecisions(s) {
    var all = (s.decisions || []).slice().reverse();
    var select = $("filter-outcome");
    var known = {};
    Array.prototype.forEach.call(select.options, function (o) { known[o.value] = true; });
    all.forEach(function (d) {
      if (!known[d.outcome]) { known[d.outcome] = true; select.appendChild(new Option(d.outcome, d.outcome)); }
    });
    var node = $("filter-node").value.trim().toLowerCase();
    var outcome = select.value;
    var shown = all.filter(function (d) {
      return (!node || String(d.node).toLowerCase().indexOf(node) >= 0) && (!outcome || d.outcome === outcome);
    });
    var body = $("decisions").tBodies[0];
    body.replaceChildren();
    shown.forEach(function (d) {
      var o = el("span", d.outcome + (d.dryRun ? " (dry run)" : ""), "outcome-" + safeClass(d.outcome));
      var who = d.alertname || (d.status === "reconcile" ? "(looked at again)" : "(" + d.status + ")");
      body.appendChild(row([when(d.at), who, d.node ? nodeName(d.node) : "(no node)", o, d.gate || "", d.message]));
    });
    $("decisions-empty").hidden = shown.length > 0;
    $("decisions-empty").textContent = all.length ? "No decision matches the filters." : "No decision yet.";
  }

  function render() {
    if (!last) return;
    renderSummary(last);
    renderLadder(last);
    renderOffenders(last);
    renderBreakers(last);
    renderGates(last);
    renderDomains(last);
    renderDecisions(last);
  }

  function showUpdated() {
    var u = $("updated");
    var stale = !lastOk || Date.now() - lastOk > STALE_MS;
    u.classList.toggle("stale", stale);
    u.replaceChildren();
    if (lastOk) {
      u.appendChild(el("span", (stale ? "Stale: last updated " : "Updated ")));
      u.appendChild(when(new Date(lastOk).toISOString()));
    } else {
      u.appendChild(el("span", "Not loaded yet"));
    }
    if (lastError) u.appendChild(el("span", " (" + lastError + ")"));
  }

  function refresh() {
    fetch("/status", { headers: { accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (res) {
        if (!res.ok) throw new Error("/status answered " + res.status);
        return res.json();
      })
      .then(function (s) {
        last = s;
        lastOk = Date.now();
        lastError = "";
        document.body.dataset.loaded = "true";
        render();
      })
      .catch(function (err) { lastError = String(err && err.message || err); })
      .then(function () { showUpdated(); setTimeout(refresh, REFRESH_MS); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("filter-node").addEventListener("input", render);
    $("filter-outcome").addEventListener("change", render);
    // Relative times and staleness move on between refreshes.
    setInterval(function () { showUpdated(); }, 1000);
    refresh();
  });
})();
`;
