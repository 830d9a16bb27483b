#include "ledger/sandbox/sandbox_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "ledger/daml_json.h"

namespace sc::ledger::sandbox {
namespace {

Error ioError(const std::string& what, const std::string& path) {
  return Error::transient("ledger_unavailable", what + " " + path + ": " + std::strerror(errno));
}

Json completionJson(const CompletionRecord& c) {
  return Json{{"offset", c.offset},
              {"commandId", c.command_id},
              {"userId", c.user_id},
              {"submissionId", c.submission_id},
              {"updateId", c.update_id},
              {"actAs", c.act_as},
              {"synchronizerId", c.synchronizer_id},
              {"recordTime", c.record_time}};
}

CompletionRecord completionFromJson(const Json& j) {
  CompletionRecord c;
  c.offset = j.value("offset", int64_t{0});
  c.command_id = j.value("commandId", "");
  c.user_id = j.value("userId", "");
  c.submission_id = j.value("submissionId", "");
  c.update_id = j.value("updateId", "");
  c.act_as = j.value("actAs", std::vector<std::string>{});
  c.synchronizer_id = j.value("synchronizerId", "");
  c.record_time = j.value("recordTime", "");
  return c;
}

}  // namespace

Json toJson(const User& u) {
  return Json{{"id", u.id},
              {"primaryParty", u.primary_party},
              {"deactivated", u.deactivated},
              {"actAs", u.act_as},
              {"readAs", u.read_as},
              {"participantAdmin", u.participant_admin},
              {"readAsAnyParty", u.read_as_any_party}};
}

User userFromJson(const Json& j) {
  User u;
  u.id = j.value("id", "");
  u.primary_party = j.value("primaryParty", "");
  u.deactivated = j.value("deactivated", false);
  u.act_as = j.value("actAs", std::set<std::string>{});
  u.read_as = j.value("readAs", std::set<std::string>{});
  u.participant_admin = j.value("participantAdmin", false);
  u.read_as_any_party = j.value("readAsAnyParty", false);
  return u;
}

Result<void> SandboxStore::open(const std::string& dir) {
  if (dir.empty()) return {};
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  path_ = (std::filesystem::path(dir) / "sandbox.jsonl").string();
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      Json rec = Json::parse(line, nullptr, false);
      if (rec.is_discarded()) {
        if (in.peek() == EOF) break;  // a torn final line: the write never completed
        return Error::permanent("invalid_command",
                                "sandbox store " + path_ + " is corrupt before its last line");
      }
      apply(std::move(rec));
    }
  }
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ioError("cannot open", path_);
  return {};
}

Result<void> SandboxStore::append(Json record) {
  if (fd_ < 0) {
    apply(std::move(record));
    return {};
  }
  // Written at once (a killed process loses nothing it wrote), made durable by sync().
  std::string line = record.dump() + "\n";
  apply(std::move(record));
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto e = ioError("cannot write", path_);
      std::lock_guard l(sync_mu_);
      if (sync_error_.empty()) sync_error_ = e.message;
      return e;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  ++version_;
  return {};
}

Result<void> SandboxStore::sync(uint64_t upto) {
  if (synced_.load() >= upto) return {};
  std::lock_guard l(sync_mu_);
  if (!sync_error_.empty()) return Error::transient("ledger_unavailable", sync_error_);
  if (synced_.load() >= upto) return {};  // another request's sync covered it
  const uint64_t version = version_.load();
  auto fail = [&](std::string what) -> Result<void> {
    sync_error_ = std::move(what);
    return Error::transient("ledger_unavailable", sync_error_);
  };
  if (fd_ >= 0 && fail_syncs_left_.load() > 0 && fail_syncs_left_.fetch_sub(1) > 0)
    return fail("cannot sync " + path_ + ": " + std::strerror(EIO) + " (injected)");
  if (fd_ >= 0 && ::fdatasync(fd_) != 0)
    return fail("cannot sync " + path_ + ": " + std::strerror(errno));
  synced_.store(version);
  return {};
}

std::optional<std::string> SandboxStore::failure() {
  std::lock_guard l(sync_mu_);
  if (sync_error_.empty()) return std::nullopt;
  return sync_error_;
}

const CompletionRecord* SandboxStore::completionOf(const std::string& command_id) const {
  auto it = completion_by_command_.find(command_id);
  return it == completion_by_command_.end() ? nullptr : &completions_[it->second];
}

void SandboxStore::apply(Json rec) {
  const std::string t = rec.value("t", "");
  if (t == "user") {
    User u = userFromJson(rec["user"]);
    users_[u.id] = u;
  } else if (t == "user_removed") {
    users_.erase(rec.value("id", ""));
  } else if (t == "asset") {
    asset_cash_[rec.value("asset", "")] = rec.value("cash", false);
  } else if (t == "update") {
    const std::string id = rec.value("updateId", "");
    const Json& update = rec["update"];
    if (rec.contains("completion") && rec["completion"].is_object()) {
      completions_.push_back(completionFromJson(rec["completion"]));
      completion_by_command_[completions_.back().command_id] = completions_.size() - 1;
      last_offset_ = std::max(last_offset_, completions_.back().offset);
    }
    if (update.contains("Transaction")) {
      const Json& tx = update["Transaction"]["value"];
      last_offset_ = std::max(last_offset_, tx.value("offset", int64_t{0}));
      for (const auto& ev : tx["events"]) {
        if (ev.contains("CreatedEvent")) {
          const std::string cid = ev["CreatedEvent"]["contractId"].get<std::string>();
          auto& c = contracts_[cid];
          c.created = ev["CreatedEvent"].dump();
          c.offset = ev["CreatedEvent"].value("offset", int64_t{0});
          c.created_at = ev["CreatedEvent"].value("createdAt", "");
          c.synchronizer_id = tx.value("synchronizerId", "");
          const std::string tid = ev["CreatedEvent"].value("templateId", "");
          auto t = daml::parseTemplateId(tid);
          if (t && (*t == daml::Template::kSettledDeliveryVsPayment ||
                    *t == daml::Template::kRoundFence)) {
            sandbox_contracts_.push_back(cid);
          }
        } else if (ev.contains("ArchivedEvent")) {
          contracts_[ev["ArchivedEvent"]["contractId"].get<std::string>()].archived =
              ev["ArchivedEvent"].dump();
        }
      }
    } else if (update.contains("Reassignment")) {
      const Json& r = update["Reassignment"]["value"];
      last_offset_ = std::max(last_offset_, r.value("offset", int64_t{0}));
      for (const auto& ev : r["events"]) {
        if (ev.contains("JsAssignmentEvent")) {
          const Json& a = ev["JsAssignmentEvent"];
          auto& c = contracts_[a["createdEvent"]["contractId"].get<std::string>()];
          c.synchronizer_id = a.value("target", "");
        }
      }
    }
    // Kept serialized: a tree of every transaction would cost many times the memory.
    updates_[id] = update.dump();
  }
}

Result<void> SandboxStore::putUser(const User& u) {
  return append(Json{{"t", "user"}, {"user", toJson(u)}});
}
Result<void> SandboxStore::removeUser(const std::string& id) {
  return append(Json{{"t", "user_removed"}, {"id", id}});
}

std::optional<bool> SandboxStore::assetIsCash(const std::string& asset) const {
  auto it = asset_cash_.find(asset);
  if (it == asset_cash_.end()) return std::nullopt;
  return it->second;
}
Result<void> SandboxStore::putAssetKind(const std::string& asset, bool cash) {
  if (auto k = assetIsCash(asset); k && *k == cash) return {};
  return append(Json{{"t", "asset"}, {"asset", asset}, {"cash", cash}});
}

Result<void> SandboxStore::putUpdate(const std::string& update_id, Json update,
                                     const std::optional<CompletionRecord>& completion) {
  Json rec{{"t", "update"}, {"updateId", update_id}};
  rec["update"] = std::move(update);
  if (completion) rec["completion"] = completionJson(*completion);
  return append(std::move(rec));
}

const std::string* SandboxStore::update(const std::string& update_id) const {
  auto it = updates_.find(update_id);
  return it == updates_.end() ? nullptr : &it->second;
}

const SandboxStore::ContractEvents* SandboxStore::contractEvents(const std::string& cid) const {
  auto it = contracts_.find(cid);
  return it == contracts_.end() ? nullptr : &it->second;
}

}  // namespace sc::ledger::sandbox
