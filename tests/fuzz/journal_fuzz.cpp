// libFuzzer target: the ledger journal's record decoder (journal::decode) on arbitrary payloads,
// and journal::scan over a file of framed records.
// Properties: no crash, UB or exception; a decoded record holds only values its types allow (trade
// figures inside DECIMAL(18,8), version-1 amounts whole multiples of 10^-8); decode(encode(r))
// re-encodes to the same bytes, and a version-2 payload is exactly the encoding of what it decodes
// to (one encoding per record); a version-1 record converts exactly; scan reads the framed record
// back record for record and calls a cut final copy torn; a checksum-valid payload that does not
// decode is corruption, with a message.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/engine/journal.h"

namespace {

using namespace sc::ledger::journal;

void check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "property failed: %s\n", what);
  std::abort();
}

bool validDecimal(sc::Decimal d) {
  return d.units() >= -sc::Decimal::kMaxUnits && d.units() <= sc::Decimal::kMaxUnits;
}

std::string framedOf(const Record& r) {
  std::string out;
  encode(r, out);
  return out;
}

// A memory file reused for every input (scan reads a descriptor).
int journalFd() {
  static const int fd = ::memfd_create("journal_fuzz", 0);
  check(fd >= 0, "memfd_create");
  return fd;
}

sc::Result<ScanReport> scanBytes(const std::string& bytes, std::vector<std::string>& reencoded,
                                 std::vector<uint64_t>& offsets) {
  const int fd = journalFd();
  check(::ftruncate(fd, 0) == 0 &&
            ::pwrite(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()),
        "write the memory file");
  return scan(fd, "fuzz journal", [&](Record&& r, uint64_t at) -> sc::Result<void> {
    reencoded.push_back(framedOf(r));
    offsets.push_back(at);
    return {};
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view payload(reinterpret_cast<const char*>(data), size);
  auto rec = decode(payload);
  if (!rec) {
    check(!decodeProblem(payload).empty(), "an undecodable payload has a problem to report");
    if (payload.empty()) return 0;
    // Framed with a valid checksum it is corruption, never a torn tail, never a record.
    std::string file(8, '\0');
    const uint32_t len = static_cast<uint32_t>(payload.size()), crc = crc32(data, size);
    for (int i = 0; i < 4; ++i) {
      file[i] = static_cast<char>((len >> (8 * i)) & 0xff);
      file[4 + i] = static_cast<char>((crc >> (8 * i)) & 0xff);
    }
    file.append(payload);
    std::vector<std::string> got;
    std::vector<uint64_t> at;
    auto report = scanBytes(file, got, at);
    check(report.ok(), "scan of a memory file succeeds");
    check(got.empty() && report->records == 0 && report->valid_bytes == 0,
          "an undecodable record is not read");
    check(report->tail == ScanReport::Tail::kCorrupt && !report->problem.empty(),
          "a checksum-valid undecodable record is corruption, with a message");
    return 0;
  }

  const uint8_t version = static_cast<uint8_t>(payload[0]);
  for (const auto& op : rec->ops) {
    if (const auto* h = std::get_if<CreateHoldingOp>(&op)) {
      check(h->lock_kind == LockKind::kNone || h->lock_kind == LockKind::kSecurities ||
                h->lock_kind == LockKind::kCash,
            "a lock kind is one of the three");
      if (version == kFormatV1) check(h->units % 100 == 0, "a version-1 amount converts exactly");
    }
  }
  if (rec->completion) {
    check(validDecimal(rec->completion->quantity) && validDecimal(rec->completion->amount),
          "an outcome's quantity and amount are DECIMAL(18,8)");
  }

  const std::string framed = framedOf(*rec);
  check(framed.size() > 8, "a frame has a header and a payload");
  const std::string_view body = std::string_view(framed).substr(8);
  uint32_t len = 0, crc = 0;
  for (int i = 0; i < 4; ++i) {
    len |= uint32_t(static_cast<uint8_t>(framed[i])) << (8 * i);
    crc |= uint32_t(static_cast<uint8_t>(framed[4 + i])) << (8 * i);
  }
  check(len == body.size() && crc == crc32(body.data(), body.size()),
        "the frame header holds the payload's length and checksum");
  check(static_cast<uint8_t>(body[0]) == kFormatVersion, "records are written in version 2");
  if (version == kFormatVersion)
    check(body == payload, "a version-2 payload is the encoding of the record it decodes to");

  auto again = decode(body);
  check(again.has_value(), "an encoded record decodes");
  check(framedOf(*again) == framed, "decode(encode(r)) re-encodes to the same bytes");
  check(again->ops.size() == rec->ops.size() && again->command_id == rec->command_id &&
            again->update_id == rec->update_id && again->offset == rec->offset &&
            again->recorded_at_us == rec->recorded_at_us &&
            again->completion.has_value() == rec->completion.has_value(),
        "decode(encode(r)) has r's fields");

  // Two copies and a copy cut short: two records, at their offsets, and a torn tail.
  std::string file = framed + framed + framed.substr(0, framed.size() - 1);
  std::vector<std::string> got;
  std::vector<uint64_t> at;
  auto report = scanBytes(file, got, at);
  check(report.ok(), "scan of a memory file succeeds");
  check(report->records == 2 && got.size() == 2 && got[0] == framed && got[1] == framed,
        "scan reads both records back as they were written");
  check(at.size() == 2 && at[0] == 0 && at[1] == framed.size(), "scan reports record offsets");
  // (Corrupt instead only when the cut copy's strings happen to hold a whole valid frame.)
  check(report->valid_bytes == 2 * framed.size() &&
            (report->tail == ScanReport::Tail::kTorn ||
             (report->tail == ScanReport::Tail::kCorrupt &&
              report->problem.find("a valid record follows") != std::string::npos)),
        "a final record cut short is a torn tail after the valid ones");
  return 0;
}
