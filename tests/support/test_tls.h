#pragma once
// Throwaway TLS material made at test time with the OpenSSL C API (no openssl CLI, no checked-in
// keys): a self-signed CA (P-256) and a server certificate it signs for localhost and 127.0.0.1,
// written as PEM files to a fresh temporary folder that is removed with the object.
#include <string>

namespace sc::test {

class TestPki {
 public:
  // Throws std::runtime_error when OpenSSL fails or the files cannot be written.
  explicit TestPki(const std::string& ca_name = "sc test CA");
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  const std::string& caFile() const { return ca_file_; }            // the CA certificate
  const std::string& certChainFile() const { return chain_file_; }  // server, then CA
  const std::string& keyFile() const { return key_file_; }          // the server's private key

 private:
  std::string dir_, ca_file_, chain_file_, key_file_;
};

}  // namespace sc::test
