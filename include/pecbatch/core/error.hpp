#pragma once

#include <string>

namespace pecbatch::core {

// What went wrong, as far as the caller needs to decide what to do next.
// Retry decisions and exit codes read only this classification.
enum class ErrorKind {
  input,      // bad user data (contacts, templates, attachments): EX_DATAERR
  config,     // bad campaign file or flags: EX_CONFIG
  no_input,   // a file the user named does not exist or cannot be read
  io,         // local I/O failure (disk full, permissions on output)
  transient,  // may succeed later (4xx, timeouts, dropped connections)
  permanent,  // will not succeed as is (5xx)
  auth,       // authentication refused: stop everything
  tls,        // TLS or certificate failure: stop everything
  protocol,   // the peer said something we do not understand
  internal,   // a bug
};

// Returns a stable lower-case name for `kind` ("input", "config", ...).
const char* to_string(ErrorKind kind);

// An error with its classification. Protocol errors may carry the SMTP
// reply code and the RFC 3463 enhanced status code.
struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  int smtp_code = 0;
  std::string enhanced_code;
};

inline Error make_error(ErrorKind kind, std::string message) {
  return Error{kind, std::move(message), 0, {}};
}

} // namespace pecbatch::core
