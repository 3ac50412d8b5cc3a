#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pecbatch::config {

// How the connection to a server is secured. Plaintext is not an option.
enum class Security {
  tls,       // implicit TLS from the first byte (SMTPS 465, IMAPS 993)
  starttls,  // plain connect, then STARTTLS, required (never falls back)
};
const char* to_string(Security security);

// Where a profile's facts come from and how sure they are.
struct Provenance {
  std::string source;     // e.g. "Aruba guide (guide.pec.it), 2025-2026"
  bool verified = false;  // checked against a real account by us
};

// What is known about one PEC provider: endpoints and limits, as data.
// Numbers of 0 mean "no limit known"; every value can be overridden in the
// campaign file.
struct ProviderProfile {
  std::string name;          // aruba, legalmail, ...
  std::string display_name;  // "Aruba PEC"

  std::string smtp_host;  // empty: unknown, the campaign must set it
  std::uint16_t smtp_port = 465;
  Security smtp_security = Security::tls;
  std::string imap_host;
  std::uint16_t imap_port = 993;
  Security imap_security = Security::tls;
  std::string login_hint;   // what the username is for this provider
  std::string sent_folder;  // where the provider files sent mail, if known
  Provenance endpoints;

  std::uint64_t max_message_bytes = 0;
  unsigned max_attachments = 0;
  std::vector<std::string> blocked_extensions;  // lower-case, no dot
  unsigned rate_per_minute = 0;
  unsigned rate_per_hour = 0;
  unsigned rate_per_day = 0;
  Provenance limits;
};

// The built-in profiles: aruba, legalmail, namirial, poste, register,
// custom.
const std::vector<ProviderProfile>& provider_profiles();

// The profile named `name`, or nullptr.
const ProviderProfile* find_provider_profile(std::string_view name);

// Executable and script extensions that providers refuse (lower case).
const std::vector<std::string>& default_blocked_extensions();

} // namespace pecbatch::config
