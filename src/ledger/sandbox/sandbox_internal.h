#pragma once
// Private to the sandbox's .cpp files: the caller of a request, a contract as the API renders it,
// and reply helpers.
#include <string>
#include <vector>

#include "ledger/sandbox/sandbox.h"

namespace sc::ledger::sandbox {

using daml::Json;

struct Sandbox::Caller {
  // The store's entry (not a copy: the app user can act as thousands of parties); valid while
  // the request holds the sandbox's lock.
  const User& user;
  bool canActAs(const std::string& party) const { return user.act_as.count(party) > 0; }
  bool canRead(const std::string& party) const {
    return user.read_as_any_party || canActAs(party) || user.read_as.count(party) > 0;
  }
};

struct Sandbox::Contract {
  std::string contract_id;
  daml::Template tmpl{};
  Json argument;
  std::vector<std::string> signatories, observers;
  std::string synchronizer;  // engine alias
  bool in_flight = false;
  std::string lock_dvp;  // locks: their DvP
  std::string owner;     // holdings and locks

  std::vector<std::string> stakeholders() const {
    std::vector<std::string> s = signatories;
    s.insert(s.end(), observers.begin(), observers.end());
    return s;
  }
};

inline HttpReply jsonReply(int status, const Json& body) {
  return HttpReply{status, body.dump(), false};
}
inline HttpReply errorReply(const daml::CantonError& e) {
  return HttpReply{e.httpStatus(), daml::render(e).dump(), false};
}
inline HttpReply errorReply(const char* code, daml::Category category, std::string cause) {
  return errorReply(daml::makeError(code, category, std::move(cause)));
}
inline HttpReply invalidArgument(std::string cause) {
  return errorReply(daml::kInvalidArgument, daml::Category::kInvalidIndependentOfSystemState,
                    std::move(cause));
}
inline HttpReply userNotFound(const std::string& id) {
  return errorReply(daml::kUserNotFound,
                    daml::Category::kInvalidGivenCurrentSystemStateResourceMissing,
                    "user '" + id + "' not found");
}
inline HttpReply permissionDenied(std::string cause) {
  return errorReply(daml::kPermissionDenied, daml::Category::kInsufficientPermission,
                    std::move(cause));
}

// PARTICIPANT_PRUNED_DATA_ACCESSED: a read (`what`) that begins below the pruned offset.
inline HttpReply prunedDataAccessed(const std::string& what, int64_t begin, int64_t pruned) {
  auto e = daml::makeError(daml::kParticipantPrunedDataAccessed,
                           daml::Category::kInvalidGivenCurrentSystemStateOther,
                           what + " request from " + std::to_string(begin) +
                               " precedes pruned offset " + std::to_string(pruned));
  e.context["earliest_offset"] = std::to_string(pruned);
  return errorReply(e);
}

// The CantonError a participant reports for an engine error.
daml::CantonError cantonErrorOf(const Error& e);

}  // namespace sc::ledger::sandbox
