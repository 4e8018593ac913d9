"use strict";
// Shared page kit: JSON calls with the CSRF token, forms posted by fetch, polling, the outage
// banner, flash messages, tables and the two small SVG charts. No library, no CDN.
const fc = (() => {
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const SVG = "http://www.w3.org/2000/svg";

  function flash(message, kind = "ok") {
    const box = document.getElementById("flash");
    const line = document.createElement("p");
    line.className = `flash ${kind}`;
    line.textContent = message;
    box.prepend(line);
    while (box.children.length > 4) box.lastElementChild.remove();
  }

  function banner(problems) {
    const box = document.getElementById("banner");
    box.hidden = !problems || problems.length === 0;
    box.textContent = box.hidden ? "" : problems.join(" · ");
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

  /** The open round's id, base, submissions and deadline: the same block on both dashboards. */
  function roundSummary(round) {
    text("round-id", round.round);
    text("round-base", round.base_cid);
    text("round-submissions", `${round.submissions} of quorum ${round.quorum}`);
    text("round-deadline", `block ${round.deadline} (${round.blocks_left} blocks left)`);
  }

  function cell(row, content, className) {
    const td = row.insertCell();
    if (content instanceof Node) td.append(content); else td.textContent = content ?? "—";
    if (className) td.className = className;
    return td;
  }

  function link(href, label) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = label;
    return a;
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

  // points: [{x: label, y: 0..1}]; the y axis is a fixed 0..100% so rounds compare at a glance.
  function lineChart(svg, points) {
    const bottom = frame(svg, [0, 0.25, 0.5, 0.75, 1].map(
      (v) => [`${v * 100}%`, box.top + (1 - v) * (box.h - box.top - box.bottom)]));
    if (points.length === 0) {
      svg.append(svgEl("text", {x: box.w / 2, y: box.h / 2, "text-anchor": "middle"}, "no finalized round yet"));
      return;
    }
    const width = box.w - box.left - box.right;
    const xOf = (i) => box.left + (points.length === 1 ? width / 2 : (i * width) / (points.length - 1));
    const yOf = (v) => box.top + (1 - v) * (bottom - box.top);
    svg.append(svgEl("polyline", {class: "line", points: points.map((p, i) => `${xOf(i)},${yOf(p.y)}`).join(" ")}));
    const every = Math.ceil(points.length / 20);
    points.forEach((p, i) => {
      const dot = svgEl("circle", {class: "dot", cx: xOf(i), cy: yOf(p.y), r: 3});
      dot.append(svgEl("title", {}, `round ${p.x}: ${percent(p.y)}`));
      svg.append(dot);
      if (i % every === 0) svg.append(svgEl("text", {x: xOf(i), y: box.h - 10, "text-anchor": "middle"}, p.x));
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

  return {api, post, flash, banner, bindForms, poll, text, roundSummary, cell, link, fillTable, percent, lineChart, barChart};
})();
