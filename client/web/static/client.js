"use strict";
// A client's page: status every 1.5 s (training progress included); its history when it grows.
let historyKey = null;

function showStatus(status) {
  fc.showProblems(status);
  fc.put("account", fc.addressLink(status.account));
  fc.text("heading-account", status.account);
  document.getElementById("public-page").href = `/clients/${status.account}`;
  fc.text("chain-name", status.chain ? `${status.chain.name} (block ${status.chain.block})`
                                     : status.stale && `last seen at block ${status.last_block}`);
  fc.text("contract-address", status.contract ? status.contract.address
    : status.chain ? "no contract deployed yet: waiting for the organization" : "unknown while the chain does not answer");
  const registration = status.registration;
  fc.text("registration", registration && (registration.status === "registered"
    ? `registered as client #${registration.client_id}` : registration.status));
  const live = !!status.chain && !!status.contract && !status.stale;
  fc.enable({register: [live && !!registration && registration.status !== "registered",
                        registration && registration.status === "registered" ? "already registered"
                                                                              : "no contract deployed yet"]});
  document.getElementById("auto").checked = status.auto;
  const round = status.round;
  document.getElementById("round-none").hidden = !!round;
  document.getElementById("round-info").hidden = !round;
  if (round) {
    fc.roundSummary(round, "the organization aggregates it if the quorum was reached, or aborts it");
    fc.text("round-state", round.secure ? `${round.state}, secure: this client ${round.participant === "none"
      ? "has not joined" : `is ${round.participant}`}` : round.submitted ? `${round.state} (this client submitted)`
      : round.state);
    fc.text("round-next", round.next ? `${round.next.act}${round.next.reason ? `: ${round.next.reason}` : ""}` : "—");
  }
  document.getElementById("train").textContent = round && round.secure ? "Take the next step" : "Train and submit";
  const job = status.job;
  const running = job && job.state === "running";
  fc.enable({train: [live && !running && !!round && round.can_train,
                     running ? "training is running" : "no open round waits for this client's update"]});
  document.getElementById("job-bar").hidden = !running;
  document.getElementById("job-bar").className = running ? "progress busy" : "progress";
  fc.text("job", job ? `${job.name}: ${job.state} (${job.seconds} s) — ${job.message}` : "idle");
  document.getElementById("job").className = job && job.state === "failed" ? "bad" : "";
  return `${registration && registration.last_round}:${job && job.state}`;
}

function showHistory(entries) {
  fc.fillTable("history", entries.slice().reverse(), (row, e) => {
    row.dataset.round = e.round;
    fc.cell(row, fc.roundLink(e.round));
    fc.cell(row, fc.cidLink(e.base_cid));
    fc.cell(row, fc.cidLink(e.update_cid), "update-cid");
    fc.cell(row, e.samples);
    fc.cell(row, `${fc.percent(e.local_accuracy_before)} → ${fc.percent(e.local_accuracy_after)}`);
    fc.cell(row, e.train_loss.toFixed(4));
    fc.cell(row, e.gas_used);
    fc.cell(row, fc.txLink(e.tx_hash));
  }, "this client has not joined a round yet");
}

async function refresh() {
  const key = showStatus(await fc.api("/api/status"));
  if (key !== historyKey) {
    showHistory((await fc.api("/api/history")).history);
    await showData();
    historyKey = key;
  }
}

async function showData() {
  const data = await fc.api("/api/data");
  const classes = data.classes === undefined ? "" : `, ${data.classes} classes`;
  fc.text("data-description", `${data.examples} examples${classes}: ${data.description}`);
  const chart = document.getElementById("histogram");
  chart.hidden = !Array.isArray(data.per_class);
  if (!chart.hidden) fc.barChart(chart, data.per_class, data.per_class.map((_, label) => `${label}`));
  fc.text("data-version", data.version);
  fc.text("consolidate-pending", data.consolidate_requested ? "(consolidation requested for the next round)" : "");
  fc.fillTable("consolidations", data.consolidations.slice().reverse(), (row, c) => {
    fc.cell(row, c.round);
    fc.cell(row, c.data_version);
    fc.cell(row, c.samples);
    fc.cell(row, new Date(c.time * 1000).toLocaleString());
  }, "no consolidation yet");
  fc.fillTable("versions", data.versions.slice().reverse(), (row, v) => {
    fc.cell(row, v.version);
    fc.cell(row, v.rounds);
    fc.cell(row, v.last_round);
    fc.cell(row, fc.percent(v.local_accuracy));
  }, "no round yet");
}

fc.bindForms(async () => { historyKey = null; await refresh(); });
showData().catch((error) => fc.flash(error.message, "error"));
fc.poll(refresh, 1500);
