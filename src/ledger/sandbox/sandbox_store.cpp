#include "ledger/sandbox/sandbox_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
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

// Writes all of `data`; false (errno set) on failure.
bool writeAll(int fd, const std::string& data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  return true;
}

// An update record's offset: its transaction's or reassignment's, or its completion's.
int64_t recordOffset(const Json& rec) {
  int64_t offset = 0;
  if (auto c = rec.find("completion"); c != rec.end() && c->is_object())
    offset = c->value("offset", int64_t{0});
  if (auto u = rec.find("update"); u != rec.end() && u->is_object()) {
    for (const char* kind : {"Transaction", "Reassignment"}) {
      if (auto k = u->find(kind); k != u->end() && k->contains("value"))
        offset = std::max(offset, (*k)["value"].value("offset", int64_t{0}));
    }
  }
  return offset;
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
  // A compaction that stopped before its rename: the file it was writing is incomplete.
  std::filesystem::remove(path_ + ".compact", ec);
  uintmax_t good = 0;  // the end of the last complete record
  bool torn = false;
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      const bool ended = !in.eof();  // the line had its newline
      Json rec = line.empty() ? Json() : Json::parse(line, nullptr, false);
      if (rec.is_discarded() || !ended) {
        if (in.peek() == EOF) {  // a torn final line: the write never completed
          torn = true;
          break;
        }
        return Error::permanent("invalid_command",
                                "sandbox store " + path_ + " is corrupt before its last line");
      }
      good += line.size() + 1;
      if (!line.empty()) apply(std::move(rec));
    }
  }
  // Cut the torn line, or the next record would be appended to it and the file would be corrupt
  // before its last line from then on.
  if (torn && ::truncate(path_.c_str(), static_cast<off_t>(good)) != 0)
    return ioError("cannot cut the torn last line of", path_);
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ioError("cannot open", path_);
  return {};
}

Result<void> SandboxStore::append(Json record) {
  auto written = write(record);
  apply(std::move(record));
  return written;
}

// Written at once (a killed process loses nothing it wrote), made durable by sync().
Result<void> SandboxStore::write(const Json& record) {
  if (fd_ < 0) return {};
  if (!writeAll(fd_, record.dump() + "\n")) {
    auto e = ioError("cannot write", path_);
    std::lock_guard l(sync_mu_);
    if (sync_error_.empty()) sync_error_ = e.message;
    return e;
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
  return it == completion_by_command_.end() ? nullptr : &completions_[it->second - first_pos_];
}

void SandboxStore::noteCreated(const std::string& cid, const Json& created,
                               const std::string& synchronizer) {
  auto& c = contracts_[cid];
  c.created = created.dump();
  c.offset = created.value("offset", int64_t{0});
  c.created_at = created.value("createdAt", "");
  c.synchronizer_id = synchronizer;
  c.seq = ++created_seq_;
  auto t = daml::parseTemplateId(created.value("templateId", ""));
  if (t && (*t == daml::Template::kSettledDeliveryVsPayment || *t == daml::Template::kRoundFence))
    sandbox_contracts_.push_back(cid);
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
  } else if (t == "prune") {
    PruneResult ignored;
    dropUpTo(rec.value("upTo", int64_t{0}), ignored);
  } else if (t == "contract") {
    // An active contract whose creating update was pruned (written by a compaction).
    noteCreated(rec.value("contractId", ""), rec["created"], rec.value("synchronizerId", ""));
  } else if (t == "update") {
    const std::string id = rec.value("updateId", "");
    const Json& update = rec["update"];
    if (rec.contains("completion") && rec["completion"].is_object()) {
      completions_.push_back(completionFromJson(rec["completion"]));
      completion_by_command_[completions_.back().command_id] = first_pos_ + completions_.size() - 1;
    }
    const int64_t offset = recordOffset(rec);
    last_offset_ = std::max(last_offset_, offset);
    if (update.contains("Transaction")) {
      const Json& tx = update["Transaction"]["value"];
      for (const auto& ev : tx["events"]) {
        if (ev.contains("CreatedEvent")) {
          noteCreated(ev["CreatedEvent"]["contractId"].get<std::string>(), ev["CreatedEvent"],
                      tx.value("synchronizerId", ""));
        } else if (ev.contains("ArchivedEvent")) {
          const std::string cid = ev["ArchivedEvent"]["contractId"].get<std::string>();
          contracts_[cid].archived = ev["ArchivedEvent"].dump();
          archived_order_.emplace_back(offset, cid);
        }
      }
    } else if (update.contains("Reassignment")) {
      for (const auto& ev : update["Reassignment"]["value"]["events"]) {
        if (ev.contains("JsAssignmentEvent")) {
          const Json& a = ev["JsAssignmentEvent"];
          auto& c = contracts_[a["createdEvent"]["contractId"].get<std::string>()];
          c.synchronizer_id = a.value("target", "");
        }
      }
    }
    if (update.is_object()) {
      // Kept serialized: a tree of every transaction would cost many times the memory.
      updates_[id] = update.dump();
      update_order_.emplace_back(offset, id);
    }
  }
}

// What a participant pruned up to `upto` no longer serves. Each is safe to drop because:
// - a completion at or below it: a submission whose deduplication period starts below the
//   pruned offset is refused (INVALID_DEDUPLICATION_PERIOD) before it is looked for, one that
//   starts at or after it counts only completions after its start, and a completions read that
//   begins below it is refused (PARTICIPANT_PRUNED_DATA_ACCESSED);
// - an update at or below it: update-by-id answers UPDATE_NOT_FOUND, as a participant answers
//   for pruned updates, and an updates read that begins below it is refused;
// - the events of a contract archived at or below it: nothing can use the contract any more;
//   events-by-contract-id answers CONTRACT_EVENTS_NOT_FOUND. Active contracts are all kept.
void SandboxStore::dropUpTo(int64_t upto, PruneResult& dropped) {
  if (upto <= pruned_up_to_) return;
  pruned_up_to_ = upto;
  // A compacted file may keep no update at all: the offsets up to the pruning were all rendered
  // (dropUnrenderedTail compares the engine's journal with this).
  last_offset_ = std::max(last_offset_, upto);
  while (!completions_.empty() && completions_.front().offset <= upto) {
    auto it = completion_by_command_.find(completions_.front().command_id);
    if (it != completion_by_command_.end() && it->second == first_pos_)
      completion_by_command_.erase(it);
    completions_.pop_front();
    ++first_pos_;
    ++dropped.completions;
  }
  while (!update_order_.empty() && update_order_.front().first <= upto) {
    dropped.updates += updates_.erase(update_order_.front().second);
    update_order_.pop_front();
  }
  while (!archived_order_.empty() && archived_order_.front().first <= upto) {
    dropped.contracts += contracts_.erase(archived_order_.front().second);
    archived_order_.pop_front();
  }
}

Result<SandboxStore::PruneResult> SandboxStore::prune(int64_t upto) {
  PruneResult dropped;
  if (upto > pruned_up_to_) {
    dropUpTo(upto, dropped);
    if (auto r = write(Json{{"t", "prune"}, {"upTo", upto}}); !r) return r.error();
  } else if (!compaction_due_) {
    return dropped;
  }
  compaction_due_ = true;
  if (auto r = compact(); !r) return r.error();
  compaction_due_ = false;
  return dropped;
}

Result<void> SandboxStore::compact() {
  if (fd_ < 0) return {};
  std::lock_guard l(sync_mu_);
  if (!sync_error_.empty()) return Error::transient("ledger_unavailable", sync_error_);
  const std::string tmp = path_ + ".compact";
  const int out = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return ioError("cannot create", tmp);
  // Before the rename a failure leaves the old file, and the prune record in it, standing.
  auto abandon = [&](const std::string& what, const std::string& path) -> Result<void> {
    auto e = ioError(what, path);
    ::close(out);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return e;
  };
  std::string buf;
  auto flush = [&](bool all) {
    if (buf.size() < (size_t{1} << 20) && !all) return true;
    const bool ok = writeAll(out, buf);
    buf.clear();
    return ok;
  };
  // The pruning first, then each user as it is now (one record each: a user is rewritten whole
  // at every grant, one per party allocated), then the active contracts whose creating update it
  // dropped (in creation order, the order of sandboxContracts()), then every other record still
  // kept, in its order.
  buf += Json{{"t", "prune"}, {"upTo", pruned_up_to_}}.dump() + "\n";
  for (const auto& [id, u] : users_) buf += Json{{"t", "user"}, {"user", toJson(u)}}.dump() + "\n";
  std::vector<std::pair<uint64_t, std::string>> older;
  for (const auto& [cid, c] : contracts_)
    if (!c.created.empty() && c.offset <= pruned_up_to_) older.emplace_back(c.seq, cid);
  std::sort(older.begin(), older.end());
  for (const auto& [seq, cid] : older) {
    const ContractEvents& c = contracts_.at(cid);
    Json rec{{"t", "contract"}, {"contractId", cid}, {"synchronizerId", c.synchronizer_id}};
    rec["created"] = Json::parse(c.created);
    buf += rec.dump() + "\n";
    if (!flush(false)) return abandon("cannot write", tmp);
  }
  {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      Json rec = Json::parse(line, nullptr, false);
      if (rec.is_discarded()) continue;  // open() cut a torn line; nothing else is torn
      const std::string t = rec.value("t", "");
      // Written above, as they now are.
      if (t == "prune" || t == "contract" || t == "user" || t == "user_removed") continue;
      if (t == "update" && recordOffset(rec) <= pruned_up_to_) continue;
      buf += line;
      buf += '\n';
      if (!flush(false)) return abandon("cannot write", tmp);
    }
    if (in.bad()) return abandon("cannot read", path_);
  }
  if (!flush(true)) return abandon("cannot write", tmp);
  if (::fdatasync(out) != 0) return abandon("cannot sync", tmp);
  ::close(out);
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    auto e = ioError("cannot rename " + tmp + " over", path_);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    return e;
  }
  // Renamed: from here a failure leaves a file that may not survive a crash, or no way to
  // append to it; every later sync fails, as after a failed fdatasync.
  auto fail = [&](const std::string& what, const std::string& path) -> Result<void> {
    auto e = ioError(what, path);
    sync_error_ = e.message;
    return e;
  };
  const std::string dir = std::filesystem::path(path_).parent_path().string();
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return fail("cannot open", dir);
  const bool dir_synced = ::fsync(dfd) == 0;
  ::close(dfd);
  if (!dir_synced) return fail("cannot sync", dir);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return fail("cannot open", path_);
  ::close(fd_);
  fd_ = fd;
  synced_.store(version_.load());  // every record written so far is in the synced file
  return {};
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
