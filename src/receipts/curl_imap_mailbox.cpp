// The libcurl IMAP mailbox (make_curl_mailbox in
// include/pecbatch/receipts/mailbox.hpp).
//
// libcurl 7.88 facts this file relies on (docs/TEST-INFRA.md §4, checked
// against the sandbox's Dovecot):
//  * one easy handle keeps its connection (and its SELECTed mailbox)
//    between curl_easy_perform calls; any error closes it;
//  * `STATUS INBOX (UIDNEXT UIDVALIDITY)` as a custom request on the root
//    URL writes `* STATUS INBOX (...)` to the body, on new and reused
//    connections alike (the implicit SELECT's response is not repeated on a
//    reused connection, so it cannot be relied on);
//  * on a reused connection the first UID SEARCH after new mail arrived
//    returns the old set: a NOOP is sent first;
//  * a custom FETCH is not literal-aware (a body line starting with curl's
//    tag ends the response, and desynchronises the connection): messages
//    are fetched with the `INBOX;UID=n` URL form only, which is. It uses
//    BODY[], so the message gets \Seen; harmless for a receipts mailbox;
//  * CURLOPT_CAINFO replaces the default CA bundle file but keeps Debian's
//    CA directory, so `ca_file` is trusted in addition to the system CAs.

#include <pecbatch/receipts/mailbox.hpp>

#include <pecbatch/net/curl.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace pecbatch::receipts {

namespace {

core::ErrorKind kind_for(CURLcode rc) {
  if (net::is_curl_tls_error(rc)) {
    return core::ErrorKind::tls;
  }
  switch (rc) {
  case CURLE_LOGIN_DENIED:
    return core::ErrorKind::auth;
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_UNKNOWN_OPTION:
    return core::ErrorKind::config;
  case CURLE_REMOTE_FILE_NOT_FOUND:
    return core::ErrorKind::permanent;
  case CURLE_QUOTE_ERROR:
  case CURLE_WEIRD_SERVER_REPLY:
    return core::ErrorKind::protocol;
  default:
    return core::ErrorKind::transient;
  }
}

// Parses the unsigned number that follows `key` in `text` (e.g. "UIDNEXT").
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view key) {
  std::size_t pos = 0;
  while ((pos = text.find(key, pos)) != std::string_view::npos) {
    std::size_t start = pos + key.size();
    while (start < text.size() && text[start] == ' ') {
      ++start;
    }
    std::uint64_t value = 0;
    const auto* first = text.data() + start;
    const auto* last = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && ptr != first) {
      return value;
    }
    pos += key.size();
  }
  return std::nullopt;
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) {
    return false;
  }
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    const auto a = static_cast<unsigned char>(text[i]);
    const auto b = static_cast<unsigned char>(prefix[i]);
    if (std::tolower(a) != std::tolower(b)) {
      return false;
    }
  }
  return true;
}

class CurlImapMailbox final : public Mailbox {
public:
  explicit CurlImapMailbox(ImapSettings settings) : m_settings(std::move(settings)) {
    net::curl_global_init_once();
    std::string host = m_settings.host;
    if (host.find(':') != std::string::npos && !host.starts_with('[')) {
      host = "[" + host + "]"; // IPv6 literal
    }
    const char* scheme = m_settings.security == ImapSecurity::tls ? "imaps" : "imap";
    m_root = std::string(scheme) + "://" + host + ":" + std::to_string(m_settings.port) + "/";
  }

  ~CurlImapMailbox() override {
    if (m_handle != nullptr) {
      curl_easy_cleanup(m_handle);
    }
  }
  CurlImapMailbox(const CurlImapMailbox&) = delete;
  CurlImapMailbox& operator=(const CurlImapMailbox&) = delete;

  core::Result<MailboxStatus> select() override {
    PB_TRY_ASSIGN(const std::string body,
                  perform(m_root, "STATUS INBOX (UIDNEXT UIDVALIDITY)", "STATUS"));
    MailboxStatus status;
    const auto uidvalidity = number_after(body, "UIDVALIDITY");
    if (!uidvalidity) {
      return core::make_error(core::ErrorKind::protocol,
                              "IMAP " + m_settings.host + ": no UIDVALIDITY in the "
                              "STATUS reply");
    }
    status.uidvalidity = *uidvalidity;
    status.uidnext = number_after(body, "UIDNEXT").value_or(0);
    m_uidvalidity = status.uidvalidity;
    return status;
  }

  core::Result<std::vector<std::uint64_t>> uids_since(std::uint64_t last_uid) override {
    // A reused connection answers the first SEARCH after new mail with the
    // old set: a NOOP first lets the server report the new messages.
    PB_TRY(perform(m_root + "INBOX", "NOOP", "NOOP"));
    PB_TRY_ASSIGN(const std::string body,
                  perform(m_root + "INBOX", "UID SEARCH UID " + std::to_string(last_uid + 1) +
                                                ":*",
                          "SEARCH"));
    std::vector<std::uint64_t> uids;
    std::size_t pos = 0;
    while ((pos = body.find("* SEARCH", pos)) != std::string::npos) {
      std::size_t end = body.find('\n', pos);
      if (end == std::string::npos) {
        end = body.size();
      }
      std::string_view line(body.data() + pos + 8, end - pos - 8);
      while (!line.empty()) {
        const std::size_t first = line.find_first_not_of(" \r");
        if (first == std::string_view::npos) {
          break;
        }
        line.remove_prefix(first);
        std::uint64_t uid = 0;
        const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), uid);
        if (ec != std::errc() || ptr == line.data()) {
          break;
        }
        // `n:*` always includes the highest UID, even below n.
        if (uid > last_uid) {
          uids.push_back(uid);
        }
        line.remove_prefix(static_cast<std::size_t>(ptr - line.data()));
      }
      pos = end;
    }
    std::sort(uids.begin(), uids.end());
    uids.erase(std::unique(uids.begin(), uids.end()), uids.end());
    return uids;
  }

  core::Result<std::string> fetch(std::uint64_t uid) override {
    std::string url = m_root + "INBOX";
    if (m_uidvalidity != 0) {
      // curl checks it against the SELECT: a changed mailbox fails instead
      // of returning another message under the same UID.
      url += ";UIDVALIDITY=" + std::to_string(m_uidvalidity);
    }
    url += "/;UID=" + std::to_string(uid);
    return perform(url, "", "FETCH");
  }

private:
  static std::size_t write_callback(char* data, std::size_t size, std::size_t count,
                                    void* user) {
    auto* out = static_cast<std::string*>(user);
    out->append(data, size * count);
    return size * count;
  }

  static int debug_callback(CURL* /*handle*/, curl_infotype type, char* data,
                            std::size_t size, void* user) {
    auto* self = static_cast<CurlImapMailbox*>(user);
    if (!self->m_settings.trace) {
      return 0;
    }
    std::string_view text(data, size);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
      text.remove_suffix(1);
    }
    if (type == CURLINFO_HEADER_OUT) {
      // Only commands known to carry no secret are shown as they are.
      const std::size_t space = text.find(' ');
      const std::string_view command =
          space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
      static constexpr std::string_view k_safe[] = {
          "CAPABILITY", "STARTTLS", "SELECT", "EXAMINE", "STATUS",
          "UID",        "NOOP",     "LOGOUT", "FETCH"};
      const bool safe = std::any_of(std::begin(k_safe), std::end(k_safe),
                                    [&](std::string_view s) { return starts_with_ci(command, s); });
      self->m_settings.trace(safe ? "C: " + std::string(text)
                                  : "C: <redacted " + std::to_string(size) + " bytes>");
    } else if (type == CURLINFO_HEADER_IN) {
      self->m_settings.trace("S: " + std::string(text));
    }
    return 0;
  }

  core::Status ensure_handle() {
    if (m_handle != nullptr) {
      return core::Ok{};
    }
    m_handle = curl_easy_init();
    if (m_handle == nullptr) {
      return core::make_error(core::ErrorKind::internal, "curl_easy_init failed");
    }
    CURL* h = m_handle;
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "imap,imaps");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, m_error);
    // imap:// must upgrade with STARTTLS or fail; imaps:// is TLS anyway.
    curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (m_settings.ca_file) {
      curl_easy_setopt(h, CURLOPT_CAINFO, m_settings.ca_file->c_str());
    }
    curl_easy_setopt(h, CURLOPT_USERNAME, m_settings.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, m_settings.password.c_str());
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(m_settings.connect_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(m_settings.transfer_timeout.count()));
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlImapMailbox::write_callback);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &CurlImapMailbox::debug_callback);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, this);
    return core::Ok{};
  }

  // One request on the shared handle; returns the body.
  // `custom` is the IMAP command to send, empty for the URL's own request.
  core::Result<std::string> perform(const std::string& url, const std::string& custom,
                                    const char* what) {
    PB_TRY(ensure_handle());
    CURL* h = m_handle;
    std::string body;
    m_error[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url.c_str());
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, custom.empty() ? nullptr : custom.c_str());
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    const CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
    if (rc != CURLE_OK) {
      std::string detail = m_error[0] != '\0' ? std::string(m_error) : curl_easy_strerror(rc);
      return core::make_error(kind_for(rc), "IMAP " + m_settings.host + ":" +
                                                std::to_string(m_settings.port) + " " +
                                                what + ": " + detail);
    }
    return body;
  }

  ImapSettings m_settings;
  std::string m_root;
  std::uint64_t m_uidvalidity = 0;
  CURL* m_handle = nullptr;
  char m_error[CURL_ERROR_SIZE] = {};
};

} // namespace

std::unique_ptr<Mailbox> make_curl_mailbox(ImapSettings settings) {
  return std::make_unique<CurlImapMailbox>(std::move(settings));
}

} // namespace pecbatch::receipts
