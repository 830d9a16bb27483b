#pragma once
// A seeded, deterministic simulation of the whole settlement workflow (issue 8; TigerBeetle's VOPR
// is the model): the real Intake, Workflow and relay marking logic, the real embedded ledger with
// its fault injection and journal, the in-memory store with PostgreSQL's guarded-write and lease
// semantics, a simulated clock, and faults chosen by the seed — ledger outages, errors and lost
// answers, database write failures (before and after commit), workers that stall past their lease,
// manual retries, and crashes (the coordinator's memory dropped, the ledger reopened from its
// journal). An independent checker (checker.h, written from DESIGN §7) runs after every step and
// at the end. The same seed replays the same run.
#include <cstdint>
#include <string>

namespace sc::test::sim {

struct SimOptions {
  int steps = 250;            // fault phase; then faults stop and the run must quiesce
  bool verbose = false;       // print every action
  bool keep_journal = false;  // keep the ledger's folder (printed) for inspection
};

struct SimResult {
  bool ok = true;
  std::string failure;  // the first invariant broken, with the step
  int step = 0;
  // What the run did (to see that seeds exercise something).
  int trades = 0, rejected = 0, settled = 0, failed = 0, partial_fills = 0, crashes = 0, stalls = 0,
      retries = 0, lost_answers = 0, store_faults = 0;
};

SimResult runSeed(uint64_t seed, const SimOptions& options = {});

}  // namespace sc::test::sim
