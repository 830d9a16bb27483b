// sc-ledger-journal: offline inspection and operator-decided repair of an embedded ledger journal.
//
//   sc-ledger-journal verify <data-dir|journal-file>
//       Reads the journal without changing it; prints the record count, the offset where valid
//       records end and the first problem with its offset. Exit 0: clean or only a torn final
//       record (the ledger truncates that on open); 1: corrupt (the ledger refuses to open);
//       2: usage or I/O error.
//   sc-ledger-journal truncate --at OFFSET <data-dir|journal-file>
//       Cuts the journal at OFFSET, which must be the start of a valid record (or where valid
//       records end), dropping everything after it. Refused while a ledger holds the folder.
//       Ids stay unique afterwards: the ledger bumps its epoch at every open (journal.h).
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "ledger/engine/journal.h"

namespace {

using sc::ledger::journal::ScanReport;

int usage() {
  std::fprintf(stderr,
               "usage: sc-ledger-journal verify <data-dir|journal-file>\n"
               "       sc-ledger-journal truncate --at OFFSET <data-dir|journal-file>\n");
  return 2;
}

std::string journalPath(const std::string& arg) {
  std::error_code ec;
  if (std::filesystem::is_directory(arg, ec)) {
    return (std::filesystem::path(arg) / sc::ledger::journal::kJournalFile).string();
  }
  return arg;
}

int verify(const std::string& path) {
  auto rep = sc::ledger::journal::scanFile(path);
  if (!rep) {
    std::fprintf(stderr, "sc-ledger-journal: %s\n", rep.error().message.c_str());
    return 2;
  }
  std::printf("journal: %s\nbytes: %llu\nrecords: %llu\nlast good offset: %llu\n", path.c_str(),
              static_cast<unsigned long long>(rep->file_size),
              static_cast<unsigned long long>(rep->records),
              static_cast<unsigned long long>(rep->valid_bytes));
  switch (rep->tail) {
    case ScanReport::Tail::kClean:
      std::printf("status: ok\n");
      return 0;
    case ScanReport::Tail::kTorn:
      std::printf(
          "status: torn final record at offset %llu (%s); the ledger truncates it on open\n",
          static_cast<unsigned long long>(rep->valid_bytes), rep->problem.c_str());
      return 0;
    case ScanReport::Tail::kCorrupt:
      std::printf("status: corrupt at offset %llu: %s\n",
                  static_cast<unsigned long long>(rep->valid_bytes), rep->problem.c_str());
      return 1;
  }
  return 2;
}

int truncate(const std::string& offset_text, const std::string& path) {
  char* end = nullptr;
  errno = 0;
  unsigned long long offset = std::strtoull(offset_text.c_str(), &end, 10);
  if (offset_text.empty() || offset_text[0] == '-' || *end != '\0' || errno != 0) {
    std::fprintf(stderr, "sc-ledger-journal: --at needs a byte offset, got '%s'\n",
                 offset_text.c_str());
    return 2;
  }
  auto removed = sc::ledger::journal::truncateAt(path, offset);
  if (!removed) {
    std::fprintf(stderr, "sc-ledger-journal: %s\n", removed.error().message.c_str());
    return 1;
  }
  std::printf("truncated %s at offset %llu: %llu bytes removed\n", path.c_str(), offset,
              static_cast<unsigned long long>(*removed));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "verify") return verify(journalPath(argv[2]));
  if (argc == 5 && std::string(argv[1]) == "truncate" && std::string(argv[2]) == "--at") {
    return truncate(argv[3], journalPath(argv[4]));
  }
  return usage();
}
