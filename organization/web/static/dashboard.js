"use strict";
// The organization's dashboard: status every 2 s; history and clients when the chain's rounds change.
let historyKey = null;

function showStatus(status) {
  fc.showProblems(status);
  fc.put("account", fc.addressLink(status.account));
  fc.text("chain-name", status.chain && `${status.chain.name} (chain id ${status.chain.chain_id})`);
  fc.text("chain-block", status.chain ? status.chain.block : status.stale && `last seen ${status.last_block}`);
  const contract = status.contract;
  const chainUp = !!status.chain;
  fc.text("contract-address", contract ? contract.address
    : chainUp ? "not deployed: use “Deploy contract”" : "unknown while the chain does not answer");
  fc.text("registration", contract && `${contract.registration_open ? "open" : "allow-list"}, ` +
          `${contract.clients} client(s), ${contract.rounds} round(s)`);
  fc.text("task", fc.taskPin(status.task));
  fc.put("initial-model", fc.cidLink(status.initial_model_cid));
  document.getElementById("auto").checked = status.auto;
  const round = status.round;
  document.getElementById("round-none").hidden = !!round;
  document.getElementById("round-open").hidden = !round;
  if (round) {
    fc.roundSummary(round, round.submissions >= round.quorum ? "aggregate it, or abort it (Abort round below)"
                                                             : "abort it (Abort round below)");
    document.getElementById("round-progress").style.width =
      `${Math.min(100, (100 * round.submissions) / round.quorum)}%`;
    fc.text("round-next", round.next && `${round.next.act}${round.next.reason ? `: ${round.next.reason}` : ""}`);
  }
  const closable = !!round && (round.secure ? !!round.next && round.next.act === "close"
                                            : round.submissions >= round.quorum);
  const job = status.job;
  const busy = !!job && job.state === "running";
  fc.text("job", job && `${job.name}: ${job.state} after ${job.seconds} s — ${job.message}`);
  document.getElementById("job").className = job && job.state === "failed" ? "bad" : "";
  const live = chainUp && !!contract && !status.stale;
  const noContract = "deploy the contract first";
  fc.enable({
    "deploy": [chainUp && !contract, contract ? "the contract is deployed" : "the chain does not answer"],
    "publish-initial": [live && !busy, noContract],
    "open-round": [live && !round && !busy, round ? `round ${round.round} is open` : noContract],
    "open-secure-round": [live && !round && !busy, round ? `round ${round.round} is open` : noContract],
    "aggregate": [live && closable && !busy,
                  round ? (round.secure ? "wait for the reveals" : "wait for the quorum") : "no round is open"],
    "abort": [live && !!round && !busy, "no round is open"],
    "registration-toggle": [live, noContract],
    "allow-client": [live, noContract],
    "remove-client": [live, noContract],
  });
  if (contract) {
    document.getElementById("registration-target").value = contract.registration_open ? "false" : "true";
    document.getElementById("registration-toggle").textContent =
      contract.registration_open ? "Switch to allow-list" : "Open registration to anyone";
  }
}

function showHistory(rounds) {
  fc.fillTable("history", rounds.slice().reverse(), (row, r) => {
    row.dataset.round = r.round;
    fc.cell(row, fc.roundLink(r.round));
    const kind = r.secure ? " (secure)" : "";
    const reason = r.abort_reason ? `: ${r.abort_reason}` : "";
    fc.cell(row, `${r.state}${kind}${reason}`, `state ${r.state === "finalized" ? "ok" : r.state === "aborted" ? "bad" : ""}`);
    fc.cell(row, fc.time(r.opened_at), "time");
    fc.cell(row, fc.cidLink(r.base_cid), "base-cid");
    fc.cell(row, fc.cidLink(r.result_cid), "result-cid");
    fc.cell(row, r.accepted, "accepted");
    fc.cell(row, r.rejected, "rejected");
    fc.cell(row, fc.percent(r.accuracy), "accuracy");
    fc.cell(row, r.loss === null || r.loss === undefined ? "—" : r.loss.toFixed(4), "loss");
    fc.cell(row, `${r.gas.open} / ${r.gas.submissions} / ${r.gas.close ?? "—"}`);
    const txs = fc.cell(row, "", "txs");
    txs.append(fc.txLink(r.open_tx));
    if (r.close_tx) txs.append(document.createElement("br"), fc.txLink(r.close_tx));
  }, "no round yet");
  const series = (field) => rounds.map((r) => ({round: r.round, state: r.state, value: r[field]}));
  fc.roundChart(document.getElementById("accuracy-chart"), series("accuracy"), fc.percent, "no round yet");
  fc.roundChart(document.getElementById("loss-chart"), series("loss"), (v) => v.toFixed(3), "no round yet");
}

function showClients(listing) {
  const shown = listing.clients.length;
  document.getElementById("clients-shown").textContent =
    listing.total > shown ? `the first ${shown} of ${listing.total}; the API pages through all (/api/clients?page=2)` : "";
  fc.fillTable("clients", listing.clients, (row, c) => {
    fc.cell(row, c.client_id);
    fc.cell(row, fc.addressLink(c.address));
    fc.cell(row, c.status);
    fc.cell(row, c.last_round ? fc.roundLink(c.last_round) : "—");
    fc.cell(row, c.submissions);
    fc.cell(row, c.accepted);
    fc.cell(row, c.rejected);
  }, "no client registered yet");
}

async function refresh() {
  const status = await fc.api("/api/status");
  showStatus(status);
  if (status.history_key !== null && status.history_key !== historyKey) {
    const [history, clients] = await Promise.all([fc.api("/api/rounds"), fc.api("/api/clients")]);
    showHistory(history.rounds);
    showClients(clients);
    historyKey = status.history_key;
  }
}

fc.bindForms(refresh);
fc.poll(refresh, 2000);
