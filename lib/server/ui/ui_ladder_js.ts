// The status page's ladder, a part of its script (ui_js.ts puts it inside its closure, where
// `el`, `when`, `label`, `safeClass` and `row` are): every node node-heal acts on, those whose
// Node object is gone while they are replaced included, with its step, since when, and why it
// waits. Values reach the page through textContent and the title attribute alone.

/** The ladder's functions, as plain browser JavaScript (no template literal inside). */
export const UI_LADDER_JS = `
  // A node's name, cut with an ellipsis when long, in full in the tooltip.
  function nodeName(name, gone) {
    var s = el("span", name, "name");
    s.title = String(name) + (gone ? " (its Node object is gone)" : "");
    if (!gone) return s;
    var box = el("span");
    box.appendChild(s);
    box.appendChild(el("span", " Node gone", "gone"));
    return box;
  }

  function clock(iso) {
    var t = Date.parse(iso);
    return isNaN(t) ? "?" : new Date(t).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  var HOLDING = { maxConcurrent: " draining since ", maxReplacing: " being replaced since ",
    replaceRate: " started " };
  var UNITS = { maxConcurrent: " draining", maxReplacing: " in flight", replaceRate: " started in the window" };

  // A domain's budget counts drains or replacements there, as the step waiting on it.
  function holding(w) {
    if (w.gate === "domain") return w.step === "drain" ? " draining since " : " being replaced since ";
    return HOLDING[w.gate] || " since ";
  }

  function units(w) {
    if (w.gate === "domain") return w.step === "drain" ? " draining there" : " in flight there";
    return UNITS[w.gate] || "";
  }

  // "waiting: maxReplacing 1/1 in flight, heal-worker being replaced since 12:03; looked at
  // again when a replacement ends", with the gate's own sentence in the tooltip; a domain's gate
  // and the breaker name their domain ("breaker of zone us-east-1a, opened by a, b").
  function waitText(w) {
    var text = "waiting to " + w.step + ": " + w.gate + (w.domain ? " of " + w.domain : "");
    if (w.used !== undefined && w.max !== undefined) text += " " + w.used + "/" + w.max + units(w);
    if (w.gate === "breaker" && (w.holders || []).length) {
      text += ", opened by " + w.holders.map(function (h) { return h.node; }).join(", ");
    } else {
      (w.holders || []).forEach(function (h) {
        text += ", " + h.node + (h.since ? holding(w) + clock(h.since) : "");
      });
    }
    text += "; looked at again " + w.recheck;
    var s = el("span", text, "wait");
    s.title = w.message;
    if (w.freesAt) {
      s.appendChild(label(w.gate === "breaker" ? "; closes if quiet " : "; a place frees ", when(w.freesAt)));
    }
    return s;
  }

  // What comes next for a node whose Node object is gone: its successor.
  function goneNext(g) {
    if (g.step === "replacing") return el("span", "waiting for its successor (" + g.provider + ")");
    if (g.step === "replaced") {
      var s = el("span", "replaced by ");
      s.appendChild(nodeName(g.successor || "?"));
      return s;
    }
    return el("span", g.message || "the replacement failed", "wait");
  }

  // How a node's last remediations ended, newest first: "recovered after 1h 5m (drain)", the
  // alert and the times in the tooltip.
  function outcomesList(list) {
    var box = el("span", null, "outcomes");
    (list || []).slice(-3).reverse().forEach(function (o) {
      // A recurrence's seconds are how long the recovery before it held.
      var took = duration(Number(o.seconds) * 1000 || 0);
      var text = o.outcome === "recurred" ? "recurred " + took + " after its recovery" : o.outcome + " after " + took;
      var s = el("span", text + " (" + o.step + ")",
        "pill outcome-" + safeClass(o.outcome));
      s.title = o.alert + ", from " + o.startedAt + " to " + o.endedAt;
      s.dataset.outcome = o.outcome;
      box.appendChild(s);
    });
    return box;
  }

  function stepPill(step) { return el("span", step, "pill step-" + safeClass(step)); }

  function renderGone(body, s) {
    (s.nodesGone || []).forEach(function (g) {
      var tr = row([nodeName(g.node, true), stepPill(g.step), when(g.since), "—", goneNext(g)]);
      tr.dataset.node = g.node;
      tr.dataset.step = g.step;
      tr.classList.add("gone-row");
      body.appendChild(tr);
    });
  }
`;
