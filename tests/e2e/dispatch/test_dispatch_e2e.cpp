// End-to-end tests of the libcurl transport against the real simulated PEC
// provider (tools/pec-sandbox, docs/sandbox.md) on 127.0.0.1: one sandbox
// per test, started in SetUp and always stopped in TearDown. Faults are
// armed through the sandbox's control file; what the provider really
// accepted is read back from its submissions log.

#include <pecbatch/dispatch/transport.hpp>

#include "smtp_dialogue.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <spawn.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <vector>

extern char** environ;

namespace pecbatch::dispatch {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const fs::path k_sandbox =
    fs::path(PECBATCH_SOURCE_DIR) / "tools/pec-sandbox/pec-sandbox";
const fs::path k_noauth_server =
    fs::path(PECBATCH_SOURCE_DIR) / "tests/e2e/dispatch/noauth_server.py";
const std::string k_recipient = "dest@pec.sandbox.test";

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Runs the sandbox tool with `args`, bounded by coreutils timeout(1);
// returns its exit status, output appended to `log`.
int run_sandbox(const std::string& args, const fs::path& log) {
  const std::string command = "timeout 60 " + shell_quote(k_sandbox.string()) + " " +
                              args + " >>" + shell_quote(log.string()) + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string unique_id(const std::string& tag) {
  static std::atomic<int> counter{0};
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return tag + "." + std::to_string(::getpid()) + "." + std::to_string(++counter) + "." +
         info->name() + "@e2e.pecbatch.test";
}

class SandboxTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern =
        (fs::temp_directory_path() / "pecbatch-dispatch-e2e-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    m_base = pattern;
    // As root, Dovecot's mail user must be able to traverse the directory.
    ::chmod(m_base.c_str(), 0755);
    m_dir = m_base / "pec";
    const int rc = run_sandbox("start --dir " + shell_quote(m_dir.string()) + " --quiet",
                               m_base / "sandbox-cli.log");
    m_started = true; // stop even after a partial start
    ASSERT_EQ(rc, 0) << read_file(m_base / "sandbox-cli.log");
    m_info = json::parse(read_file(m_dir / "sandbox.json"));
    m_account = m_info["accounts"][0]["address"].get<std::string>();
    m_username = m_info["accounts"][0]["username"].get<std::string>();
    m_password = m_info["accounts"][0]["password"].get<std::string>();
  }

  void TearDown() override {
    if (m_noauth_pid > 0) {
      ::kill(m_noauth_pid, SIGTERM);
      ::waitpid(m_noauth_pid, nullptr, 0);
    }
    if (m_started) {
      EXPECT_EQ(run_sandbox("stop --dir " + shell_quote(m_dir.string()),
                            m_base / "sandbox-cli.log"),
                0);
    }
    if (m_base.empty()) {
      return;
    }
    // PECBATCH_E2E_TRACE=1 shows the (redacted) SMTP trace of every test.
    if ((HasFailure() || std::getenv("PECBATCH_E2E_TRACE") != nullptr) &&
        !m_trace.empty()) {
      std::cerr << "trace:\n" << trace_text();
    }
    if (HasFailure()) {
      std::cerr << "sandbox directory left in " << m_base << '\n';
    } else {
      std::error_code ec;
      fs::remove_all(m_base, ec);
    }
  }

  SmtpSettings settings(Security security = Security::tls) {
    SmtpSettings s;
    s.host = m_info["host"].get<std::string>();
    s.port = m_info[security == Security::tls ? "smtps_port" : "starttls_port"]
                 .get<std::uint16_t>();
    s.security = security;
    s.username = m_username;
    s.password = m_password;
    s.ca_file = m_info["ca_cert"].get<std::string>();
    s.helo_name = "client.pecbatch.test";
    s.connect_timeout = 5s;
    s.transfer_timeout = 5s;
    s.trace = [this](const std::string& line) { m_trace.push_back(line); };
    return s;
  }

  // A small RFC 5322 message from the sandbox account, CRLF line ends.
  std::string message(const std::string& id,
                      const std::string& body = "Buongiorno.\r\n") {
    return "From: " + m_account + "\r\n" + "To: " + k_recipient + "\r\n" +
           "Subject: pecbatch e2e\r\n" + "Message-ID: <" + id + ">\r\n" +
           "Date: Sun, 22 Nov 2026 12:00:00 +0100\r\n" + "MIME-Version: 1.0\r\n" +
           "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body;
  }

  struct Sent {
    SendResult result;
    int before_data_calls = 0;
    Clock::duration elapsed{};
  };

  Sent send(Transport& transport, const std::string& id, const std::string& data,
            std::function<core::Status()> hook = {}) {
    Sent sent;
    const Envelope envelope{m_account, k_recipient, "<" + id + ">", &data};
    const auto start = Clock::now();
    sent.result = transport.send(envelope, [&]() -> core::Status {
      ++sent.before_data_calls;
      return hook ? hook() : core::Status{};
    });
    sent.elapsed = Clock::now() - start;
    return sent;
  }

  std::vector<json> submissions() const {
    std::vector<json> records;
    std::istringstream in(read_file(m_dir / "submissions.jsonl"));
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) {
        records.push_back(json::parse(line));
      }
    }
    return records;
  }

  int accepted_copies(const std::string& id) const {
    int n = 0;
    for (const auto& r : submissions()) {
      if (r["message_id"] == "<" + id + ">" && r["accepted"].get<bool>()) {
        ++n;
      }
    }
    return n;
  }

  // Waits (bounded) until the log has a line for `id`; returns it.
  json wait_for_record(const std::string& id, std::chrono::seconds limit = 10s) const {
    const auto deadline = Clock::now() + limit;
    while (Clock::now() < deadline) {
      for (const auto& r : submissions()) {
        if (r["message_id"] == "<" + id + ">") {
          return r;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return json();
  }

  // Writes the control file atomically (temp file + rename).
  void arm(const json& control) {
    const fs::path target = m_dir / "control.json";
    const fs::path tmp = m_dir / "control.json.tmp";
    {
      std::ofstream out(tmp);
      out << control.dump();
    }
    fs::rename(tmp, target);
  }

  std::string trace_text() const {
    std::string all;
    for (const auto& line : m_trace) {
      all += line + "\n";
    }
    return all;
  }

  // The password, in clear or in any base64 form, never reaches the trace.
  void expect_trace_has_no_secret(const std::string& password) const {
    const std::string all = trace_text();
    for (const auto& secret : detail::secret_forms(m_username, password)) {
      EXPECT_EQ(all.find(secret), std::string::npos) << "secret in the trace";
    }
  }

  bool trace_has(const std::string& line) const {
    return std::find(m_trace.begin(), m_trace.end(), line) != m_trace.end();
  }

  // Starts tests/e2e/dispatch/noauth_server.py with the sandbox's TLS
  // certificate; returns its port.
  std::uint16_t start_noauth_server() {
    const fs::path ca_dir = fs::path(m_info["ca_cert"].get<std::string>()).parent_path();
    const fs::path port_file = m_base / "noauth.port";
    m_noauth_log = m_base / "noauth.log";
    std::vector<std::string> args = {"/usr/bin/python3",
                                     k_noauth_server.string(),
                                     (ca_dir / "tls.pem").string(),
                                     (ca_dir / "tls.key").string(),
                                     port_file.string(),
                                     m_noauth_log.string()};
    std::vector<char*> argv;
    for (auto& a : args) {
      argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) {
      ADD_FAILURE() << "cannot start " << k_noauth_server;
      return 0;
    }
    m_noauth_pid = pid;
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline) {
      if (fs::exists(port_file)) {
        return static_cast<std::uint16_t>(std::stoi(read_file(port_file)));
      }
      std::this_thread::sleep_for(20ms);
    }
    ADD_FAILURE() << "noauth server did not start";
    return 0;
  }

  fs::path m_base;
  fs::path m_dir;
  bool m_started = false;
  json m_info;
  std::string m_account;
  std::string m_username;
  std::string m_password;
  std::vector<std::string> m_trace;
  pid_t m_noauth_pid = 0;
  fs::path m_noauth_log;
};

bool transient_or_throttled(Outcome o) {
  return o == Outcome::transient || o == Outcome::throttled;
}

TEST_F(SandboxTest, AcceptedOverSmtps) {
  auto transport = make_curl_transport(settings(Security::tls));
  const std::string id = unique_id("smtps");
  const std::string marker = "BODY-MARKER-" + id;
  const Sent sent = send(*transport, id, message(id, marker + "\r\n"));
  EXPECT_EQ(sent.result.outcome, Outcome::accepted) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 250);
  EXPECT_EQ(sent.result.reply.enhanced, "2.0.0");
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_EQ(accepted_copies(id), 1);
  const json record = wait_for_record(id);
  EXPECT_EQ(record["listener"], "smtps");
  EXPECT_EQ(record["auth_user"], m_account);

  // The trace: the dialogue, AUTH redacted, no message bytes, no secret.
  EXPECT_TRUE(trace_has("C: EHLO client.pecbatch.test"));
  EXPECT_TRUE(trace_has("C: AUTH PLAIN"));
  EXPECT_TRUE(trace_has("S: 235 2.7.0 Authentication successful"));
  EXPECT_TRUE(trace_has(
      "C: <message: " + std::to_string(message(id, marker + "\r\n").size()) + " bytes>"));
  EXPECT_EQ(trace_text().find(marker), std::string::npos);
  EXPECT_EQ(trace_text().find("Subject:"), std::string::npos);
  EXPECT_NE(trace_text().find("C: <redacted "), std::string::npos);
  expect_trace_has_no_secret(m_password);
}

TEST_F(SandboxTest, AcceptedOverStarttls) {
  auto transport = make_curl_transport(settings(Security::starttls));
  const std::string id = unique_id("starttls");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::accepted) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_EQ(accepted_copies(id), 1);
  EXPECT_EQ(wait_for_record(id)["listener"], "starttls");
  EXPECT_TRUE(trace_has("C: STARTTLS"));
  expect_trace_has_no_secret(m_password);
}

TEST_F(SandboxTest, ReusesOneConnectionForManyMessages) {
  auto transport = make_curl_transport(settings());
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(unique_id("reuse"));
    const Sent sent = send(*transport, ids.back(), message(ids.back()));
    ASSERT_EQ(sent.result.outcome, Outcome::accepted) << sent.result.detail;
    EXPECT_EQ(sent.before_data_calls, 1);
  }
  std::set<int> sessions;
  for (const auto& id : ids) {
    EXPECT_EQ(accepted_copies(id), 1);
    sessions.insert(wait_for_record(id)["session"].get<int>());
  }
  EXPECT_EQ(sessions.size(), 1u);
  int auths = 0;
  for (const auto& line : m_trace) {
    auths += line.starts_with("C: AUTH ");
  }
  EXPECT_EQ(auths, 1); // authenticated once, for the one connection
}

TEST_F(SandboxTest, ReconnectsAfterMaxMessagesPerConnection) {
  SmtpSettings s = settings();
  s.max_messages_per_connection = 2;
  auto transport = make_curl_transport(s);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(unique_id("max"));
    ASSERT_EQ(send(*transport, ids.back(), message(ids.back())).result.outcome,
              Outcome::accepted);
  }
  std::vector<int> sessions;
  for (const auto& id : ids) {
    sessions.push_back(wait_for_record(id)["session"].get<int>());
  }
  EXPECT_EQ(sessions[0], sessions[1]);
  EXPECT_NE(sessions[1], sessions[2]);
  EXPECT_EQ(sessions[2], sessions[3]);
  EXPECT_NE(sessions[3], sessions[4]);
}

TEST_F(SandboxTest, WrongPasswordIsAuth) {
  SmtpSettings s = settings();
  const std::string wrong = "wrong-" + m_password;
  s.password = wrong;
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("badpw");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::auth) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 535);
  EXPECT_EQ(sent.result.reply.enhanced, "5.7.8");
  EXPECT_EQ(sent.before_data_calls, 0);
  EXPECT_EQ(accepted_copies(id), 0);
  expect_trace_has_no_secret(wrong);
  expect_trace_has_no_secret(m_password);
}

TEST_F(SandboxTest, UntrustedCertificateIsTls) {
  // System CAs only: the sandbox CA is not among them.
  SmtpSettings s = settings();
  s.ca_file.reset();
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("tls");
  Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::tls) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 0);

  // The same over STARTTLS, with an explicit CA file that is not the
  // sandbox's.
  SmtpSettings t = settings(Security::starttls);
  t.ca_file = "/etc/ssl/certs/ca-certificates.crt";
  auto other = make_curl_transport(t);
  sent = send(*other, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::tls) << sent.result.detail;
  EXPECT_EQ(accepted_copies(id), 0);
}

TEST_F(SandboxTest, RefusesToSendWhenTheServerOffersNoAuth) {
  const std::uint16_t port = start_noauth_server();
  ASSERT_NE(port, 0);
  SmtpSettings s = settings();
  s.port = port;
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("noauth");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::auth) << sent.result.detail;
  EXPECT_NE(sent.result.detail.find("refusing to send without AUTH"), std::string::npos);
  EXPECT_EQ(sent.before_data_calls, 0);
  // Give the server a moment to log what it got: no message data.
  std::this_thread::sleep_for(200ms);
  const std::string log = read_file(m_noauth_log);
  // Refused right after EHLO: no MAIL FROM, no DATA, no message bytes.
  EXPECT_NE(log.find("C: EHLO"), std::string::npos) << log;
  EXPECT_EQ(log.find("C: MAIL"), std::string::npos) << log;
  EXPECT_EQ(log.find("DATA"), std::string::npos) << log;
}

TEST_F(SandboxTest, TemporaryRepliesAreTransientOrThrottled) {
  auto transport = make_curl_transport(settings());
  const std::vector<json> faults = {
      {{"at", "connect"}, {"reply", 421}, {"count", 1}},
      {{"at", "mail"}, {"reply", 451}, {"count", 1}},
      {{"at", "rcpt"}, {"reply", 452}, {"count", 1}},
      {{"at", "data"}, {"reply", 451}, {"message", "4.7.1 Greylisted"}, {"count", 1}},
  };
  const std::vector<int> codes = {421, 451, 452, 451};
  for (std::size_t i = 0; i < faults.size(); ++i) {
    arm({{"faults", json::array({faults[i]})}});
    const std::string id = unique_id("temp");
    const Sent sent = send(*transport, id, message(id));
    EXPECT_TRUE(transient_or_throttled(sent.result.outcome))
        << faults[i].dump() << ": " << to_string(sent.result.outcome) << " "
        << sent.result.detail;
    EXPECT_EQ(sent.result.reply.code, codes[i]) << faults[i].dump();
    EXPECT_EQ(sent.before_data_calls, 0);
    EXPECT_EQ(accepted_copies(id), 0);
    if (i == 3) {
      EXPECT_EQ(sent.result.outcome, Outcome::transient); // greylisting: no rate text
      EXPECT_EQ(sent.result.reply.enhanced, "4.7.1");
    }
  }
  // The transport recovers: the next message goes out on a new connection.
  arm(json::object());
  const std::string id = unique_id("after");
  EXPECT_EQ(send(*transport, id, message(id)).result.outcome, Outcome::accepted);
  EXPECT_EQ(accepted_copies(id), 1);
}

TEST_F(SandboxTest, RateLimitIsThrottled) {
  arm({{"rate_limit_per_minute", 2}});
  auto transport = make_curl_transport(settings());
  for (int i = 0; i < 2; ++i) {
    const std::string id = unique_id("rate");
    ASSERT_EQ(send(*transport, id, message(id)).result.outcome, Outcome::accepted);
  }
  const std::string id = unique_id("rate");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::throttled) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 550);
  EXPECT_EQ(sent.result.reply.enhanced, "5.7.1");
  EXPECT_EQ(sent.result.reply.text,
            "Class Of Service - Too much traffic from this sender");
  EXPECT_EQ(sent.before_data_calls, 0);
  EXPECT_EQ(accepted_copies(id), 0);
}

TEST_F(SandboxTest, RejectedRecipientIsPermanent) {
  arm({{"faults",
        json::array(
            {{{"at", "rcpt"}, {"reply", 550}, {"message", "5.1.1 User unknown"}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("rcpt550");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::permanent) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 550);
  EXPECT_EQ(sent.result.reply.enhanced, "5.1.1");
  EXPECT_EQ(sent.before_data_calls, 0);
  EXPECT_EQ(accepted_copies(id), 0);
}

TEST_F(SandboxTest, RefusalAfterTheDataIsPermanent) {
  arm({{"faults", json::array({{{"at", "data-end"}, {"reply", 554}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("data554");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::permanent) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 554);
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_EQ(accepted_copies(id), 0);
}

TEST_F(SandboxTest, DropBeforeDataIsTransient) {
  arm({{"faults", json::array({{{"at", "mail"}, {"drop", true}, {"count", 1}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("dropmail");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::transient) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 0);
  EXPECT_EQ(accepted_copies(id), 0);
  const std::string again = unique_id("dropmail");
  EXPECT_EQ(send(*transport, again, message(again)).result.outcome, Outcome::accepted);
}

TEST_F(SandboxTest, DropDuringDataIsTransient) {
  // Large enough that libcurl is still handing data over when the server
  // drops the connection (it drops after the first line of data).
  std::string body;
  const std::string line(76, 'x');
  while (body.size() < 16u * 1024 * 1024) {
    body += line + "\r\n";
  }
  arm({{"faults", json::array({{{"at", "data-body"}, {"drop", true}, {"count", 1}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("dropbody");
  const Sent sent = send(*transport, id, message(id, body));
  EXPECT_EQ(sent.result.outcome, Outcome::transient) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_EQ(accepted_copies(id), 0);
  bool logged = false;
  for (const auto& r : submissions()) {
    logged = logged || r["outcome"] == "dropped-during-data";
  }
  EXPECT_TRUE(logged);
  EXPECT_EQ(trace_text().find(line), std::string::npos);
}

TEST_F(SandboxTest, DropAfterAcceptIsUnknown) {
  arm({{"faults", json::array({{{"at", "accepted"}, {"drop", true}, {"count", 1}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("dropaccepted");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::unknown) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 1);
  // ... and the provider did accept it: resending blindly would duplicate.
  const json record = wait_for_record(id);
  EXPECT_EQ(record["outcome"], "dropped-after-accept");
  EXPECT_EQ(accepted_copies(id), 1);
}

TEST_F(SandboxTest, DropAfterTheDataIsUnknown) {
  // Here the provider did not accept it, but the client cannot tell.
  arm({{"faults", json::array({{{"at", "data-end"}, {"drop", true}, {"count", 1}}})}});
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("dropend");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::unknown) << sent.result.detail;
  EXPECT_EQ(accepted_copies(id), 0);
}

TEST_F(SandboxTest, SlowReplyBeforeDataIsTransient) {
  arm({{"faults", json::array({{{"at", "mail"}, {"delay", 3}, {"count", 1}}})}});
  SmtpSettings s = settings();
  s.transfer_timeout = 1s;
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("slowmail");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::transient) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 0);
  EXPECT_LT(sent.elapsed, 2900ms); // our timeout ended it, not the server
}

TEST_F(SandboxTest, SlowFinalReplyIsUnknown) {
  arm({{"faults", json::array({{{"at", "data-end"}, {"delay", 3}, {"count", 1}}})}});
  SmtpSettings s = settings();
  s.transfer_timeout = 1s;
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("slowend");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::unknown) << sent.result.detail;
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_LT(sent.elapsed, 2900ms);
  // Whether the provider then finishes or abandons the transaction, the
  // client cannot know: "unknown" is the only honest answer.
}

TEST_F(SandboxTest, FailingBeforeDataSendsNothing) {
  auto transport = make_curl_transport(settings());
  const std::string id = unique_id("hookfail");
  const Sent sent = send(*transport, id, message(id), [] {
    return core::Status(core::make_error(core::ErrorKind::io, "journal write failed"));
  });
  EXPECT_EQ(sent.result.outcome, Outcome::transient);
  EXPECT_EQ(sent.result.detail, "journal write failed");
  EXPECT_EQ(sent.before_data_calls, 1);
  EXPECT_EQ(trace_text().find("C: <message:"), std::string::npos);
  // The next message goes out normally (over a new connection).
  const std::string next = unique_id("hookok");
  EXPECT_EQ(send(*transport, next, message(next)).result.outcome, Outcome::accepted);
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(accepted_copies(id), 0);
  EXPECT_EQ(accepted_copies(next), 1);
}

TEST_F(SandboxTest, ConnectionRefusedIsTransient) {
  SmtpSettings s = settings();
  s.port = 1; // tcpmux: privileged, and nothing listens there on a test machine
  auto transport = make_curl_transport(s);
  const std::string id = unique_id("refused");
  const Sent sent = send(*transport, id, message(id));
  EXPECT_EQ(sent.result.outcome, Outcome::transient) << sent.result.detail;
  EXPECT_EQ(sent.result.reply.code, 0);
}

} // namespace
} // namespace pecbatch::dispatch
