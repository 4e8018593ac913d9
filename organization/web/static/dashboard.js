"use strict";
// The organization's dashboard: status every 2 s; history and clients when the chain's rounds change.
let historyKey = null;

function showStatus(status) {
  fc.banner(status.problems);
  fc.text("account", status.account);
  fc.text("chain-name", status.chain && `${status.chain.name} (chain id ${status.chain.chain_id})`);
  fc.text("chain-block", status.chain && status.chain.block);
  const contract = status.contract;
  fc.text("contract-address", contract ? contract.address : "not deployed: use “Deploy contract”");
  fc.text("registration", contract && `${contract.registration_open ? "open" : "allow-list"}, ` +
          `${contract.clients} client(s), ${contract.rounds} round(s)`);
  fc.text("initial-model", status.initial_model_cid);
  document.getElementById("auto").checked = status.auto;
  const round = status.round;
  document.getElementById("round-none").hidden = !!round;
  document.getElementById("round-open").hidden = !round;
  if (round) {
    fc.roundSummary(round);
    document.getElementById("round-progress").style.width =
      `${Math.min(100, (100 * round.submissions) / round.quorum)}%`;
  }
  const job = status.job;
  fc.text("job", job && `${job.name}: ${job.state} after ${job.seconds} s — ${job.message}`);
  document.getElementById("job").className = job && job.state === "failed" ? "bad" : "";
}

function shortTx(hash) {
  return hash ? `${hash.slice(0, 10)}…` : "—";
}

function showHistory(rounds) {
  fc.fillTable("history", rounds, (row, r) => {
    row.dataset.round = r.round;
    fc.cell(row, fc.link(`/rounds/${r.round}`, `${r.round}`));
    fc.cell(row, r.state, `state ${r.state === "finalized" ? "ok" : r.state === "aborted" ? "bad" : ""}`);
    fc.cell(row, r.base_cid, "mono base-cid");
    fc.cell(row, r.result_cid, "mono result-cid");
    fc.cell(row, r.accepted, "accepted");
    fc.cell(row, r.rejected, "rejected");
    fc.cell(row, fc.percent(r.accuracy), "accuracy");
    fc.cell(row, `${r.gas.open} / ${r.gas.submissions} / ${r.gas.close ?? "—"}`);
    const txs = fc.cell(row, "", "mono");
    txs.title = `open ${r.open_tx}\nclose ${r.close_tx ?? "—"}`;
    txs.textContent = `${shortTx(r.open_tx)} ${shortTx(r.close_tx)}`;
  }, "no round yet");
  const points = rounds.filter((r) => r.state === "finalized" && r.accuracy !== null)
                       .map((r) => ({x: r.round, y: r.accuracy}));
  fc.lineChart(document.getElementById("accuracy-chart"), points);
}

function showClients(clients) {
  fc.fillTable("clients", clients, (row, c) => {
    fc.cell(row, c.client_id);
    fc.cell(row, c.address, "mono");
    fc.cell(row, c.status);
    fc.cell(row, c.last_round || "—");
    fc.cell(row, c.submissions);
    fc.cell(row, c.accepted);
  }, "no client registered yet");
}

async function refresh() {
  const status = await fc.api("/api/status");
  showStatus(status);
  if (status.history_key !== null && status.history_key !== historyKey) {
    const [history, clients] = await Promise.all([fc.api("/api/rounds"), fc.api("/api/clients")]);
    showHistory(history.rounds);
    showClients(clients.clients);
    historyKey = status.history_key;
  }
}

fc.bindForms(refresh);
fc.poll(refresh, 2000);
