#include <pecbatch/config/provider.hpp>

namespace pecbatch::config {

namespace {

// The legal minimum every provider must accept (DM 2/11/2005 art. 12):
// recipients x size up to 30 MB. With one recipient per message, 30 MB is
// safe everywhere.
constexpr std::uint64_t k_legal_minimum_bytes = 30ULL * 1000 * 1000;

// No provider publishes a per-minute quota except Legalmail; providers are
// known to block automated senders that go too fast. A conservative default
// keeps an account safe until the user knows better.
constexpr unsigned k_conservative_rate_per_minute = 30;

const Provenance k_legal_minimum{
    "DM 2/11/2005 art. 12 legal minimum (30 MB); no provider quota published, "
    "conservative pecbatch default of 30 messages/minute",
    false};

std::vector<ProviderProfile> make_profiles() {
  std::vector<ProviderProfile> profiles;

  ProviderProfile aruba;
  aruba.name = "aruba";
  aruba.display_name = "Aruba PEC";
  aruba.smtp_host = "smtps.pec.aruba.it";
  aruba.imap_host = "imaps.pec.aruba.it";
  aruba.login_hint = "the PEC address; with two-factor login, a 'password dedicata'";
  aruba.sent_folder = "INBOX.Inviata";
  aruba.endpoints = {"open-source client preset tested with real sends", false};
  aruba.max_message_bytes = 100ULL * 1000 * 1000;
  aruba.rate_per_minute = k_conservative_rate_per_minute;
  aruba.limits = {"Aruba guide (guide.pec.it): 100 MB per message divided by the "
                  "recipients; dangerous attachment types refused; no published "
                  "quota, conservative pecbatch default of 30 messages/minute",
                  false};
  profiles.push_back(aruba);

  ProviderProfile legalmail;
  legalmail.name = "legalmail";
  legalmail.display_name = "InfoCert Legalmail";
  legalmail.smtp_host = "sendm.cert.legalmail.it";
  legalmail.imap_host = "mbox.cert.legalmail.it";
  legalmail.login_hint = "a user code (M...), not the PEC address";
  legalmail.sent_folder = "INBOX/Spedite";
  legalmail.endpoints = {"open-source client preset tested with real sends", false};
  legalmail.max_message_bytes = k_legal_minimum_bytes;
  legalmail.rate_per_minute = 6;
  legalmail.limits = {"InfoCert help pages: 6 messages per minute by contract, "
                      "550 'Class Of Service - Too much traffic' above it; size "
                      "not published, legal minimum of 30 MB assumed",
                      false};
  profiles.push_back(legalmail);

  ProviderProfile namirial;
  namirial.name = "namirial";
  namirial.display_name = "Namirial";
  namirial.smtp_host = "smtps.sicurezzapostale.it";
  namirial.imap_host = "imaps.sicurezzapostale.it";
  namirial.login_hint = "the PEC address";
  namirial.endpoints = {"open-source presets disagree (also smtp.namirialpec.it)", false};
  namirial.max_message_bytes = k_legal_minimum_bytes;
  namirial.rate_per_minute = k_conservative_rate_per_minute;
  namirial.limits = k_legal_minimum;
  profiles.push_back(namirial);

  ProviderProfile poste;
  poste.name = "poste";
  poste.display_name = "Poste Italiane (Postecert)";
  poste.smtp_host = "relay.poste.it";
  poste.login_hint = "the PEC address";
  poste.endpoints = {"open-source presets disagree (smtppec.poste.it, "
                     "mail.postecert.it, relay.poste.it); IMAP host unknown",
                     false};
  poste.max_message_bytes = k_legal_minimum_bytes;
  poste.rate_per_minute = k_conservative_rate_per_minute;
  poste.limits = k_legal_minimum;
  profiles.push_back(poste);

  ProviderProfile reg;
  reg.name = "register";
  reg.display_name = "Register.it";
  reg.smtp_host = "smtp.pec.register.it";
  reg.login_hint = "the PEC address";
  reg.endpoints = {"open-source presets disagree (also smtp.pec-email.com); "
                   "IMAP host unknown",
                   false};
  reg.max_message_bytes = k_legal_minimum_bytes;
  reg.rate_per_minute = k_conservative_rate_per_minute;
  reg.limits = k_legal_minimum;
  profiles.push_back(reg);

  ProviderProfile custom;
  custom.name = "custom";
  custom.display_name = "custom provider";
  custom.smtp_host = "";
  custom.imap_host = "";
  custom.endpoints = {"set in the campaign file", false};
  custom.max_message_bytes = k_legal_minimum_bytes;
  custom.rate_per_minute = k_conservative_rate_per_minute;
  custom.limits = k_legal_minimum;
  profiles.push_back(custom);

  for (auto& profile : profiles) {
    profile.blocked_extensions = default_blocked_extensions();
  }
  return profiles;
}

} // namespace

const char* to_string(Security security) {
  return security == Security::tls ? "tls" : "starttls";
}

const std::vector<std::string>& default_blocked_extensions() {
  static const std::vector<std::string> extensions = {
      "ade", "adp", "app", "bat", "chm", "cmd", "com", "cpl", "dll", "exe",
      "hta", "inf", "ins", "isp", "jar", "js",  "jse", "lnk", "mde", "msc",
      "msi", "msp", "mst", "pif", "ps1", "reg", "scr", "sct", "shb", "shs",
      "sys", "vb",  "vbe", "vbs", "vxd", "wsc", "wsf", "wsh"};
  return extensions;
}

const std::vector<ProviderProfile>& provider_profiles() {
  static const std::vector<ProviderProfile> profiles = make_profiles();
  return profiles;
}

const ProviderProfile* find_provider_profile(std::string_view name) {
  for (const auto& profile : provider_profiles()) {
    if (profile.name == name) {
      return &profile;
    }
  }
  return nullptr;
}

} // namespace pecbatch::config
