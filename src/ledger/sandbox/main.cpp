// sc-ledger-sandbox: the embedded ledger engine served over Canton's JSON Ledger API v2 (a
// development and test ledger; see README.md). Flags (each also an environment variable):
//   --bind ADDR          SANDBOX_BIND           default 127.0.0.1
//   --port N             SANDBOX_PORT           default 0 (a free port; printed)
//   --data-dir DIR       SANDBOX_DATA_DIR       default var/sandbox (empty: in memory)
//   --secret-file F      SANDBOX_SECRET_FILE    HS256 token secret (created with a random one)
//   --jwks-file F        SANDBOX_JWKS_FILE      RS256/ES256 tokens: keys from a JWKS file,
//   --jwks-url U         SANDBOX_JWKS_URL       … or URL (http/https, cached, refetched on a new
//                                               kid), …
//   --cert-file F        SANDBOX_CERT_FILE      … or one PEM certificate or public key (tokens
//                                               without kid); at most one of the three. With
//                                               --secret-file too, HS256 tokens still pass.
//   --token-file F       SANDBOX_TOKEN_FILE     writes a token for --user there (30 days)
//   --port-file F        SANDBOX_PORT_FILE      writes the bound port there
//   --user ID            SANDBOX_USER           default settlement-coordinator
//   --synchronizers L    SANDBOX_SYNCHRONIZERS  default securities,cash,settlement
//   --securities-issuer-party P, --cash-provider-party P (SECURITIES_ISSUER_PARTY,
//   CASH_PROVIDER_PARTY)
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>

#include "auth/key_provider.h"
#include "common/log.h"
#include "common/shutdown_signals.h"
#include "ledger/sandbox/jwks_verifier.h"
#include "ledger/sandbox/sandbox.h"
#include "ledger/sandbox/server.h"

namespace {

using sc::ledger::sandbox::Sandbox;

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

bool writeFile(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return false;
    out << text << "\n";
  }
  ::chmod(tmp.c_str(), mode);
  return std::rename(tmp.c_str(), path.c_str()) == 0;
}

std::vector<std::string> splitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

// The public keys of --jwks-file, --jwks-url or --cert-file (null when none is given). A file
// that cannot be read or parsed stops the sandbox; an unreachable URL is only reported (the keys
// load with the first token, as a participant whose identity provider starts later).
sc::Result<std::shared_ptr<sc::auth::KeyProvider>> publicKeys(
    std::map<std::string, std::string>& opt) {
  static const sc::SystemClock clock;
  std::shared_ptr<sc::auth::KeyProvider> keys;
  std::string flag;
  int given = 0;
  if (!opt["jwks-file"].empty()) {
    flag = "--jwks-file (SANDBOX_JWKS_FILE)";
    keys = std::make_shared<sc::auth::KeyProvider>(sc::auth::jwksFileLoader(opt["jwks-file"]),
                                                   opt["jwks-file"], clock);
    ++given;
  }
  if (!opt["jwks-url"].empty()) {
    flag = "--jwks-url (SANDBOX_JWKS_URL)";
    keys = std::make_shared<sc::auth::KeyProvider>(sc::auth::jwksUrlLoader(opt["jwks-url"]),
                                                   opt["jwks-url"], clock);
    ++given;
  }
  if (!opt["cert-file"].empty()) {
    flag = "--cert-file (SANDBOX_CERT_FILE)";
    keys = std::make_shared<sc::auth::KeyProvider>(
        sc::ledger::sandbox::pemFileLoader(opt["cert-file"]), opt["cert-file"], clock);
    ++given;
  }
  if (given > 1) {
    return sc::Error::permanent("invalid_config",
                                "give at most one of --jwks-file, --jwks-url and --cert-file");
  }
  if (!keys) return keys;
  if (auto loaded = keys->keys(); !loaded) {
    if (opt["jwks-url"].empty())
      return sc::Error::permanent("invalid_config", flag + ": " + loaded.error().message);
    std::cerr << "sc-ledger-sandbox: warning: " << flag << ": " << loaded.error().message << "\n";
  }
  return keys;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> opt = {{"bind", "127.0.0.1"},
                                            {"port", "0"},
                                            {"data-dir", "var/sandbox"},
                                            {"secret-file", ""},
                                            {"jwks-file", ""},
                                            {"jwks-url", ""},
                                            {"cert-file", ""},
                                            {"token-file", ""},
                                            {"port-file", ""},
                                            {"user", "settlement-coordinator"},
                                            {"synchronizers", "securities,cash,settlement"},
                                            {"securities-issuer-party", "securities-issuer::12345"},
                                            {"cash-provider-party", "cash-provider::67890"}};
  const std::map<std::string, std::string> env_names = {
      {"bind", "SANDBOX_BIND"},
      {"port", "SANDBOX_PORT"},
      {"data-dir", "SANDBOX_DATA_DIR"},
      {"secret-file", "SANDBOX_SECRET_FILE"},
      {"jwks-file", "SANDBOX_JWKS_FILE"},
      {"jwks-url", "SANDBOX_JWKS_URL"},
      {"cert-file", "SANDBOX_CERT_FILE"},
      {"token-file", "SANDBOX_TOKEN_FILE"},
      {"port-file", "SANDBOX_PORT_FILE"},
      {"user", "SANDBOX_USER"},
      {"synchronizers", "SANDBOX_SYNCHRONIZERS"},
      {"securities-issuer-party", "SECURITIES_ISSUER_PARTY"},
      {"cash-provider-party", "CASH_PROVIDER_PARTY"}};
  for (const auto& [k, e] : env_names) {
    if (const char* v = std::getenv(e.c_str())) opt[k] = v;
  }
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || !opt.count(a.substr(2)) || i + 1 >= argc) {
      std::cerr << "sc-ledger-sandbox: unknown or incomplete option '" << a << "'\n";
      return 2;
    }
    opt[a.substr(2)] = argv[++i];
  }
  int port = 0;
  try {
    port = std::stoi(opt["port"]);
  } catch (...) {
    port = -1;
  }
  if (port < 0 || port > 65535) {
    std::cerr << "sc-ledger-sandbox: --port must be 0..65535, got '" << opt["port"] << "'\n";
    return 2;
  }
  std::string secret;
  if (!opt["secret-file"].empty()) {
    secret = readFile(opt["secret-file"]);
    if (secret.empty()) {
      std::random_device rd;
      static const char* kHex = "0123456789abcdef";
      for (int i = 0; i < 64; ++i) secret.push_back(kHex[rd() % 16]);
      if (!writeFile(opt["secret-file"], secret, 0600)) {
        std::cerr << "sc-ledger-sandbox: cannot write --secret-file " << opt["secret-file"] << "\n";
        return 2;
      }
    }
  }
  Sandbox::Options so;
  so.data_dir = opt["data-dir"];
  so.hs256_secret = secret;
  auto keys = publicKeys(opt);
  if (!keys) {
    std::cerr << "sc-ledger-sandbox: " << keys.error().message << "\n";
    return 2;
  }
  if (*keys) so.verifier = std::make_shared<sc::ledger::sandbox::JwksVerifier>(*keys, secret);
  so.app_user = opt["user"];
  so.synchronizers = splitList(opt["synchronizers"]);
  so.securities_issuer_party = opt["securities-issuer-party"];
  so.cash_provider_party = opt["cash-provider-party"];
  auto sandbox = Sandbox::open(so);
  if (!sandbox) {
    std::cerr << "sc-ledger-sandbox: cannot open the ledger at " << so.data_dir << ": "
              << sandbox.error().message << "\n";
    return 1;
  }
  if (!opt["token-file"].empty()) {
    if (secret.empty()) {
      std::cerr << "sc-ledger-sandbox: --token-file needs --secret-file\n";
      return 2;
    }
    if (!writeFile(opt["token-file"], (*sandbox)->makeToken(so.app_user, 30 * 24 * 3600), 0600)) {
      std::cerr << "sc-ledger-sandbox: cannot write --token-file " << opt["token-file"] << "\n";
      return 2;
    }
  }
  const sc::ShutdownSignals signals;  // before any thread starts: they inherit the mask

  sc::ledger::sandbox::SandboxServer server(**sandbox, opt["bind"], static_cast<uint16_t>(port));
  try {
    server.start();
  } catch (const std::exception& e) {
    std::cerr << "sc-ledger-sandbox: " << e.what() << "\n";
    return 1;
  }
  if (!opt["port-file"].empty()) writeFile(opt["port-file"], std::to_string(server.port()), 0644);
  std::printf("sc-ledger-sandbox listening on http://%s:%u (data: %s, participant: %s)\n",
              opt["bind"].c_str(), server.port(), so.data_dir.c_str(),
              (*sandbox)->participantId().c_str());
  std::printf("SANDBOX_PORT=%u\n", server.port());
  std::fflush(stdout);
  signals.wait();
  server.stop();
  return 0;
}
