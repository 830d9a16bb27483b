// sc-bench-report: renders the JSON lines of a ./scripts/bench run (sc-loadgen, sc-pg-limit,
// sc-http-intake) and the run's facts (key=value lines) as Markdown, and puts it into the document
// between the markers "<!-- SECTION:begin -->" and "<!-- SECTION:end -->" (--section: "bench" for
// the embedded ledger, "bench-canton" for canton mode), keeping everything else (the hand-written
// analysis). A document without markers gets them appended.
//
// --layout instances (./scripts/bench --instances 1,2,3, section "bench-instances"): the results
// carry "instances": N on each line (one sc-loadgen run per instance count, plus one sc-pg-limit
// line); rendered as one row per N — highest sustainable rate, P99 and CPU at that rate — with
// PostgreSQL's commits/s and WAL flushes/s over the same windows from --pg-samples (lines
// "<unix ms> <xact_commit> <wal_sync>", cluster-wide counters sampled during the run).
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace {

using nlohmann::json;

// One pair of markers per ledger mode (--section): "bench" for embedded (the historical name),
// "bench-canton" for canton mode over the sandbox, so each run replaces only its own tables.
std::string beginMarker(const std::string& section) { return "<!-- " + section + ":begin -->"; }
std::string endMarker(const std::string& section) { return "<!-- " + section + ":end -->"; }

std::string num(const json& v, int digits = 0) {
  if (v.is_null()) return "–";
  if (!v.is_number()) return v.dump();
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  // Thousands separators for readability.
  std::string s = buf;
  auto dot = s.find('.');
  std::string whole = s.substr(0, dot), frac = dot == std::string::npos ? "" : s.substr(dot);
  bool neg = !whole.empty() && whole[0] == '-';
  if (neg) whole.erase(0, 1);
  std::string out;
  for (size_t i = 0; i < whole.size(); ++i) {
    if (i && (whole.size() - i) % 3 == 0) out += ',';
    out += whole[i];
  }
  return (neg ? "-" : "") + out + frac;
}

std::string ms(const json& v) {
  if (v.is_null()) return "–";
  double d = v.get<double>();
  return num(v, d < 10 ? 1 : 0);
}

int usage() {
  std::cerr << "usage: sc-bench-report --results FILE.jsonl --facts FILE --doc docs/benchmarks.md"
               " [--plot NAME.png] [--section bench|bench-canton|bench-instances] [--title TEXT]"
               " [--layout instances] [--pg-samples FILE]\n";
  return 2;
}

// Cluster-wide PostgreSQL counters sampled during the run: rates over a window [t0, t1] from the
// first sample at or after t0 to the last at or before t1.
struct PgSample {
  double t_ms = 0, commits = 0, wal_syncs = 0;
};
std::vector<PgSample> readPgSamples(const std::string& path) {
  std::vector<PgSample> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  PgSample s;
  while (in >> s.t_ms >> s.commits >> s.wal_syncs) out.push_back(s);
  return out;
}
// {commits/s, WAL syncs/s} over [t0, t1] ms, or nulls when fewer than two samples fall inside.
std::pair<json, json> pgRates(const std::vector<PgSample>& samples, double t0, double t1) {
  const PgSample *a = nullptr, *b = nullptr;
  for (const auto& s : samples) {
    if (!a && s.t_ms >= t0) a = &s;
    if (s.t_ms <= t1) b = &s;
  }
  // Counters only grow within a window; a dropped database in between would make them fall.
  if (!a || !b || b->t_ms - a->t_ms < 1000 || b->commits < a->commits) return {json(), json()};
  double secs = (b->t_ms - a->t_ms) / 1000.0;
  return {json((b->commits - a->commits) / secs), json((b->wal_syncs - a->wal_syncs) / secs)};
}

int splice(const std::string& doc_path, const std::string& kBegin, const std::string& kEnd,
           const std::string& section_md);

}  // namespace

int main(int argc, char** argv) {
  std::string results_path, facts_path, doc_path, plot,
      section = "bench", title = "Results of the last run", layout, pg_samples_path;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--results")
      results_path = argv[i + 1];
    else if (a == "--facts")
      facts_path = argv[i + 1];
    else if (a == "--doc")
      doc_path = argv[i + 1];
    else if (a == "--plot")
      plot = argv[i + 1];
    else if (a == "--section")
      section = argv[i + 1];
    else if (a == "--title")
      title = argv[i + 1];
    else if (a == "--layout")
      layout = argv[i + 1];
    else if (a == "--pg-samples")
      pg_samples_path = argv[i + 1];
    else
      return usage();
  }
  if (results_path.empty() || facts_path.empty() || doc_path.empty()) return usage();

  std::vector<json> fixed, search, all_lines;
  json search_result, pg_limit, pg_minimal, http;
  {
    std::ifstream in(results_path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] != '{') continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_discarded()) continue;
      all_lines.push_back(j);
      std::string type = j.value("type", "");
      if (type == "phase" && j.value("kind", "") == "fixed")
        fixed.push_back(j);
      else if (type == "phase")
        search.push_back(j);
      else if (type == "search")
        search_result = j;
      else if (type == "pg_limit")
        pg_limit = j;
      else if (type == "pg_minimal")
        pg_minimal = j;
      else if (type == "http_intake")
        http = j;
    }
  }
  std::map<std::string, std::string> facts;
  std::vector<std::pair<std::string, std::string>> ordered;
  {
    std::ifstream in(facts_path);
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq == std::string::npos) continue;
      facts[line.substr(0, eq)] = line.substr(eq + 1);
      ordered.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
  }
  auto fact = [&](const std::string& k) { return facts.count(k) ? facts[k] : std::string("?"); };

  std::ostringstream md;
  const std::string kBegin = beginMarker(section), kEnd = endMarker(section);
  md << kBegin << "\n";
  md << "<!-- Generated by ./scripts/bench; edits between these markers are overwritten. -->\n\n";
  md << "## " << title << "\n\n";
  md << "`" << fact("command") << "` — " << fact("started_utc") << " to " << fact("finished_utc")
     << ", commit `" << fact("commit") << "`, build " << fact("build_type") << ".\n\n";
  md << "### Machine and software\n\n| | |\n|---|---|\n";
  for (const char* k :
       {"cpu_model", "nproc", "memory", "kernel", "fsync_8k_ms", "postgresql", "kafka",
        "librdkafka", "load_before", "load_after", "service_config", "instances_setup"}) {
    static const std::map<std::string, std::string> label = {
        {"cpu_model", "CPU"},
        {"nproc", "cores (nproc)"},
        {"memory", "memory"},
        {"kernel", "kernel"},
        {"fsync_8k_ms", "one synchronous 8 KiB write (dd oflag=dsync)"},
        {"postgresql", "PostgreSQL"},
        {"kafka", "Kafka"},
        {"librdkafka", "librdkafka"},
        {"load_before", "load average before the run"},
        {"load_after", "load average after the run"},
        {"service_config", "service settings"},
        {"instances_setup", "instances"}};
    if (std::string(k) == "instances_setup" && !facts.count(k)) continue;
    md << "| " << label.at(k) << " | " << fact(k) << " |\n";
  }

  if (layout == "instances") {
    auto samples = readPgSamples(pg_samples_path);
    auto rates = [&](const json& p) {
      if (!p.contains("window_start_unix_ms")) return std::pair<json, json>{};
      return pgRates(samples, p["window_start_unix_ms"].get<double>(),
                     p["window_end_unix_ms"].get<double>());
    };
    std::map<int, std::vector<json>> phases;
    std::map<int, json> searches;
    for (const json& j : all_lines) {
      if (!j.contains("instances")) continue;
      int n = j["instances"].get<int>();
      if (j.value("type", "") == "phase") phases[n].push_back(j);
      if (j.value("type", "") == "search") searches[n] = j;
    }
    md << "\n### Throughput and latency by instance count\n\n";
    md << "Per instance count: a fresh database, fresh sandbox data and fresh topics, the "
          "instances "
          "started (instance 1 first: it migrates the database), accounts and holdings seeded "
          "through instance 1, then sc-loadgen's fixed rates and its search for the highest "
          "sustainable rate (P99 confirmation < "
       << num(searches.empty() ? json(2000)
                               : searches.begin()->second.value("p99_target_ms", json(2000)))
       << " ms, lag not growing, every trade confirmed). The figures of a row are those of the "
          "last sustainable step at that rate. CPU % is of one core (200 % = the whole machine); "
          "PostgreSQL commits/s and WAL flushes/s are cluster-wide counters (`pg_stat_database."
          "xact_commit`, read-only transactions included; `pg_stat_wal.wal_sync`) over the same "
          "window.\n\n";
    md << "| instances | highest sustainable trades/s | P99 ms at that rate | service CPU % (all "
          "instances) | PostgreSQL CPU % | sandbox CPU % | Kafka CPU % | machine busy % "
          "| PostgreSQL commits/s | WAL flushes/s | first unsustainable step /s |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (auto& [n, ps] : phases) {
      json best =
          searches.count(n) ? searches[n].value("highest_sustainable_per_s", json()) : json();
      const json* at = nullptr;
      for (const json& p : ps)
        if (p.value("sustainable", false) && !best.is_null() &&
            p.value("offered_per_s", 0) == best.get<int>())
          at = &p;
      md << "| " << n << " | ";
      if (!at) {
        md << (best.is_null() || best.get<int>() == 0 ? std::string("none (below the lowest step)")
                                                      : num(best))
           << " | – | – | – | – | – | – | – | – | ";
      } else {
        auto [commits, syncs] = rates(*at);
        md << "**" << num(best) << "** | " << ms((*at)["confirm"]["p99_ms"]) << " | "
           << num((*at)["service_cpu_pct"]) << " | " << num((*at)["pg_cpu_pct"]) << " | "
           << num((*at).value("ledger_cpu_pct", json())) << " | " << num((*at)["kafka_cpu_pct"])
           << " | " << num((*at)["machine_busy_pct"]) << " | " << num(commits) << " | "
           << num(syncs) << " | ";
      }
      json bad =
          searches.count(n) ? searches[n].value("first_unsustainable_per_s", json()) : json();
      md << num(bad) << " |\n";
    }

    md << "\n**Work per instance** (its `/metrics` counters at the end of its count's run: trades "
          "consumed from Kafka, settlements settled, retries scheduled, guard misses, outbox relay "
          "leader 1/0):\n\n";
    for (auto& [n, ps] : phases)
      md << "- " << n << (n == 1 ? " instance: " : " instances: ")
         << fact("share_n" + std::to_string(n)) << "\n";

    md << "\n### Every step\n\n";
    md << "| instances | step | offered/s | confirmed/s | p50 ms | p99 ms | max ms | lag at end "
          "| unconfirmed | failed | service CPU % | PostgreSQL CPU % | sandbox CPU % | machine "
          "busy "
          "% | commits/s | sustainable |\n";
    md << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n";
    for (auto& [n, ps] : phases) {
      for (const json& p : ps) {
        const json& c = p["confirm"];
        auto [commits, syncs] = rates(p);
        md << "| " << n << " | " << p.value("name", p.value("kind", "")) << " | "
           << num(p["offered_per_s"]) << " | " << num(p["confirmed_per_s"]) << " | "
           << ms(c["p50_ms"]) << " | " << ms(c["p99_ms"]) << " | " << ms(c["max_ms"]) << " | "
           << num(p["lag_end"]) << " | " << num(p["unconfirmed_after_drain"]) << " | "
           << num(p["failed"]) << " | " << num(p["service_cpu_pct"]) << " | "
           << num(p["pg_cpu_pct"]) << " | " << num(p.value("ledger_cpu_pct", json())) << " | "
           << num(p["machine_busy_pct"]) << " | " << num(commits) << " | "
           << (p.value("sustainable", false)        ? "yes"
               : p.value("aborted_overload", false) ? "no (stopped early)"
                                                    : "no")
           << " |\n";
      }
    }

    md << "\n### PostgreSQL alone (sc-pg-limit, instances stopped)\n\n";
    if (!pg_limit.is_null()) {
      auto [commits, syncs] = rates(pg_limit);
      md << "The service's store calls per trade (intake batch " << num(pg_limit["intake_batch"])
         << ", " << num(pg_limit["workers"]) << " workers × lease " << num(pg_limit["worker_batch"])
         << " + one write() of the six transitions, relay batch " << num(pg_limit["relay_batch"])
         << ") as fast as the database allows, on a fresh database of the same cluster: the "
            "primary's ceiling for this workload on this machine.\n\n";
      md << "| settled/s | intake/s | outbox events published/s | commits/s | WAL flushes/s "
            "| client CPU % | machine busy % |\n";
      md << "|---:|---:|---:|---:|---:|---:|---:|\n";
      md << "| " << num(pg_limit["settled_per_s"]) << " | " << num(pg_limit["intake_per_s"])
         << " | " << num(pg_limit["events_published_per_s"]) << " | " << num(commits) << " | "
         << num(syncs) << " | " << num(pg_limit["client_cpu_pct"]) << " | "
         << num(pg_limit["machine_busy_pct"]) << " |\n";
    } else {
      md << "Not run.\n";
    }
    md << "\n" << kEnd << "\n";
    return splice(doc_path, kBegin, kEnd, md.str());
  }

  auto latencyRows = [&](const std::vector<json>& phases) {
    md << "| offered/s | produced/s | confirmed/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
          "| settled p50 / p99 ms | backlog at start | lag at end | lag slope /s | unconfirmed "
          "| sustainable |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|\n";
    for (const json& p : phases) {
      const json& c = p["confirm"];
      const json& s = p["settle"];
      md << "| " << num(p["offered_per_s"]) << " | " << num(p["produced_per_s"]) << " | "
         << num(p["confirmed_per_s"]) << " | " << ms(c["p50_ms"]) << " | " << ms(c["p90_ms"])
         << " | " << ms(c["p99_ms"]) << " | " << ms(c["p999_ms"]) << " | " << ms(c["max_ms"])
         << " | " << ms(s["p50_ms"]) << " / " << ms(s["p99_ms"]) << " | "
         << num(p.value("backlog_at_start", json())) << " | " << num(p["lag_end"]) << " | "
         << num(p["lag_slope_per_s"]) << " | " << num(p["unconfirmed_after_drain"]) << " | "
         << (p.value("sustainable", false)        ? "yes"
             : p.value("aborted_overload", false) ? "**no** (overloaded: stopped early)"
                                                  : "**no**")
         << " |\n";
    }
  };
  auto resourceRows = [&](const std::vector<json>& phases) {
    md << "| offered/s | window s | service CPU s | service CPU % | PostgreSQL CPU % | Kafka CPU % "
          "| load generator CPU % | machine busy % | service peak RSS MiB |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    for (const json& p : phases) {
      md << "| " << num(p["offered_per_s"]) << " | " << num(p["duration_s"], 1) << " | "
         << num(p["service_cpu_s"], 1) << " | " << num(p["service_cpu_pct"]) << " | "
         << num(p["pg_cpu_pct"]) << " | " << num(p["kafka_cpu_pct"]) << " | "
         << num(p["loadgen_cpu_pct"]) << " | " << num(p["machine_busy_pct"]) << " | "
         << num(p["service_rss_peak_mib"]) << " |\n";
    }
  };

  md << "\n### Kafka end to end at fixed offered rates\n\n";
  md << "Latency = a trade's scheduled produce time → `settlement_confirmed` (and "
        "`settlement_settled`) consumed from settlement.events, over the measured window after "
        "a warm-up of "
     << (fixed.empty() ? std::string("?") : num(fixed[0]["warmup_s"], 0))
     << " s. CPU % is of one core (200 % = both).\n\n";
  latencyRows(fixed);
  md << "\n";
  resourceRows(fixed);

  md << "\n### Highest sustainable rate\n\n";
  md << "Sustainable = P99 confirmation < " << num(search_result.value("p99_target_ms", json(2000)))
     << " ms, the lag (produced − confirmed) not growing over the window (least-squares slope "
        "below 5 % of the offered rate) and every trade confirmed after the drain.\n\n";
  if (!search.empty()) {
    latencyRows(search);
    md << "\n";
    resourceRows(search);
  }
  md << "\n**Highest sustainable rate: "
     << num(search_result.value("highest_sustainable_per_s", json())) << " trades/s**";
  if (search_result.contains("first_unsustainable_per_s") &&
      !search_result["first_unsustainable_per_s"].is_null())
    md << " (first unsustainable step: " << num(search_result["first_unsustainable_per_s"])
       << "/s)";
  md << ".\n";

  md << "\n### PostgreSQL alone (the limit)\n\n";
  double service_rate = search_result.value("highest_sustainable_per_s", 0.0);
  if (!pg_limit.is_null()) {
    double limit = pg_limit.value("settled_per_s", 0.0);
    md << "`sc-pg-limit` runs the service's store calls for each trade with the same statements, "
          "transactions, batch sizes and threads (intake batch "
       << num(pg_limit["intake_batch"]) << ", " << num(pg_limit["workers"]) << " workers × lease "
       << num(pg_limit["worker_batch"]) << " + one write() of the six transitions, relay batch "
       << num(pg_limit["relay_batch"])
       << "), without ledger, Kafka or workflow logic, on a fresh "
          "database of the same cluster while the service is stopped.\n\n";
    md << "| settled/s | intake/s | outbox events published/s | client CPU % | machine busy % |\n";
    md << "|---:|---:|---:|---:|---:|\n";
    md << "| " << num(pg_limit["settled_per_s"]) << " | " << num(pg_limit["intake_per_s"]) << " | "
       << num(pg_limit["events_published_per_s"]) << " | " << num(pg_limit["client_cpu_pct"])
       << " | " << num(pg_limit["machine_busy_pct"]) << " |\n\n";
    md << "| store call | calls | mean ms | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|\n";
    for (auto& [name, op] : pg_limit["ops"].items())
      md << "| " << name << " | " << num(op["calls"]) << " | " << num(op["mean_ms"], 2) << " | "
         << num(op["p50_ms"], 2) << " | " << num(op["p99_ms"], 2) << " |\n";
    md << "\n**Service ÷ PostgreSQL-only: " << num(json(service_rate)) << " ÷ " << num(json(limit))
       << " = " << (limit > 0 ? num(json(service_rate / limit), 2) : std::string("–")) << "**\n";
  }
  if (!pg_minimal.is_null()) {
    double minimal = pg_minimal.value("settled_per_s", 0.0);
    md << "\n`sc-pg-minimal` writes only what a settlement needs durably, the fastest way "
          "PostgreSQL offers: per batch of "
       << num(pg_minimal["batch"])
       << " settlements, one commit of the trade rows and their first audit event (COPY), then "
          "one of their final state (one set-based UPDATE) and the five later audit events (COPY), "
          "from which events are relayed by position; "
       << num(pg_minimal["threads"])
       << " connections commit at once (group commit), synchronous_commit on.\n\n";
    md << "| settled/s | audit events/s | commits/s | client CPU % | machine busy % |\n";
    md << "|---:|---:|---:|---:|---:|\n";
    md << "| " << num(pg_minimal["settled_per_s"]) << " | " << num(pg_minimal["events_per_s"])
       << " | " << num(pg_minimal["commits_per_s"]) << " | " << num(pg_minimal["client_cpu_pct"])
       << " | " << num(pg_minimal["machine_busy_pct"]) << " |\n";
    md << "\n**Service ÷ minimal limit: " << num(json(service_rate)) << " ÷ " << num(json(minimal))
       << " = " << (minimal > 0 ? num(json(service_rate / minimal), 2) : std::string("–"))
       << "**\n";
  }

  md << "\n### HTTP intake (POST /trades)\n\n";
  if (!http.is_null()) {
    const json& l = http["latency"];
    md << "| connections | requests/s | 2xx/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms "
          "| statuses | errors | service CPU % | machine busy % |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|\n";
    md << "| " << num(http["connections"]) << " | " << num(http["requests_per_s"]) << " | "
       << num(http["ok_per_s"]) << " | " << ms(l["p50_ms"]) << " | " << ms(l["p90_ms"]) << " | "
       << ms(l["p99_ms"]) << " | " << ms(l["p999_ms"]) << " | " << ms(l["max_ms"]) << " | `"
       << http["statuses"].dump() << "` | " << num(http["errors"]) << " | "
       << num(http["service_cpu_pct"]) << " | " << num(http["machine_busy_pct"]) << " |\n";
  }

  if (!plot.empty())
    md << "\n### Latency distribution\n\n![Confirmation latency by percentile](" << plot << ")\n";

  md << "\n### Distance to DESIGN §9\n\n";
  md << "| target | measured | verdict |\n|---|---|---|\n";
  for (const json& p : fixed) {
    if (p.value("offered_per_s", 0) != 1000) continue;
    double p99 = p["confirm"].value("p99_ms", 0.0);
    md << "| P99 confirmation < 100 ms at 1,000 trades/s | " << ms(p["confirm"]["p99_ms"])
       << " ms | " << (p99 < 100 ? "met" : "missed (×" + num(json(p99 / 100.0), 1) + ")") << " |\n";
  }
  md << "| ≥ 10,000 settlements/s sustained | " << num(json(service_rate)) << "/s | "
     << (service_rate >= 10000
             ? "met"
             : "missed (×" + num(json(service_rate > 0 ? 10000 / service_rate : 0.0), 1) +
                   " short)")
     << " |\n";
  for (const json& p : fixed) {
    md << "| spec: P99 < 2 s at " << num(p["offered_per_s"]) << "/s | "
       << ms(p["confirm"]["p99_ms"]) << " ms | "
       << (p["confirm"].value("p99_ms", 1e9) < 2000 && p.value("sustainable", false) ? "met"
                                                                                     : "missed")
       << " |\n";
  }
  md << "\n" << kEnd << "\n";
  return splice(doc_path, kBegin, kEnd, md.str());
}

namespace {
int splice(const std::string& doc_path, const std::string& kBegin, const std::string& kEnd,
           const std::string& section_md) {
  std::string doc;
  {
    std::ifstream in(doc_path);
    std::stringstream ss;
    ss << in.rdbuf();
    doc = ss.str();
  }
  auto b = doc.find(kBegin), e = doc.find(kEnd);
  if (b != std::string::npos && e != std::string::npos && e > b) {
    doc = doc.substr(0, b) + section_md + doc.substr(std::min(doc.size(), e + kEnd.size() + 1));
  } else {
    if (doc.empty()) doc = "# Benchmarks\n\n";
    doc += "\n" + section_md;
  }
  std::ofstream out(doc_path);
  out << doc;
  return out ? 0 : 1;
}
}  // namespace
