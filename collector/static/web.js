// Drill-down for tyndau's web page: a chart cell's raw measurements, from GET /v1/measurements.
// Without this script each cell is still a link to the same API answer (JSON).
"use strict";

(function () {
  const body = document.getElementById("drill-body");
  if (!body) {
    return;
  }
  const heading = document.getElementById("drill-h");
  const columns = [
    ["Started (UTC)", (m) => m.started_at.replace("T", " ").slice(0, 19)],
    ["Probe", (m) => m.probe_id],
    ["Vantage", (m) => `${m.vantage.cc} AS${m.vantage.asn} ${m.vantage.network}`],
    ["Test", (m) => m.test],
    ["Outcome", (m) => m.outcome],
    ["ms", (m) => String(Math.round(m.duration_ms))],
    ["Details", (m) => JSON.stringify(m.details)],
  ];

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined) {
      node.textContent = text;
    }
    if (className) {
      node.className = className;
    }
    return node;
  }

  function table() {
    const tbl = element("table", undefined, "measurements");
    const row = tbl.createTHead().insertRow();
    for (const [name] of columns) {
      const th = element("th", name);
      th.scope = "col";
      row.appendChild(th);
    }
    tbl.appendChild(element("tbody"));
    return tbl;
  }

  function addRows(tbl, measurements) {
    const tbody = tbl.tBodies[0];
    for (const m of measurements) {
      const row = tbody.insertRow();
      columns.forEach(([name, value], index) => {
        const cell = row.insertCell();
        const text = value(m);
        if (name === "Details") {
          const code = element("code", text.length > 160 ? `${text.slice(0, 160)}…` : text);
          code.title = text;
          cell.appendChild(code);
        } else {
          cell.textContent = text;
        }
        if (index === 4) {
          cell.className = m.outcome === "ok" ? "outcome-ok" : "outcome-failed";
        }
      });
    }
  }

  async function load(url, tbl, status) {
    status.textContent = "Loading…";
    let page;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        status.textContent = `The collector answered ${response.status}.`;
        return;
      }
      page = await response.json();
    } catch (error) {
      status.textContent = `Could not load the measurements: ${error}`;
      return;
    }
    addRows(tbl, page.measurements);
    const shown = tbl.tBodies[0].rows.length;
    status.textContent = shown === 0 ? "No raw measurement in this cell." : `${shown} measurements shown.`;
    const old = body.querySelector("button.more");
    if (old) {
      old.remove();
    }
    if (page.next_cursor) {
      const next = new URL(url, location.href);
      next.searchParams.set("cursor", page.next_cursor);
      const more = element("button", "Show more", "more");
      more.type = "button";
      more.addEventListener("click", () => load(next.toString(), tbl, status));
      body.appendChild(more);
    }
  }

  function select(link) {
    for (const old of document.querySelectorAll("a.cell.selected")) {
      old.classList.remove("selected");
    }
    link.classList.add("selected");
    const hint = document.getElementById("drill-hint");
    if (hint) {
      hint.hidden = true;
    }
    heading.textContent = `Measurements: ${link.getAttribute("aria-label")}`;
    body.replaceChildren();
    const status = element("p", "", "status");
    status.setAttribute("role", "status");
    const tbl = table();
    body.append(status, tbl);
    load(link.getAttribute("href"), tbl, status);
  }

  document.addEventListener("click", (event) => {
    const link = event.target.closest && event.target.closest("a.cell");
    if (link) {
      event.preventDefault();
      history.replaceState(null, "", `#${link.id}`);
      select(link);
    }
  });

  if (location.hash.startsWith("#cell-")) {
    const link = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (link) {
      select(link);
    }
  }
})();
