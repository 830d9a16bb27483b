#pragma once
// Expected failures as values (STYLE 4): every Error carries a stable machine code, a human
// message, optionally the offending field, and whether retrying the same operation can succeed.
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace sc {

struct Error {
  std::string code;     // stable reason code, e.g. "invalid_decimal", "ledger_unavailable"
  std::string message;  // human readable, names what is wrong
  std::string field;    // offending input field, empty when not applicable
  bool retryable = false;

  static Error permanent(std::string code, std::string message, std::string field = {}) {
    return Error{std::move(code), std::move(message), std::move(field), false};
  }
  static Error transient(std::string code, std::string message) {
    return Error{std::move(code), std::move(message), {}, true};
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT(implicit)
  Result(Error error) : v_(std::move(error)) {}  // NOLINT(implicit)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : e_(std::move(error)) {}  // NOLINT(implicit)
  bool ok() const { return !e_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *e_; }

 private:
  std::optional<Error> e_;
};

}  // namespace sc
