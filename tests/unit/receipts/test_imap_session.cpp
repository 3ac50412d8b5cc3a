// The IMAP command engine over a scripted stream: tags, literals both
// ways, login forms, STARTTLS rules, the redacted trace, desync safety.

#include "imap_session.hpp"
#include "scripted_stream.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string>
#include <vector>

using namespace pecbatch::receipts::imap;
using pecbatch::core::ErrorKind;
using pecbatch::test::k_pause;
using pecbatch::test::ScriptedStream;

namespace {

struct Fixture {
  explicit Fixture(std::string server, std::size_t chunk = 7)
      : stream(std::move(server), chunk),
        session(stream, "IMAP test:993",
                [this](const std::string &line) { trace.push_back(line); }) {}
  std::string traced() const {
    std::string out;
    for (const auto &line : trace) {
      out += line + "\n";
    }
    return out;
  }
  ScriptedStream stream;
  std::vector<std::string> trace;
  Session session;
};

} // namespace

TEST(ImapSession, AuthenticatePlainWithInitialResponseIsRedacted) {
  Fixture f("* OK ready\r\n"
            "* CAPABILITY IMAP4rev1 SASL-IR AUTH=PLAIN\r\nA0001 OK done\r\n"
            "A0002 OK [CAPABILITY IMAP4rev1 IDLE] Logged in\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  ASSERT_TRUE(f.session.refresh_capabilities().ok());
  auto status = f.session.login("user@pec.test", "s3cret!");
  ASSERT_TRUE(status.ok()) << status.error().message;
  // base64("\0user@pec.test\0s3cret!")
  EXPECT_NE(f.stream.written.find(
                "A0002 AUTHENTICATE PLAIN AHVzZXJAcGVjLnRlc3QAczNjcmV0IQ==\r\n"),
            std::string::npos)
      << f.stream.written;
  EXPECT_EQ(f.traced().find("s3cret"), std::string::npos);
  EXPECT_EQ(f.traced().find("AHVzZXJ"), std::string::npos);
  EXPECT_NE(f.traced().find("C: A0002 AUTHENTICATE PLAIN <redacted"), std::string::npos)
      << f.traced();
  // Capabilities after login come from the tagged OK's code.
  EXPECT_EQ(f.session.capabilities().count("IDLE"), 1u);
}

TEST(ImapSession, AuthenticatePlainWithoutSaslIrWaitsForTheContinuation) {
  Fixture f("* OK ready\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA0001 OK\r\n"
            "+ \r\nA0002 OK Logged in\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  ASSERT_TRUE(f.session.login("u", "p").ok());
  EXPECT_NE(f.stream.written.find("A0002 AUTHENTICATE PLAIN\r\nAHUAcA==\r\n"),
            std::string::npos)
      << f.stream.written;
  EXPECT_EQ(f.stream.writes, 3u); // CAPABILITY, AUTHENTICATE, the response line
  EXPECT_EQ(f.traced().find("AHUAcA"), std::string::npos);
}

TEST(ImapSession, LoginQuotesOrSendsLiterals) {
  Fixture quoted("* OK [CAPABILITY IMAP4rev1] ready\r\nA0001 OK\r\n");
  ASSERT_TRUE(quoted.session.greeting().ok());
  ASSERT_TRUE(quoted.session.login("user name", "pa\"ss\\word").ok());
  EXPECT_EQ(quoted.stream.written, "A0001 LOGIN \"user name\" \"pa\\\"ss\\\\word\"\r\n");
  EXPECT_EQ(quoted.traced().find("pa"), std::string::npos) << quoted.traced();

  // A password with a non-ASCII byte can only go as a literal: the client
  // waits for the server's "+" before sending it.
  Fixture literal("* OK [CAPABILITY IMAP4rev1] ready\r\n+ Ready\r\nA0001 OK\r\n");
  ASSERT_TRUE(literal.session.greeting().ok());
  ASSERT_TRUE(literal.session.login("user", "pässword").ok());
  EXPECT_EQ(literal.stream.written, "A0001 LOGIN user {9}\r\npässword\r\n");
  EXPECT_EQ(literal.stream.writes, 2u);
  EXPECT_EQ(literal.traced().find("ssword"), std::string::npos);
}

TEST(ImapSession, RefusedLoginIsAnAuthError) {
  Fixture f("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN SASL-IR] ready\r\n"
            "A0001 NO [AUTHENTICATIONFAILED] Authentication failed.\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto status = f.session.login("u", "wrong");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::auth);
  EXPECT_NE(status.error().message.find("AUTHENTICATIONFAILED"), std::string::npos);

  Fixture disabled("* OK [CAPABILITY IMAP4rev1 LOGINDISABLED] ready\r\n");
  ASSERT_TRUE(disabled.session.greeting().ok());
  status = disabled.session.login("u", "p");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::config);
  EXPECT_TRUE(disabled.stream.written.empty());
}

TEST(ImapSession, StarttlsIsRequiredAndForgetsWhatCameBefore) {
  Fixture missing("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] ready\r\n");
  ASSERT_TRUE(missing.session.greeting().ok());
  auto status = missing.session.starttls();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::tls);
  EXPECT_TRUE(missing.stream.written.empty()); // never a LOGIN in the clear
  EXPECT_FALSE(missing.stream.tls);

  Fixture ok("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\nA0001 OK Begin "
             "TLS\r\n");
  ASSERT_TRUE(ok.session.greeting().ok());
  ASSERT_TRUE(ok.session.starttls().ok());
  EXPECT_TRUE(ok.stream.tls);
  EXPECT_TRUE(ok.session.capabilities().empty());
  EXPECT_EQ(ok.stream.written, "A0001 STARTTLS\r\n");

  Fixture refused("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\nA0001 BAD no\r\n");
  ASSERT_TRUE(refused.session.greeting().ok());
  status = refused.session.starttls();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::tls);
}

TEST(ImapSession, DataInjectedAfterTheStarttlsOkIsRefused) {
  // The whole script arrives at once, as an attacker's injected bytes would.
  Fixture f("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"
            "A0001 OK Begin TLS\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n",
            4096);
  ASSERT_TRUE(f.session.greeting().ok());
  auto status = f.session.starttls();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().kind, ErrorKind::tls);
  EXPECT_FALSE(f.stream.tls);
}

TEST(ImapSession, ABodyLineThatLooksLikeTheTagNeverEndsTheCommand) {
  const std::string body =
      "Subject: trap\r\n\r\nA0001 OK FETCH completed.\r\nA0002 OK\r\n";
  const std::string script = "* OK ready\r\n"
                             "* 1 FETCH (UID 5 BODY[] {" +
                             std::to_string(body.size()) + "}\r\n" + body +
                             ")\r\nA0001 OK Fetch completed.\r\n"
                             "* SEARCH 5\r\nA0002 OK Search completed.\r\n";
  Fixture f(script);
  ASSERT_TRUE(f.session.greeting().ok());
  auto fetched = f.session.command("UID FETCH 5 (UID BODY.PEEK[])");
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  ASSERT_EQ(fetched->untagged.size(), 1u);
  auto data = fetch_data(fetched->untagged[0]);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->body("BODY[]")->text, body);
  EXPECT_EQ(fetched->tagged.text, "Fetch completed.");

  // The connection is still in step: the next command gets its own reply.
  auto searched = f.session.command("UID SEARCH UID 5:*");
  ASSERT_TRUE(searched.ok()) << searched.error().message;
  ASSERT_EQ(searched->untagged.size(), 1u);
  EXPECT_EQ(searched->untagged[0].name, "SEARCH");
  EXPECT_EQ(searched->tagged.tag, "A0002");

  // The trace shows the literal's size, never its bytes.
  EXPECT_EQ(f.traced().find("trap"), std::string::npos) << f.traced();
  EXPECT_NE(f.traced().find("BODY[] <" + std::to_string(body.size()) + " bytes>"),
            std::string::npos)
      << f.traced();
  EXPECT_EQ(f.session.bytes_received(), script.size());
}

TEST(ImapSession, AResponseToAnotherTagIsADesync) {
  Fixture f("* OK ready\r\nA0007 OK what\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto reply = f.session.command("NOOP");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::protocol);
}

TEST(ImapSession, ByeThenCloseIsTransientWithTheServersWords) {
  Fixture f("* OK ready\r\n* BYE Server shutting down.\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto reply = f.session.command("UID SEARCH UID 1:*");
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::transient);
  EXPECT_NE(reply.error().message.find("Server shutting down."), std::string::npos);

  Fixture refused("* BYE Too many connections\r\n");
  auto greeting = refused.session.greeting();
  ASSERT_FALSE(greeting.ok());
  EXPECT_EQ(greeting.error().kind, ErrorKind::transient);

  Fixture http("HTTP/1.1 400 Bad Request\r\n");
  greeting = http.session.greeting();
  ASSERT_FALSE(greeting.ok());
  EXPECT_EQ(greeting.error().kind, ErrorKind::protocol);
}

TEST(ImapSession, SearchLiteralsWaitForTheContinuation) {
  Fixture f("* OK ready\r\n+ go ahead\r\n* SEARCH 3 4\r\nA0001 OK done\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto reply = f.session.command({Part{"UID SEARCH CHARSET UTF-8 HEADER Subject "},
                                  Part{"caffè", Part::Kind::literal}});
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(f.stream.written,
            "A0001 UID SEARCH CHARSET UTF-8 HEADER Subject {6}\r\ncaffè\r\n");
  ASSERT_EQ(reply->untagged.size(), 1u);

  // A server that refuses instead of "+": the literal is never sent.
  Fixture no("* OK ready\r\nA0001 NO too big\r\n");
  ASSERT_TRUE(no.session.greeting().ok());
  reply = no.session.command({Part{"X "}, Part{"secret", Part::Kind::literal}});
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->tagged.status, Status::no);
  EXPECT_EQ(no.stream.written.find("secret"), std::string::npos);
}

// IDLE (RFC 2177): waits in slices, wakes on what the caller asks for (new
// mail), always ends with DONE and reads the tagged reply.
TEST(ImapSession, IdleWakesOnExistsAndEndsWithDone) {
  Fixture f(std::string("* OK ready\r\n+ idling\r\n") + std::string(k_pause) +
            "* OK Still here\r\n" + std::string(k_pause) + "* 4 EXISTS\r\n* 1 RECENT\r\n" +
            "A0001 OK Idle completed (0.001 + 4.2 secs).\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  unsigned exists = 0;
  std::vector<std::string> observed;
  f.session.set_observer([&](const Response &r) {
    observed.push_back(r.name);
    exists += r.name == "EXISTS" ? 1 : 0;
  });
  unsigned asked = 0;
  auto reply = f.session.idle(
      [&] {
        ++asked;
        return std::chrono::milliseconds(200);
      },
      [&] { return exists > 0; });
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->tagged.status, Status::ok);
  EXPECT_EQ(f.stream.written, "A0001 IDLE\r\nDONE\r\n");
  // DONE only after the EXISTS: both silences passed with IDLE going on.
  ASSERT_EQ(f.stream.written_at_pause.size(), 2u);
  EXPECT_EQ(f.stream.written_at_pause[0], std::string("A0001 IDLE\r\n").size());
  EXPECT_EQ(f.stream.written_at_pause[1], std::string("A0001 IDLE\r\n").size());
  EXPECT_GE(asked, 2u);
  for (const auto wait : f.stream.waits) {
    EXPECT_EQ(wait, std::chrono::milliseconds(200));
  }
  // "* OK Still here" did not wake it; every untagged response was seen.
  EXPECT_EQ(observed, (std::vector<std::string>{"OK", "EXISTS", "RECENT"}));
  EXPECT_NE(f.traced().find("C: DONE"), std::string::npos) << f.traced();
}

TEST(ImapSession, IdleEndsWhenTheCallerStopsWaiting) {
  Fixture f(std::string("* OK ready\r\n+ idling\r\n") + std::string(k_pause) +
            std::string(k_pause) + std::string(k_pause) + "A0001 OK Idle completed.\r\n" +
            "* SEARCH 7\r\nA0002 OK done\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  int slices = 2; // time left for two waits, then the deadline (or a stop)
  auto reply = f.session.idle(
      [&] { return std::chrono::milliseconds(slices-- > 0 ? 150 : 0); },
      [] { return false; });
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->tagged.status, Status::ok);
  EXPECT_EQ(f.stream.waits, (std::vector<std::chrono::milliseconds>{
                                std::chrono::milliseconds(150), std::chrono::milliseconds(150)}));
  EXPECT_EQ(f.stream.written, "A0001 IDLE\r\nDONE\r\n");
  // The session goes on in step after IDLE.
  auto next = f.session.command("UID SEARCH UID 7:*");
  ASSERT_TRUE(next.ok()) << next.error().message;
  EXPECT_EQ(next->tagged.tag, "A0002");
  ASSERT_EQ(next->untagged.size(), 1u);
  EXPECT_EQ(next->untagged[0].name, "SEARCH");
}

TEST(ImapSession, IdleRefusedGetsNoDone) {
  Fixture f("* OK ready\r\nA0001 BAD Unknown command.\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto reply = f.session.idle([] { return std::chrono::milliseconds(100); },
                              [] { return false; });
  ASSERT_TRUE(reply.ok()) << reply.error().message;
  EXPECT_EQ(reply->tagged.status, Status::bad);
  EXPECT_EQ(f.stream.written, "A0001 IDLE\r\n");
  EXPECT_TRUE(f.stream.waits.empty());
}

TEST(ImapSession, AConnectionLostWhileIdlingIsTransient) {
  Fixture f(std::string("* OK ready\r\n+ idling\r\n") + std::string(k_pause) +
            "* BYE Disconnected for inactivity.\r\n");
  ASSERT_TRUE(f.session.greeting().ok());
  auto reply = f.session.idle([] { return std::chrono::milliseconds(100); },
                              [] { return false; });
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.error().kind, ErrorKind::transient);
  EXPECT_NE(reply.error().message.find("inactivity"), std::string::npos)
      << reply.error().message;
}
