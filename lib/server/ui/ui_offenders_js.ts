// The status page's repeat offenders, a part of its script (ui_js.ts puts it inside its closure,
// where `el`, `when`, `nodeName`, `duration` and `row` are): the nodes node-heal remediated most in
// `/status`'s window, most first, each with its count and last time. Node names are the
// cluster's: they reach the page through textContent and the title attribute alone.

/** The repeat offenders' table, as plain browser JavaScript (no template literal inside). */
export const UI_OFFENDERS_JS = `
  function renderOffenders(s) {
    var r = s.repeatOffenders || { nodes: [], notListed: 0 };
    var list = r.nodes || [];
    var body = $("offenders").tBodies[0];
    body.replaceChildren();
    list.forEach(function (o) {
      var count = el("span", String(o.remediations), r.alertAt && o.remediations >= r.alertAt ? "pill yes" : "pill");
      var tr = row([nodeName(o.node), count, when(o.last)]);
      tr.dataset.node = o.node;
      body.appendChild(tr);
    });
    $("offenders-window").textContent = "in the last " + duration(r.windowMs || 0) +
      (r.alertAt ? "; NodeHealRepeatOffender fires at " + r.alertAt : "");
    $("offenders-empty").hidden = list.length > 0;
    var more = $("offenders-more");
    more.hidden = !r.notListed;
    more.textContent = r.notListed ? "and " + r.notListed + " more" : "";
  }
`;
