"use strict";
// The explorer's pages (round, model, transaction, client): each fills itself from the JSON API.
const main = document.querySelector("[data-page]");

const number = (value, digits = 4) => (value === null || value === undefined ? "—" : value.toFixed(digits));

function decision(s) {
  if (s.accepted === null || s.accepted === undefined) return ["pending", "muted"];
  return s.accepted ? ["accepted", "ok"] : [`rejected: ${s.reason ?? "no reason published"}`, "bad"];
}

function submissionCells(row, s) {
  const [label, kind] = decision(s);
  fc.cell(row, s.samples);
  fc.cell(row, s.masked && s.accepted ? "in the masked sum" : label, `decision ${kind}`);
  // a masked update's values are hidden from everyone: no share, norm or cosine can be known
  const hidden = s.masked ? "masked" : null;
  fc.cell(row, hidden ?? (s.weight_share === null || s.weight_share === undefined ? "—" : fc.percent(s.weight_share)),
          "share");
  fc.cell(row, hidden ?? number(s.norm), "norm");
  fc.cell(row, hidden ?? number(s.cosine, 3), "cosine");
  fc.cell(row, fc.time(s.submitted_at), "time");
}

async function roundPage() {
  const r = await fc.api(`/api/rounds/${main.dataset.round}`);
  fc.text("state", r.stale ? `${r.state} (last known)` : r.state);
  fc.put("base-cid", fc.cidLink(r.base_cid));
  fc.put("result-cid", fc.cidLink(r.result_cid));
  const params = r.strategy ? Object.entries(r.strategy.params).map(([k, v]) => `${k}=${v}`).join(", ") : "";
  fc.text("strategy", r.strategy && (params ? `${r.strategy.name} (${params})` : r.strategy.name));
  fc.text("task", fc.taskPin(r.task));
  fc.text("accuracy", fc.percent(r.accuracy));
  fc.text("loss", number(r.loss));
  fc.text("quorum", r.quorum);
  fc.text("opened", `block ${r.opened_block}, ${fc.time(r.opened_at)}`);
  fc.text("closed", r.closed_block === null ? "—" : `block ${r.closed_block}, ${fc.time(r.closed_at)}`);
  fc.text("deadline", `block ${r.deadline_block}`);
  fc.put("open-tx", fc.txLink(r.open_tx));
  fc.put("close-tx", fc.txLink(r.close_tx));
  if (r.analysis_problem) fc.text("analysis-note", r.analysis_problem);
  fc.text("kind", r.secure ? "secure aggregation (masked updates)" : "plain");
  fc.text("outcome", r.state === "aborted"
    ? `aborted: ${[r.abort_reason, r.organization_reason].filter(Boolean).join(" — ") || "no reason recorded"}`
    : r.state === "finalized" ? "finalized" : "open");
  if (r.secure_round) securePart(r.secure_round);
  document.getElementById("next-round").hidden = r.state === "open";
  fc.fillTable("submissions", r.submissions, (row, s) => {
    row.dataset.index = s.index;
    fc.cell(row, s.index);
    fc.cell(row, fc.addressLink(s.client));
    fc.cell(row, fc.cidLink(s.cid), "update-cid");
    submissionCells(row, s);
    fc.cell(row, s.gas);
    fc.cell(row, fc.txLink(s.tx));
  }, "no submission yet");
  return r.state !== "open";
}

function securePart(secure) {
  document.getElementById("secure-card").hidden = false;
  document.getElementById("analysis-note").textContent =
    "Masked updates: their values are hidden from everyone, so no weight share, norm or cosine can be given.";
  const phase = secure.phases.find((p) => p.current);
  fc.text("secure-phase", `Phase: ${phase ? phase.name : secure.phase}; threshold t = ${secure.threshold}; ` +
          `${secure.joined} joined, ${secure.shared} posted shares, ${secure.submitted} submitted, ` +
          `${secure.excluded} excluded, ${secure.revealed} revealed`);
  fc.phaseTable("secure-phases", secure);
  const count = (value) => (value === null || value === undefined ? "—" : value);
  fc.fillTable("participants", secure.participants, (row, p) => {
    row.dataset.address = p.address;
    fc.cell(row, p.index);
    fc.cell(row, fc.addressLink(p.address));
    fc.cell(row, p.status, `status ${p.status === "dropped" || p.status.startsWith("excluded") ? "bad" : ""}`);
    fc.cell(row, p.shares_cid, "mono");  // share bundles and reveals are JSON files, not models
    fc.cell(row, fc.cidLink(p.update_cid), "update-cid");
    fc.cell(row, count(p.samples));
    fc.cell(row, count(p.self_shares_revealed), "self-shares");
    fc.cell(row, count(p.key_shares_revealed), "key-shares");
  }, "nobody joined yet");
  fc.fillTable("reveals", secure.reveals, (row, r) => {
    fc.cell(row, fc.addressLink(r.revealer));
    fc.cell(row, r.cid, "mono");
    fc.cell(row, count(r.self_shares));
    fc.cell(row, count(r.key_shares));
  }, "no reveal yet");
  fc.fillTable("recoveries", secure.recoveries, (row, r) => {
    fc.cell(row, fc.addressLink(r.address));
    fc.cell(row, r.why, r.why.startsWith("excluded") ? "bad" : "");
    fc.cell(row, r.key_shares);
    fc.cell(row, r.threshold);
    fc.cell(row, r.recovered ? "yes: recovered" : "not yet", r.recovered ? "ok" : "bad");
  }, "no participant dropped");
  fc.text("reveal-problems", secure.reveal_problems.join("; "));
}

async function modelPage() {
  const m = await fc.api(`/api/models/${main.dataset.cid}`);
  fc.text("kind", m.kind);
  fc.text("architecture", m.architecture);
  fc.text("task", fc.taskPin(m.task));
  fc.put("round", m.round ? fc.roundLink(m.round) : "— (initial model)");
  fc.text("samples", m.samples);
  fc.put("base", fc.cidLink(m.base_cid));
  fc.text("encoding", m.encoding);
  fc.text("size", `${m.size.toLocaleString()} bytes`);
  fc.text("parameters", m.parameters.toLocaleString());
  fc.fillTable("tensors", m.tensors, (row, t) => {
    fc.cell(row, t.name, "mono");
    fc.cell(row, `[${t.shape.join(", ")}]`, "mono shape");
    fc.cell(row, t.dtype);
    fc.cell(row, number(t.norm), "norm");
  }, "no tensors");
  const sections = Object.entries(m.sections);
  fc.text("sections", sections.length ? "Sections: " + sections.map(([name, ts]) => `${name} (${ts.length} tensors)`).join(", ") : "");
  fc.fillTable("extra", Object.entries(m.extra), (row, [key, value]) => {
    fc.cell(row, key, "mono");
    fc.cell(row, `${value}`, "mono");
  }, "no metadata");
  return true;
}

function valueCell(value) {
  if (typeof value === "string" && /^Qm[1-9A-HJ-NP-Za-km-z]{44}$/.test(value)) return fc.cidLink(value);
  if (typeof value === "string" && /^0x[0-9a-fA-F]{40}$/.test(value)) return fc.addressLink(value);
  return typeof value === "object" ? JSON.stringify(value) : `${value}`;
}

async function txPage() {
  const t = await fc.api(`/api/tx/${main.dataset.hash}`);
  fc.text("status", t.status);
  document.getElementById("status").className = t.status === "success" ? "ok" : "bad";
  fc.text("call", t.call ? t.call.signature
                         : t.contract_created ? `deployment of ${t.contract_created}` : "not a call of this contract");
  fc.put("round", t.call ? fc.roundLink(t.call.round) : "—");
  fc.put("from", fc.addressLink(t.from));
  // the contract's own page is the service's dashboard
  fc.put("to", t.call ? fc.link("/", t.call.contract, "mono address") : t.to ?? "—");
  fc.text("block", t.block);
  fc.text("time", fc.time(t.time));
  fc.text("gas", t.gas_used.toLocaleString());
  fc.text("gas-price", `${(t.gas_price_wei / 1e9).toLocaleString()} gwei`);
  fc.text("fee", `${t.fee_ether.toPrecision(4)} ETH`);
  fc.fillTable("args", t.call ? t.call.args : [], (row, arg) => {  // in the ABI's order
    fc.cell(row, arg.name, "mono");
    fc.cell(row, arg.type, "mono");
    fc.cell(row, arg.name === "roundId" ? fc.roundLink(arg.value) : valueCell(arg.value), "mono");
  }, "no arguments");
  fc.fillTable("events", t.events, (row, e) => {
    fc.cell(row, e.event, "event");
    const fields = fc.cell(row, "", "mono");
    for (const [name, value] of Object.entries(e.args)) {
      const line = document.createElement("div");
      line.append(`${name}: `, valueCell(value));
      fields.append(line);
    }
  }, "no events");
  return true;
}

async function clientPage() {
  const c = await fc.api(`/api/clients/${main.dataset.address}`);
  fc.text("address", c.address);
  fc.text("status", c.status);
  fc.text("client-id", c.client_id || "—");
  fc.put("last-round", c.last_round ? fc.roundLink(c.last_round) : "—");
  fc.text("counts", `${c.submissions.length} submitted, ${c.accepted} accepted, ${c.rejected} rejected`);
  fc.text("samples", c.samples);
  fc.fillTable("submissions", c.submissions.slice().reverse(), (row, s) => {
    row.dataset.round = s.round;
    fc.cell(row, fc.roundLink(s.round));
    fc.cell(row, fc.cidLink(s.cid), "update-cid");
    submissionCells(row, s);
    fc.cell(row, fc.txLink(s.tx));
  }, "this address has not submitted an update");
  return false;
}

const pages = {round: roundPage, model: modelPage, tx: txPage, client: clientPage};
fc.bindForms();
document.getElementById("verify-form")?.addEventListener("answered", (event) => {
  const verification = event.detail.verification;
  const box = document.getElementById("verification");
  box.textContent = `${verification.ok ? "✔ verified" : "✘ not verified"}: ${verification.message}`;
  box.className = verification.ok ? "ok" : "bad";
});

// Pages of things that can still change poll; a finished round, a model or a transaction is read once.
let finished = false;
fc.poll(async () => {
  if (finished) return;
  const status = await fc.api("/api/status");
  fc.showProblems(status);
  finished = await pages[main.dataset.page]();
}, 3000);
