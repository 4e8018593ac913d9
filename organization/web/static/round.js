"use strict";
// One round: its submissions with the service's decisions, refreshed until the round is closed.
const roundId = document.getElementById("round-summary").dataset.round;

async function refresh() {
  const r = await fc.api(`/api/rounds/${roundId}`);
  fc.text("state", r.state);
  fc.text("base-cid", r.base_cid);
  fc.text("result-cid", r.result_cid);
  const params = r.strategy ? Object.entries(r.strategy.params).map(([k, v]) => `${k}=${v}`).join(", ") : "";
  fc.text("strategy", r.strategy && (params ? `${r.strategy.name} (${params})` : r.strategy.name));
  fc.text("accuracy", fc.percent(r.accuracy));
  fc.text("quorum", r.quorum);
  fc.text("blocks", `opened ${r.opened_block}, deadline ${r.deadline_block}, closed ${r.closed_block ?? "—"}`);
  fc.text("open-tx", r.open_tx);
  fc.text("close-tx", r.close_tx);
  fc.fillTable("submissions", r.submissions, (row, s) => {
    row.dataset.index = s.index;
    fc.cell(row, s.index);
    fc.cell(row, s.client, "mono");
    fc.cell(row, s.cid, "mono");
    fc.cell(row, s.samples);
    const decision = s.accepted === null ? "pending" : s.accepted ? "accepted" : `rejected: ${s.reason ?? "—"}`;
    fc.cell(row, decision, `decision ${s.accepted === null ? "muted" : s.accepted ? "ok" : "bad"}`);
    fc.cell(row, s.gas);
    fc.cell(row, s.tx, "mono");
  }, "no submission yet");
}

document.getElementById("verify-form").addEventListener("answered", (event) => {
  const verification = event.detail.verification;
  const box = document.getElementById("verification");
  box.textContent = `${verification.ok ? "✔ verified" : "✘ not verified"}: ${verification.message}`;
  box.className = verification.ok ? "ok" : "bad";
});

fc.bindForms();
fc.poll(async () => {
  fc.banner((await fc.api("/api/status")).problems);
  await refresh();
}, 3000);
