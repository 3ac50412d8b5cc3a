#pragma once

#include <pecbatch/core/error.hpp>

namespace pecbatch::cli {

// Exit codes (sysexits.h family, like msmtp). Documented in
// docs/exit-codes.md and `pecbatch --help`.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_usage = 64;        // EX_USAGE: bad command line
inline constexpr int k_exit_data = 65;         // EX_DATAERR: bad contacts/templates
inline constexpr int k_exit_no_input = 66;     // EX_NOINPUT: a named file is missing
inline constexpr int k_exit_unavailable = 69;  // EX_UNAVAILABLE: permanent failures
inline constexpr int k_exit_software = 70;     // EX_SOFTWARE: a bug
inline constexpr int k_exit_io = 74;           // EX_IOERR: local I/O error
inline constexpr int k_exit_temp = 75;         // EX_TEMPFAIL: deferred, or locked
inline constexpr int k_exit_config = 78;       // EX_CONFIG: bad campaign file
inline constexpr int k_exit_interrupted = 130;

inline int exit_code_for(core::ErrorKind kind) {
  switch (kind) {
  case core::ErrorKind::input: return k_exit_data;
  case core::ErrorKind::config: return k_exit_config;
  case core::ErrorKind::no_input: return k_exit_no_input;
  case core::ErrorKind::io: return k_exit_io;
  case core::ErrorKind::transient: return k_exit_temp;
  case core::ErrorKind::permanent: return k_exit_unavailable;
  case core::ErrorKind::auth: return k_exit_config;
  case core::ErrorKind::tls: return k_exit_unavailable;
  case core::ErrorKind::protocol: return k_exit_unavailable;
  case core::ErrorKind::internal: return k_exit_software;
  }
  return k_exit_software;
}

} // namespace pecbatch::cli
