#include "workflow/intake.h"

namespace sc::workflow {

Intake::Intake(store::SettlementRepository& repo, const Clock& clock, TradeRules rules,
               Duration deadline)
    : repo_(repo), clock_(clock), rules_(std::move(rules)), deadline_(deadline) {}

Result<std::vector<IntakeDecision>> Intake::submit(std::span<const std::string_view> raw_events) {
  metrics_.batch_size.observe(static_cast<double>(raw_events.size()));
  std::vector<IntakeDecision> decisions(raw_events.size());
  std::vector<Trade> valid;
  std::vector<size_t> valid_index;
  valid.reserve(raw_events.size());
  for (size_t i = 0; i < raw_events.size(); ++i) {
    auto trade = decodeTrade(raw_events[i], rules_);
    if (!trade) {
      decisions[i].kind = store::IntakeKind::kRejected;
      decisions[i].rejection = trade.error();
      decisions[i].trade_id = readableTradeId(raw_events[i]);  // names it in DLQ and rejections
      continue;
    }
    decisions[i].trade_id = trade->trade_id;
    valid_index.push_back(i);
    valid.push_back(std::move(*trade));
  }
  if (!valid.empty()) {
    auto outcomes = repo_.intake(valid, clock_.now(), deadline_);
    if (!outcomes) {
      metrics_.store_errors.inc();
      return outcomes.error();
    }
    for (size_t k = 0; k < outcomes->size(); ++k) {
      store::IntakeOutcome& o = (*outcomes)[k];
      IntakeDecision& d = decisions[valid_index[k]];
      d.kind = o.kind;
      d.rejection = std::move(o.rejection);
      if (o.kind != store::IntakeKind::kRejected || !o.settlement.id.isNil())
        d.settlement = std::move(o.settlement);
    }
  }
  int64_t created = 0;
  for (const auto& d : decisions) {
    if (d.kind == store::IntakeKind::kCreated) {
      metrics_.accepted.inc();
      ++created;
    } else if (d.kind == store::IntakeKind::kDuplicate) {
      metrics_.duplicates.inc();
    } else {
      metrics_.rejected.inc();
    }
  }
  if (created > 0 && throughput_) throughput_->accepted(clock_.now(), created);
  if (created > 0 && on_accepted_) on_accepted_();
  return decisions;
}

Result<IntakeDecision> Intake::submitOne(std::string_view raw_event) {
  auto r = submit(std::span<const std::string_view>(&raw_event, 1));
  if (!r) return r.error();
  return std::move((*r)[0]);
}

}  // namespace sc::workflow
