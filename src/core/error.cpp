#include <pecbatch/core/error.hpp>

namespace pecbatch::core {

const char* to_string(ErrorKind kind) {
  switch (kind) {
  case ErrorKind::input: return "input";
  case ErrorKind::config: return "config";
  case ErrorKind::no_input: return "no_input";
  case ErrorKind::io: return "io";
  case ErrorKind::transient: return "transient";
  case ErrorKind::permanent: return "permanent";
  case ErrorKind::auth: return "auth";
  case ErrorKind::tls: return "tls";
  case ErrorKind::protocol: return "protocol";
  case ErrorKind::internal: return "internal";
  }
  return "internal";
}

} // namespace pecbatch::core
