// The libcurl SMTP transport (make_curl_transport in
// include/pecbatch/dispatch/transport.hpp).
//
// libcurl 7.88 facts this file relies on (docs/TEST-INFRA.md, checked
// against the sandbox):
//  * one easy handle keeps its connection between curl_easy_perform calls;
//    any error closes it (the next send opens a new one);
//  * the read callback is first called after the server's 354, so the
//    `before_data` hook runs there, before any message byte leaves;
//  * every server line (the final reply after the data included) and every
//    command reaches CURLOPT_DEBUGFUNCTION as CURLINFO_HEADER_IN/OUT (with
//    CURLOPT_VERBOSE on), which is where the trace, the AUTH check and the
//    final-reply tracking come from (smtp_dialogue.hpp);
//  * libcurl skips AUTH, and still sends, when the server does not
//    advertise AUTH: we refuse unless this connection saw a 235, in the
//    pre-request callback (called after EHLO/AUTH, before MAIL FROM, on new
//    and reused connections alike) and again in the read callback;
//  * CURLOPT_CAINFO replaces the default CA bundle *file* but keeps the
//    default CA *directory* (Debian's libcurl is built with
//    --with-ca-path=/etc/ssl/certs), so `ca_file` is trusted in addition to
//    the system CAs there. With a libcurl built without a CA path only
//    `ca_file` is trusted for this provider, which is stricter, not weaker.

#include <pecbatch/dispatch/transport.hpp>

#include "smtp_dialogue.hpp"

#include <pecbatch/net/curl.hpp>

#include <curl/curl.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pecbatch::dispatch {

namespace {

// Errors that say the request itself is wrong (bad settings or a bug),
// not that the network or the server failed: retrying will not help.
bool is_local_error(CURLcode rc) {
  switch (rc) {
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_FAILED_INIT:
  case CURLE_URL_MALFORMAT:
  case CURLE_NOT_BUILT_IN:
  case CURLE_BAD_FUNCTION_ARGUMENT:
  case CURLE_UNKNOWN_OPTION:
    return true;
  default:
    return false;
  }
}

// An address fit for MAIL FROM / RCPT TO: not empty, and nothing that
// could end the command or change its syntax (CR, LF, NUL, angle brackets).
bool is_safe_address(const std::string& address) {
  return !address.empty() &&
         address.find_first_of(std::string_view("\r\n\0<>", 5)) == std::string::npos;
}

std::string make_url(const SmtpSettings& settings) {
  std::string host = settings.host;
  if (host.find(':') != std::string::npos && !host.starts_with('[')) {
    host = "[" + host + "]"; // IPv6 literal
  }
  std::string helo = settings.helo_name;
  char* escaped = curl_easy_escape(nullptr, helo.data(), static_cast<int>(helo.size()));
  if (escaped != nullptr) {
    helo = escaped;
    curl_free(escaped);
  }
  const char* scheme = settings.security == Security::tls ? "smtps" : "smtp";
  // The path is the EHLO argument (libcurl takes it from there).
  return std::string(scheme) + "://" + host + ":" + std::to_string(settings.port) + "/" +
         helo;
}

class CurlSmtpTransport final : public Transport {
public:
  explicit CurlSmtpTransport(SmtpSettings settings)
      : m_settings(std::move(settings)), m_url(make_url(m_settings)),
        m_dialogue(m_settings.trace,
                   detail::secret_forms(m_settings.username, m_settings.password)) {
    net::curl_global_init_once();
  }

  ~CurlSmtpTransport() override { close(); }

  CurlSmtpTransport(const CurlSmtpTransport&) = delete;
  CurlSmtpTransport& operator=(const CurlSmtpTransport&) = delete;

  SendResult send(const Envelope& envelope,
                  const std::function<core::Status()>& before_data) override;
  void close() override;

private:
  // The per-send state the callbacks work on.
  struct Current {
    const Envelope* envelope = nullptr;
    const std::function<core::Status()>* before_data = nullptr;
    std::size_t offset = 0;
    bool started = false;
    std::optional<SendResult> aborted; // set when a callback refused to go on
  };

  CURL* handle();
  SendResult classify(CURLcode rc) const;
  std::string curl_detail(CURLcode rc) const;

  std::optional<SendResult> check_authenticated() const;
  int on_prereq();
  std::size_t on_read(char* buffer, std::size_t capacity);
  static int prereq_callback(void* userp, char* primary_ip, char* local_ip,
                             int primary_port, int local_port);
  static std::size_t read_callback(char* buffer, std::size_t size, std::size_t nitems,
                                   void* userp);
  static int debug_callback(CURL* handle, curl_infotype type, char* data,
                            std::size_t size, void* userp);
  static int sockopt_callback(void* userp, curl_socket_t fd, curlsocktype purpose);
  static std::size_t discard_callback(char* data, std::size_t size, std::size_t nitems,
                                      void* userp);

  SmtpSettings m_settings;
  std::string m_url;
  detail::SmtpDialogue m_dialogue;
  CURL* m_curl = nullptr;
  unsigned m_messages_on_connection = 0;
  Current m_current;
  char m_error[CURL_ERROR_SIZE] = {};
};

CURL* CurlSmtpTransport::handle() {
  if (m_curl != nullptr) {
    return m_curl;
  }
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    return nullptr;
  }
  const auto ms = [](std::chrono::milliseconds d) {
    return static_cast<long>(std::max<std::chrono::milliseconds::rep>(d.count(), 0));
  };
  // Seconds, rounded up, for options that take seconds only.
  const auto secs = [](std::chrono::milliseconds d) {
    return static_cast<long>(
        std::max<std::chrono::milliseconds::rep>((d.count() + 999) / 1000, 1));
  };
  curl_easy_setopt(h, CURLOPT_URL, m_url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
                   m_settings.security == Security::tls ? "smtps" : "smtp");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, m_error);
  // Never plaintext: STARTTLS is required on smtp://, implicit on smtps://.
  curl_easy_setopt(h, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  curl_easy_setopt(h, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (m_settings.ca_file) {
    // Replaces the default CA bundle file; the default CA directory stays
    // (see the comment at the top of this file).
    curl_easy_setopt(h, CURLOPT_CAINFO, m_settings.ca_file->c_str());
  }
  curl_easy_setopt(h, CURLOPT_USERNAME, m_settings.username.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, m_settings.password.c_str());
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms(m_settings.connect_timeout));
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms(m_settings.transfer_timeout));
  // libcurl waits at most 120 s for any SMTP reply by default; let the
  // transfer timeout be the one limit.
  curl_easy_setopt(h, CURLOPT_SERVER_RESPONSE_TIMEOUT, secs(m_settings.transfer_timeout));
  curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(h, CURLOPT_MAXCONNECTS, 1L);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &CurlSmtpTransport::read_callback);
  curl_easy_setopt(h, CURLOPT_READDATA, this);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &CurlSmtpTransport::discard_callback);
  curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, &CurlSmtpTransport::prereq_callback);
  curl_easy_setopt(h, CURLOPT_PREREQDATA, this);
  curl_easy_setopt(h, CURLOPT_SOCKOPTFUNCTION, &CurlSmtpTransport::sockopt_callback);
  curl_easy_setopt(h, CURLOPT_SOCKOPTDATA, this);
  // The debug callback is the dialogue tracker's only input: always on,
  // whether or not a trace was asked for.
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, &CurlSmtpTransport::debug_callback);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, this);
  m_curl = h;
  return m_curl;
}

SendResult CurlSmtpTransport::send(const Envelope& envelope,
                                   const std::function<core::Status()>& before_data) {
  if (envelope.data == nullptr) {
    return SendResult{Outcome::permanent, {}, "no message data"};
  }
  if (!is_safe_address(envelope.mail_from) || !is_safe_address(envelope.rcpt_to)) {
    return SendResult{Outcome::permanent,
                      {},
                      "invalid envelope address (empty, or CR, LF, NUL, '<' or '>')"};
  }
  CURL* h = handle();
  if (h == nullptr) {
    return SendResult{Outcome::transient, {}, "cannot create a libcurl handle"};
  }

  curl_slist* rcpt = curl_slist_append(nullptr, envelope.rcpt_to.c_str());
  if (rcpt == nullptr) {
    return SendResult{Outcome::transient, {}, "out of memory"};
  }
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, envelope.mail_from.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                   static_cast<curl_off_t>(envelope.data->size()));

  m_current = Current{};
  m_current.envelope = &envelope;
  m_current.before_data = &before_data;
  m_dialogue.begin_message();
  m_error[0] = '\0';

  const CURLcode rc = curl_easy_perform(h);

  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, static_cast<curl_slist*>(nullptr));
  curl_slist_free_all(rcpt);

  if (rc != CURLE_OK && m_dialogue.data_was_started() &&
      !m_dialogue.all_data_handed_over() && !m_current.aborted) {
    m_dialogue.data_incomplete(m_current.offset, envelope.data->size());
  }
  SendResult result = classify(rc);
  m_current = Current{};

  if (result.outcome == Outcome::accepted && rc == CURLE_OK) {
    ++m_messages_on_connection;
    if (m_settings.max_messages_per_connection > 0 &&
        m_messages_on_connection >= m_settings.max_messages_per_connection) {
      close();
    }
  } else {
    // libcurl has dropped the connection already on any error; start the
    // next message from a clean handle and a clean per-connection state.
    close();
  }
  return result;
}

void CurlSmtpTransport::close() {
  if (m_curl != nullptr) {
    // Sends QUIT on a live cached connection, then closes it.
    curl_easy_cleanup(m_curl);
    m_curl = nullptr;
  }
  m_messages_on_connection = 0;
  m_dialogue.new_connection();
}

std::string CurlSmtpTransport::curl_detail(CURLcode rc) const {
  std::string text = m_error[0] != '\0' ? std::string(m_error) : curl_easy_strerror(rc);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.pop_back();
  }
  return "curl error " + std::to_string(static_cast<int>(rc)) + ": " + text;
}

SendResult CurlSmtpTransport::classify(CURLcode rc) const {
  SendResult result;
  const auto& last = m_dialogue.last_reply();
  const auto& after_data = m_dialogue.reply_after_data();
  if (last) {
    result.reply = *last;
  } else if (m_curl != nullptr) {
    long code = 0;
    curl_easy_getinfo(m_curl, CURLINFO_RESPONSE_CODE, &code);
    result.reply.code = static_cast<int>(code);
  }

  // We refused to send (no AUTH seen, or before_data failed).
  if (m_current.aborted) {
    SendResult aborted = *m_current.aborted;
    aborted.reply = result.reply;
    return aborted;
  }

  if (m_dialogue.all_data_handed_over()) {
    if (after_data) {
      result.reply = *after_data;
      result.outcome = classify_reply(*after_data);
      if (result.outcome == Outcome::accepted && rc != CURLE_OK) {
        result.detail = "accepted; then " + curl_detail(rc);
      } else if (result.outcome != Outcome::accepted) {
        result.detail =
            "refused after the end of data: " + std::to_string(after_data->code) +
            (after_data->enhanced.empty() ? "" : " " + after_data->enhanced) + " " +
            after_data->text;
      }
      return result;
    }
    // Everything was handed over, and the final reply never came: the
    // provider may well have the message.
    result.outcome = Outcome::unknown;
    result.detail =
        "all data was sent but no final reply was received (" +
        (rc == CURLE_OK ? std::string("transfer ended without one") : curl_detail(rc)) +
        "): the provider may have accepted the message";
    return result;
  }

  if (rc == CURLE_OK) {
    // Cannot happen with libcurl (it succeeds only after the final 250);
    // treat it as the doubt it would be.
    result.outcome = Outcome::unknown;
    result.detail = "transfer ended without the end of data";
    return result;
  }
  result.detail = curl_detail(rc);
  if (net::is_curl_tls_error(rc)) {
    result.outcome = Outcome::tls;
    return result;
  }
  if (last && last->code >= 400) {
    result.outcome = classify_reply(*last);
    if (rc == CURLE_LOGIN_DENIED && result.outcome == Outcome::permanent) {
      result.outcome = Outcome::auth; // e.g. 504 to our AUTH mechanism
    }
    return result;
  }
  if (rc == CURLE_LOGIN_DENIED) {
    result.outcome = Outcome::auth;
    return result;
  }
  if (is_local_error(rc)) {
    result.outcome = Outcome::permanent;
    return result;
  }
  // Connection refused or lost, timeouts, DNS: before the end of data the
  // provider cannot have the message.
  result.outcome = Outcome::transient;
  return result;
}

std::optional<SendResult> CurlSmtpTransport::check_authenticated() const {
  if (m_dialogue.authenticated()) {
    return std::nullopt;
  }
  std::string detail = "server did not authenticate us: refusing to send without AUTH";
  if (!m_dialogue.auth_advertised()) {
    detail += " (its EHLO reply offered no AUTH)";
  }
  return SendResult{Outcome::auth, {}, std::move(detail)};
}

int CurlSmtpTransport::on_prereq() {
  // The connection is up (EHLO, STARTTLS and AUTH done, or reused); MAIL
  // FROM comes next.
  if (auto refused = check_authenticated()) {
    m_current.aborted = std::move(refused);
    return CURL_PREREQFUNC_ABORT;
  }
  return CURL_PREREQFUNC_OK;
}

int CurlSmtpTransport::prereq_callback(void* userp, char* /*primary_ip*/,
                                       char* /*local_ip*/, int /*primary_port*/,
                                       int /*local_port*/) {
  return static_cast<CurlSmtpTransport*>(userp)->on_prereq();
}

std::size_t CurlSmtpTransport::on_read(char* buffer, std::size_t capacity) {
  if (m_current.envelope == nullptr) {
    return CURL_READFUNC_ABORT;
  }
  if (!m_current.started) {
    m_current.started = true;
    m_dialogue.data_started();
    // Checked before MAIL FROM already; again here, just before the data.
    if (auto refused = check_authenticated()) {
      m_current.aborted = std::move(refused);
      return CURL_READFUNC_ABORT;
    }
    if (*m_current.before_data) {
      std::string failure;
      try {
        core::Status status = (*m_current.before_data)();
        if (!status.ok()) {
          failure = status.error().message;
          if (failure.empty()) {
            failure = "before_data failed";
          }
        }
      } catch (const std::exception& e) {
        failure = std::string("before_data threw: ") + e.what();
      } catch (...) {
        failure = "before_data threw an unknown exception";
      }
      if (!failure.empty()) {
        m_current.aborted = SendResult{Outcome::transient, {}, std::move(failure)};
        return CURL_READFUNC_ABORT;
      }
    }
  }
  const std::string& data = *m_current.envelope->data;
  const std::size_t n = std::min(capacity, data.size() - m_current.offset);
  if (n > 0) {
    std::memcpy(buffer, data.data() + m_current.offset, n);
    m_current.offset += n;
  }
  if (m_current.offset == data.size() && !m_dialogue.all_data_handed_over()) {
    m_dialogue.data_complete(data.size());
  }
  return n;
}

std::size_t CurlSmtpTransport::read_callback(char* buffer, std::size_t size,
                                             std::size_t nitems, void* userp) {
  return static_cast<CurlSmtpTransport*>(userp)->on_read(buffer, size * nitems);
}

int CurlSmtpTransport::debug_callback(CURL* /*handle*/, curl_infotype type, char* data,
                                      std::size_t size, void* userp) {
  auto* self = static_cast<CurlSmtpTransport*>(userp);
  try {
    switch (type) {
    case CURLINFO_HEADER_IN:
      self->m_dialogue.server_bytes(std::string_view(data, size));
      break;
    case CURLINFO_HEADER_OUT:
      self->m_dialogue.client_bytes(std::string_view(data, size));
      break;
    default:
      // CURLINFO_DATA_OUT is the message: never traced. TLS records and
      // libcurl's own text are of no use here.
      break;
    }
  } catch (...) {
    // A throwing trace sink must not unwind through libcurl.
  }
  return 0;
}

int CurlSmtpTransport::sockopt_callback(void* userp, curl_socket_t /*fd*/,
                                        curlsocktype /*purpose*/) {
  auto* self = static_cast<CurlSmtpTransport*>(userp);
  // A new connection: it has not authenticated us yet.
  self->m_dialogue.new_connection();
  self->m_messages_on_connection = 0;
  return CURL_SOCKOPT_OK;
}

std::size_t CurlSmtpTransport::discard_callback(char* /*data*/, std::size_t size,
                                                std::size_t nitems, void* /*userp*/) {
  return size * nitems;
}

} // namespace

std::unique_ptr<Transport> make_curl_transport(const SmtpSettings& settings) {
  return std::make_unique<CurlSmtpTransport>(settings);
}

} // namespace pecbatch::dispatch
