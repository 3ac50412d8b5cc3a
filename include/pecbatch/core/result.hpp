#pragma once

#include <pecbatch/core/error.hpp>

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace pecbatch::core {

// Thrown only to abort a whole command; caught once, in cli::run.
class Fatal : public std::runtime_error {
public:
  explicit Fatal(Error error)
      : std::runtime_error(error.message), m_error(std::move(error)) {}
  const Error& error() const noexcept { return m_error; }

private:
  Error m_error;
};

// Either a value of type `T` or an `Error`. A small stand-in for C++23
// std::expected (not available with GCC 12 in C++20 mode).
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : m_state(std::in_place_index<1>, std::move(error)) {}

  bool ok() const noexcept { return m_state.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(m_state); }
  const T& value() const& { return std::get<0>(m_state); }
  T&& value() && { return std::get<0>(std::move(m_state)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(m_state); }
  Error&& error() && { return std::get<1>(std::move(m_state)); }

  // Returns the value, or throws `Fatal` with the error.
  T value_or_throw() && {
    if (!ok()) {
      throw Fatal(std::move(*this).error());
    }
    return std::move(*this).value();
  }

private:
  std::variant<T, Error> m_state;
};

// Success without a value.
struct Ok {};

template <> class [[nodiscard]] Result<void> {
public:
  Result() = default;
  Result(Ok) {}
  Result(Error error) : m_error(std::move(error)), m_ok(false) {}

  bool ok() const noexcept { return m_ok; }
  explicit operator bool() const noexcept { return m_ok; }
  const Error& error() const& { return m_error; }
  Error&& error() && { return std::move(m_error); }
  void value_or_throw() && {
    if (!m_ok) {
      throw Fatal(std::move(m_error));
    }
  }

private:
  Error m_error;
  bool m_ok = true;
};

using Status = Result<void>;

} // namespace pecbatch::core

// Evaluates `expr` (a Result); returns its error from the enclosing function
// if it failed.
#define PB_TRY(expr)                                                           \
  do {                                                                         \
    auto pb_try_result_ = (expr);                                              \
    if (!pb_try_result_.ok()) {                                                \
      return std::move(pb_try_result_).error();                                \
    }                                                                          \
  } while (false)

#define PB_CONCAT_INNER_(a, b) a##b
#define PB_CONCAT_(a, b) PB_CONCAT_INNER_(a, b)

// Declares `decl` initialised from the value of Result `expr`, or returns its
// error from the enclosing function.
#define PB_TRY_ASSIGN(decl, expr)                                              \
  PB_TRY_ASSIGN_IMPL_(PB_CONCAT_(pb_try_tmp_, __LINE__), decl, expr)
#define PB_TRY_ASSIGN_IMPL_(tmp, decl, expr)                                   \
  auto tmp = (expr);                                                           \
  if (!tmp.ok()) {                                                             \
    return std::move(tmp).error();                                             \
  }                                                                            \
  decl = std::move(tmp).value()
