"use strict";
// Shared page kit: JSON calls with the CSRF token, forms posted by fetch, polling, the outage
// banner, flash messages that expire, links to the explorer's pages, tables and small SVG charts.
// No library, no CDN.
const fc = (() => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const SVG = "http://www.w3.org/2000/svg";
  const FLASH_MS = {ok: 8000, error: 20000};

  function expire(line) {
    const kind = line.classList.contains("error") ? "error" : "ok";
    setTimeout(() => line.remove(), FLASH_MS[kind]);
  }

  function flash(message, kind = "ok") {
    const box = document.getElementById("flash");
    const line = document.createElement("p");
    line.className = `flash ${kind}`;
    line.textContent = message;
    box.prepend(line);
    expire(line);
    while (box.children.length > 4) box.lastElementChild.remove();
  }
  document.querySelectorAll("#flash .flash").forEach(expire);  // messages rendered by the server

  function banner(problems) {
    const box = document.getElementById("banner");
    box.hidden = !problems || problems.length === 0;
    box.textContent = box.hidden ? "" : problems.join(" · ");
  }

  /** The outage banner; while the chain is down the page keeps its last known data and says so. */
  function showProblems(status) {
    const problems = [...(status.problems || [])];
    if (status.stale) problems.push(`showing the last known data (block ${status.last_block ?? "?"})`);
    banner(problems);
  }

  async function api(path, options = {}) {
    let response;
    try {
      response = await fetch(path, {...options, headers: {Accept: "application/json", "X-CSRF-Token": token,
                                                          ...(options.headers || {})}});
    } catch (error) {
      throw new Error("the service does not answer: is it still running?");
    }
    const body = await response.json().catch(() => ({error: `HTTP ${response.status}`}));
    if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`);
    return body;
  }

  function post(path, values = {}) {
    return api(path, {method: "POST", body: JSON.stringify(values), headers: {"Content-Type": "application/json"}});
  }

  // Forms with data-api post their fields as JSON; checkboxes with data-switch post {enabled}.
  function bindForms(after) {
    for (const form of document.querySelectorAll("form[data-api]")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = event.submitter || form.querySelector("button");
        if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
        const values = Object.fromEntries(new FormData(form));
        delete values.csrf_token;
        if (button) button.disabled = true;
        try {
          const answer = await post(form.getAttribute("action"), values);
          flash(answer.message, answer.ok === false ? "error" : "ok");
          form.dispatchEvent(new CustomEvent("answered", {detail: answer}));
        } catch (error) {
          flash(error.message, "error");
        } finally {
          if (button) button.disabled = false;
          if (after) after();
        }
      });
    }
    for (const box of document.querySelectorAll("input[data-switch]")) {
      box.addEventListener("change", async () => {
        try {
          flash((await post(box.dataset.switch, {enabled: box.checked})).message);
        } catch (error) {
          box.checked = !box.checked;
          flash(error.message, "error");
        }
        if (after) after();
      });
    }
  }

  // Calls `refresh` now and every `ms`; a failure shows in the banner until the next success.
  function poll(refresh, ms) {
    const tick = async () => {
      try {
        await refresh();
      } catch (error) {
        banner([error.message]);
      }
      setTimeout(tick, ms);
    };
    tick();
  }

  function text(id, value) {
    document.getElementById(id).textContent = value === null || value === undefined || value === "" ? "—" : value;
  }

  /** Put a node (a link) or a text in element `id`. */
  function put(id, content) {
    const element = document.getElementById(id);
    if (content instanceof Node) element.replaceChildren(content); else text(id, content);
  }

  /** The open round's id, base, submissions and deadline: the same block on both dashboards;
   *  `overdueAdvice` says what this party can do about a round past its deadline. */
  function roundSummary(round, overdueAdvice) {
    put("round-id", roundLink(round.round));
    put("round-base", cidLink(round.base_cid));
    const secure = round.secure;
    const phases = document.getElementById("round-phases");
    if (phases) phases.hidden = !secure;
    if (secure) {  // a secure round ends phase by phase, not at one deadline
      text("round-submissions", `${round.submissions} masked updates (at least ${round.quorum}; ` +
                                `${secure.revealed} of threshold ${secure.threshold} revealed)`);
      const phase = secure.phases.find((p) => p.current);
      text("round-deadline", phase ? `secure round: ${phase.name} phase until block ${phase.deadline} ` +
                                     `(${phase.blocks_left} blocks left)`
                                   : `secure round: every phase is over; ${overdueAdvice}`);
      document.getElementById("round-deadline").className = phase ? "" : "bad";
      if (phases) phaseTable("round-phases", secure);
      return;
    }
    text("round-submissions", `${round.submissions} of quorum ${round.quorum}`);
    text("round-deadline", round.overdue
      ? `block ${round.deadline}: overdue, no update can be submitted any more; ${overdueAdvice}`
      : `block ${round.deadline} (${round.blocks_left} blocks left)`);
    document.getElementById("round-deadline").className = round.overdue ? "bad" : "";
  }

  // A secure round's phases: each one's last block, the blocks left and what it counted.
  const PHASE_COUNTS = {join: "joined", share: "shared", submit: "submitted", review: "excluded",
                        reveal: "revealed"};
  function phaseTable(id, secure) {
    fillTable(id, secure.phases, (row, p) => {
      row.dataset.phase = p.name;
      cell(row, p.current ? `${p.name} (now)` : p.name, p.current ? "ok" : "");
      cell(row, p.deadline, "deadline");
      cell(row, p.blocks_left, "blocks-left");
      cell(row, secure[PHASE_COUNTS[p.name]], "count");
    }, "");
  }

  function cell(row, content, className) {
    const td = row.insertCell();
    if (content instanceof Node) td.append(content); else td.textContent = content ?? "—";
    if (className) td.className = className;
    return td;
  }

  function link(href, label, className) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    if (className) a.className = className;
    return a;
  }

  // Links into the explorer; a missing value stays a dash.
  const cidLink = (cid) => (cid ? link(`/models/${cid}`, cid, "mono cid") : "—");
  const txLink = (hash) => (hash ? link(`/tx/${hash}`, hash, "mono tx") : "—");
  const addressLink = (address) => (address ? link(`/clients/${address}`, address, "mono address") : "—");
  const roundLink = (id) => (id ? link(`/rounds/${id}`, `${id}`, "round") : "—");

  /** A block's time (unix seconds) as "2026-11-21 15:04:05 UTC". */
  function time(unix) {
    return unix === null || unix === undefined ? "—" : `${new Date(unix * 1000).toISOString().slice(0, 19).replace("T", " ")} UTC`;
  }

  /** Disable the buttons whose condition is false; `why` becomes their tooltip. */
  function enable(conditions) {
    for (const [id, [on, why]] of Object.entries(conditions)) {
      const button = document.getElementById(id);
      if (!button) continue;
      button.disabled = !on;
      button.title = on ? "" : why;
    }
  }

  function fillTable(id, items, render, empty) {
    const body = document.querySelector(`#${id} tbody`);
    body.replaceChildren();
    for (const item of items) render(body.insertRow(), item);
    if (items.length === 0) cell(body.insertRow(), empty, "muted").colSpan = 99;
  }

  function percent(value) {
    return value === null || value === undefined ? "—" : `${(100 * value).toFixed(1)}%`;
  }

  // A task pin as "name version (hash)"; files published before tasks name only their architecture.
  function taskPin(task) {
    if (!task) return "—";
    return task.pinned ? `${task.name} ${task.version} (${task.hash.slice(0, 12)})` : `${task.name} (no task pin)`;
  }

  function svgEl(tag, attrs, label) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    if (label !== undefined) node.textContent = label;
    return node;
  }

  const box = {w: 560, h: 200, left: 40, right: 10, top: 10, bottom: 28};

  function frame(svg, yTicks) {
    svg.setAttribute("viewBox", `0 0 ${box.w} ${box.h}`);
    svg.replaceChildren();
    const bottom = box.h - box.bottom;
    for (const [value, y] of yTicks) {
      svg.append(svgEl("line", {class: "axis", x1: box.left, x2: box.w - box.right, y1: y, y2: y}));
      svg.append(svgEl("text", {x: box.left - 4, y: y + 4, "text-anchor": "end"}, value));
    }
    return bottom;
  }

  /** Round ticks for [low, high]: about four steps of 1, 2 or 5 times a power of ten. */
  function niceTicks(low, high) {
    if (high - low < 1e-9) { low -= 0.01; high += 0.01; }
    const raw = (high - low) / 4;
    const power = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
    const ticks = [];
    for (let v = Math.floor(low / step) * step; v <= high + step * 1e-9; v += step) ticks.push(+v.toPrecision(12));
    if (ticks[ticks.length - 1] < high) ticks.push(+(ticks[ticks.length - 1] + step).toPrecision(12));
    return ticks;
  }

  /** One value per round with the y axis fitted to the data; aborted rounds marked with a red cross.
   *  rounds: [{round, state, value}], format: value -> label. */
  function roundChart(svg, rounds, format, emptyText) {
    const points = rounds.filter((r) => r.value !== null && r.value !== undefined);
    const ticks = points.length ? niceTicks(Math.min(...points.map((p) => p.value)),
                                            Math.max(...points.map((p) => p.value))) : [0, 1];
    const [low, high] = [ticks[0], ticks[ticks.length - 1]];
    const plotBottom = box.h - box.bottom;
    const yOf = (v) => box.top + (1 - (v - low) / (high - low)) * (plotBottom - box.top);
    frame(svg, ticks.map((v) => [format(v), yOf(v)]));
    if (rounds.length === 0) {
      svg.append(svgEl("text", {x: box.w / 2, y: box.h / 2, "text-anchor": "middle"}, emptyText));
      return;
    }
    const width = box.w - box.left - box.right;
    const ids = rounds.map((r) => r.round);
    const xOf = (id) => box.left + (ids.length === 1 ? width / 2 : (ids.indexOf(id) * width) / (ids.length - 1));
    if (points.length > 1) {
      svg.append(svgEl("polyline", {class: "line", points: points.map((p) => `${xOf(p.round)},${yOf(p.value)}`).join(" ")}));
    }
    const every = Math.ceil(rounds.length / 20);
    rounds.forEach((r, i) => {
      const x = xOf(r.round);
      if (r.state === "aborted") {
        const mark = svgEl("text", {class: "aborted", x, y: plotBottom - 4, "text-anchor": "middle"}, "✕");
        mark.append(svgEl("title", {}, `round ${r.round}: aborted`));
        svg.append(svgEl("line", {class: "aborted-line", x1: x, x2: x, y1: box.top, y2: plotBottom}), mark);
      } else if (r.value !== null && r.value !== undefined) {
        const dot = svgEl("circle", {class: "dot", cx: x, cy: yOf(r.value), r: 3, "data-round": r.round});
        dot.append(svgEl("title", {}, `round ${r.round}: ${format(r.value)}`));
        svg.append(dot);
      }
      if (i % every === 0) svg.append(svgEl("text", {x, y: box.h - 10, "text-anchor": "middle"}, r.round));
    });
  }

  function barChart(svg, values, labels) {
    const top = Math.max(1, ...values);
    const bottom = frame(svg, [0, 0.5, 1].map(
      (v) => [Math.round(v * top), box.top + (1 - v) * (box.h - box.top - box.bottom)]));
    const slot = (box.w - box.left - box.right) / Math.max(1, values.length);
    values.forEach((value, i) => {
      const height = (value / top) * (bottom - box.top);
      const bar = svgEl("rect", {class: "bar", x: box.left + i * slot + slot * 0.15, y: bottom - height,
                                 width: slot * 0.7, height});
      bar.append(svgEl("title", {}, `${labels[i]}: ${value}`));
      svg.append(bar);
      svg.append(svgEl("text", {x: box.left + (i + 0.5) * slot, y: box.h - 10, "text-anchor": "middle"}, labels[i]));
    });
  }

  return {api, post, flash, banner, showProblems, bindForms, poll, text, put, roundSummary, phaseTable, cell, link, cidLink, txLink,
          addressLink, roundLink, time, enable, fillTable, percent, taskPin, roundChart, barChart};
})();
