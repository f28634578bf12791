// tyndau's pages, progressively enhanced: interactive signals charts (uPlot, vendored in
// static/vendor/) and the drill-down of a heatmap cell from GET /v1/measurements.
// Without this script every table and chart is still there (server-drawn SVG) and each cell
// links to the same API answer. Nothing here loads from another origin.
"use strict";

(function () {
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

  // ---- signals: uPlot over the server's data island, zoom by dragging, counts on hover ----
  const pad = (n) => String(n).padStart(2, "0");
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function utcLabel(seconds, spanSeconds) {
    const d = new Date(seconds * 1000);
    const midnight = d.getUTCHours() === 0 && d.getUTCMinutes() === 0;
    if (spanSeconds >= 3 * 86400 || midnight) {
      return `${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]}`;
    }
    return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  }

  function typed(seconds) {
    const d = new Date(seconds * 1000);
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
  }

  function signals(island) {
    const figure = document.getElementById(island.dataset.name);
    if (!figure || typeof uPlot === "undefined") {
      return;
    }
    const data = JSON.parse(island.textContent);
    if (data.t.length === 0) {
      return;
    }
    const svg = figure.querySelector("svg.chart");
    const host = element("div", undefined, "uplot-host");
    figure.insertBefore(host, svg);
    const zoom = element("a", "", "zoom-link");
    zoom.hidden = true;
    figure.querySelector("figcaption").appendChild(zoom);
    const offline = data.offline.map((v) => (v === null ? null : v * 100));
    const width = Math.max(320, figure.clientWidth - 28);
    const opts = {
      width,
      height: 170,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"),
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: true }, probes: { range: [0, Math.max(1, data.expected) * 1.1] },
        share: { range: [0, 100] } },
      axes: [
        { values: (u, splits) => {
          const span = u.scales.x.max - u.scales.x.min;
          return splits.map((s) => utcLabel(s, span));
        } },
        { scale: "probes", label: "probes" },
        { scale: "share", side: 1, label: "offline %", grid: { show: false } },
      ],
      series: [
        { label: "UTC", value: (u, v) => (v === null ? "—" : typed(v)) },
        { label: "expected", scale: "probes", stroke: "#999999", dash: [2, 3], width: 1.5 },
        { label: "heard", scale: "probes", stroke: "#0072B2", width: 2 },
        { label: "measured", scale: "probes", stroke: "#E69F00", width: 1, dash: [1, 2] },
        { label: "up", scale: "probes", stroke: "#009E73", width: 2, dash: [5, 2] },
        { label: "offline %", scale: "share", stroke: "#333333", fill: "rgba(51,51,51,0.3)",
          width: 1, value: (u, v) => (v === null ? "—" : `${Math.round(v)}%`) },
      ],
      hooks: {
        setSelect: [(u) => {
          if (u.select.width < 4) {
            return;
          }
          const lo = u.posToVal(u.select.left, "x");
          const hi = u.posToVal(u.select.left + u.select.width, "x");
          const next = new URL(location.href);
          next.searchParams.delete("range");
          next.searchParams.set("since", typed(lo));
          next.searchParams.set("until", typed(hi));
          zoom.href = next.toString();
          zoom.textContent = `Show ${typed(lo)} – ${typed(hi)} on the whole page`;
          zoom.hidden = false;
        }],
      },
    };
    const expected = data.t.map(() => data.expected);
    const plot = new uPlot(opts, [data.t, expected, data.heard, data.measured, data.up, offline], host);
    window.tyndauCharts = window.tyndauCharts || [];
    window.tyndauCharts.push(plot);
  }

  for (const island of document.querySelectorAll("script.chart-data")) {
    try {
      signals(island);
    } catch (error) {
      console.error(`tyndau: could not draw ${island.dataset.name}: ${error}`);
    }
  }

  // ---- hover: a cell's counts (its aria-label) beside the pointer ----
  const tip = element("div", "", "tooltip");
  tip.hidden = true;
  tip.setAttribute("role", "tooltip");
  document.body.appendChild(tip);
  document.addEventListener("mouseover", (event) => {
    const cell = event.target.closest && event.target.closest("a.cell");
    if (!cell) {
      tip.hidden = true;
      return;
    }
    tip.textContent = cell.getAttribute("aria-label");
    tip.hidden = false;
    const left = Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = `${Math.max(4, left)}px`;
    tip.style.top = `${event.clientY + 16}px`;
  });

  // ---- drill-down: the raw measurements behind a heatmap cell ----
  const body = document.getElementById("drill-body");
  if (!body) {
    return;
  }
  const root = body.dataset.root || "";
  const heading = document.getElementById("drill-h");
  const probeOf = (m) => m.probe || m.pseudonym || m.probe_id || "—";
  const columns = [
    ["Started (UTC)", (m) => m.started_at.replace("T", " ").slice(0, 19)],
    ["Probe", probeOf],
    ["Vantage", (m) => `${m.vantage.cc} AS${m.vantage.asn} ${m.vantage.network}`],
    ["Test", (m) => m.test],
    ["Outcome", (m) => m.outcome],
    ["ms", (m) => String(Math.round(m.duration_ms))],
    ["Details", (m) => JSON.stringify(m.details)],
  ];

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

  // the target's failures first, then its other measurements, controls last
  const rank = (m) => (m.target.category === "control" ? 2 : 0) + (m.outcome === "ok" ? 1 : 0);

  function addRows(tbl, measurements) {
    const tbody = tbl.tBodies[0];
    const sorted = [...measurements].sort((a, b) => rank(a) - rank(b));
    for (const m of sorted) {
      const row = tbody.insertRow();
      columns.forEach(([name, value], index) => {
        const cell = row.insertCell();
        const text = value(m);
        if (name === "Details") {
          const code = element("code", text.length > 160 ? `${text.slice(0, 160)}…` : text);
          code.title = text;
          cell.appendChild(code);
        } else if (index === 0) {
          const link = element("a", text);
          link.href = `${root}measurement/${encodeURIComponent(m.id)}`;
          cell.appendChild(link);
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
