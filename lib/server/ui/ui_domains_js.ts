// The status page's correlated-failure part, a part of its script (ui_js.ts puts it inside its
// closure, where `el`, `when`, `label`, `duration`, `nodeName` and `row` are): the breakers, open
// or releasing what they held, and the budgets of each domain of `gates.domains`. Domain values
// are Node labels, node names the cluster's: both reach the page through textContent alone.

/** The breakers' card and the domains' tables, as plain browser JavaScript (no template literal). */
export const UI_DOMAINS_JS = `
  // A list of node names, each cut when long and in full on hover; "none" when empty.
  function names(list, none) {
    var span = el("span", null, "names");
    if (!list || !list.length) { span.textContent = none; return span; }
    list.forEach(function (n, i) {
      if (i) span.appendChild(document.createTextNode(", "));
      span.appendChild(nodeName(n));
    });
    return span;
  }

  function line(parts, cls) {
    var p = el("p", null, cls);
    parts.forEach(function (x) { p.appendChild(x instanceof Node ? x : document.createTextNode(x)); });
    return p;
  }

  // One breaker: open (red) while its domain alerts together, releasing (amber) once closed
  // while it still holds escalations back.
  function breakerCard(b, policy) {
    var card = el("div", null, "gate breaker " + (b.open ? "open" : "releasing"));
    card.dataset.domain = b.domain;
    card.dataset.open = String(!!b.open);
    var h = el("h3", b.domain + " ");
    h.appendChild(el("span", b.open ? "open" : "closed, releasing", "pill " + (b.open ? "yes" : "warn")));
    card.appendChild(h);
    card.appendChild(line(["opened ", when(b.openedAt), " by " + b.count + " nodes alerting together: ",
      names(b.nodes, "?")], "opened-by"));
    if (b.open && b.closesAt) {
      card.appendChild(line(["closes if quiet ", when(b.closesAt)], "closes"));
    } else if (b.open) {
      card.appendChild(line(["still alerting: closes " + duration(policy.quietMs || 0) +
        " after fewer than " + (policy.alerting || "?") + " nodes alert together"], "closes"));
    } else {
      card.appendChild(line(["closed ", when(b.closedAt), "; releases what it held one per " +
        duration(policy.releaseMs || 0)], "closes"));
    }
    card.appendChild(line([b.open ? "holds back the drains and replacements of: "
      : "still to release: ", names(b.held, "no node")], "held"));
    return card;
  }

  function renderBreakers(s) {
    var section = $("breakers-s");
    section.hidden = !s.breakers;
    if (!s.breakers) return;
    var policy = (s.policy && s.policy.gates && s.policy.gates.breaker) || {};
    var box = $("breakers");
    box.replaceChildren();
    s.breakers.forEach(function (b) { box.appendChild(breakerCard(b, policy)); });
    $("breakers-empty").hidden = s.breakers.length > 0;
  }

  var DOMAIN_LIMITS = ["minHealthy", "maxUnavailable", "maxCordoned", "maxConcurrent", "maxReplacing"];

  // The limits gates.domains sets on one label key: "maxUnavailable 1, minHealthy 80%".
  function limitsOf(s, key) {
    var gates = (s.policy && s.policy.gates && s.policy.gates.domains) || [];
    var said = [];
    gates.filter(function (g) { return g.key === key; }).forEach(function (g) {
      DOMAIN_LIMITS.forEach(function (k) { if (g[k] !== undefined) said.push(k + " " + g[k]); });
    });
    return said.join(", ") || "none";
  }

  // One table per label key of gates.domains: each of its values and what it counts.
  function renderDomains(s) {
    var box = $("domains");
    box.replaceChildren();
    var domains = s.budgets && s.budgets.domains;
    box.hidden = !domains;
    if (!domains) return;
    var keys = [];
    domains.forEach(function (d) { if (keys.indexOf(d.key) < 0) keys.push(d.key); });
    keys.forEach(function (key) {
      var wrap = el("div", null, "scroll domain");
      wrap.dataset.key = key;
      var table = el("table");
      var caption = el("caption");
      caption.appendChild(el("span", key, "key"));
      caption.appendChild(el("span", " limits: " + limitsOf(s, key), "limits"));
      table.appendChild(caption);
      var head = el("thead");
      head.appendChild(row(["Value", "Selected", "Available", "Held by node-heal", "Draining"]));
      Array.prototype.forEach.call(head.querySelectorAll("td"), function (td) {
        var th = el("th", td.textContent);
        td.replaceWith(th);
      });
      table.appendChild(head);
      var body = el("tbody");
      domains.filter(function (d) { return d.key === key; }).forEach(function (d) {
        var c = d.counts || {};
        // A label value, cut with an ellipsis when long, in full on hover.
        var v = el("span", d.value === "" ? "(unlabelled)" : d.value, "name");
        v.title = d.value === "" ? "Nodes without the label" : d.value;
        var tr = row([v, c.selected, c.available, c.held, c.draining]);
        tr.dataset.value = d.value;
        body.appendChild(tr);
      });
      table.appendChild(body);
      wrap.appendChild(table);
      box.appendChild(wrap);
    });
  }
`;
