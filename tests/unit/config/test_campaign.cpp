#include <pecbatch/config/campaign.hpp>

#include "support/temp_dir.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <sys/stat.h>

using namespace pecbatch;
using namespace pecbatch::config;
using ::testing::HasSubstr;

namespace {

const char* k_minimal = R"(# a minimal campaign
[campaign]
id = "fatture-2026-11"

[account]
address = "ufficio@pec.example.it"
password_env = "PEC_PASSWORD"

[provider]
profile = "legalmail"

[contacts]
file = "contacts.csv"

[message]
subject = "Fattura {{numero}}"
text_template = "templates/message.txt"
)";

class CampaignTest : public test::TempDirTest {
protected:
  core::Result<Campaign> load(const std::string& text,
                              const std::vector<Override>& overrides = {}) {
    return load_campaign(write("campaign.toml", text), overrides);
  }

  static const Setting* setting(const Campaign& c, const std::string& key) {
    for (const auto& s : c.settings) {
      if (s.key == key) {
        return &s;
      }
    }
    return nullptr;
  }
};

} // namespace

TEST_F(CampaignTest, LoadsMinimalCampaignWithProfileDefaults) {
  auto c = load(k_minimal);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->id, "fatture-2026-11");
  EXPECT_EQ(c->name, "fatture-2026-11");
  EXPECT_EQ(c->account.username, "ufficio@pec.example.it");
  EXPECT_EQ(c->account.smtp_host, "sendm.cert.legalmail.it");
  EXPECT_EQ(c->account.smtp_port, 465);
  EXPECT_EQ(c->limits.rate_per_minute, 6u);
  EXPECT_EQ(c->message.receipt, compose::ReceiptType::breve);
  // Paths are relative to the campaign file.
  EXPECT_EQ(c->contacts.file, dir() / "contacts.csv");
  EXPECT_EQ(c->message.text_template, dir() / "templates/message.txt");
  EXPECT_EQ(c->output_dir, dir() / "pecbatch-fatture-2026-11");
}

TEST_F(CampaignTest, RecordsWhereEachValueCameFrom) {
  auto c = load(k_minimal, {Override{"contacts.file", "other.csv", "--contacts", "/cwd"}});
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(setting(*c, "campaign.id")->origin, dir().string() + "/campaign.toml:3");
  EXPECT_EQ(setting(*c, "provider.rate_per_minute")->origin, "profile legalmail");
  EXPECT_EQ(setting(*c, "provider.rate_per_minute")->value, "6");
  EXPECT_EQ(setting(*c, "contacts.file")->origin, "--contacts");
  EXPECT_EQ(c->contacts.file, "/cwd/other.csv");
  EXPECT_EQ(setting(*c, "contacts.encoding")->origin, "default");
  EXPECT_EQ(setting(*c, "account.username")->origin, "account.address");
  // Every known key appears once.
  EXPECT_EQ(c->settings.size(), known_keys().size());
}

TEST_F(CampaignTest, OverridesParseAsTomlValuesOrStrings) {
  auto c = load(k_minimal, {
                               Override{"provider.rate_per_minute", "3", "--set", "/"},
                               Override{"message.receipt", "sintetica", "--set", "/"},
                               Override{"provider.max_message_size", "\"10 MB\"", "--set", "/"},
                           });
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->limits.rate_per_minute, 3u);
  EXPECT_EQ(c->message.receipt, compose::ReceiptType::sintetica);
  EXPECT_EQ(c->limits.message.max_message_bytes, 10'000'000u);
}

TEST_F(CampaignTest, UnknownKeysGetFileLineAndSuggestion) {
  std::string text = k_minimal;
  text += "\n[contacts2]\nx = 1\n";
  text.replace(text.find("password_env"), 12, "pasword_env");
  auto c = load(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, core::ErrorKind::config);
  const std::string file = (dir() / "campaign.toml").string();
  EXPECT_THAT(c.error().message,
              HasSubstr(file + ":7: account.pasword_env: unknown key (did you mean "
                               "account.password_env?)"));
  EXPECT_THAT(c.error().message,
              HasSubstr(":19: contacts2: unknown section (did you mean [contacts]?)"));
}

TEST_F(CampaignTest, WrongTypesAndMissingKeysAreAllReported) {
  auto c = load(R"([campaign]
id = 12
[account]
address = "Mario <mario@pec.it>"
smtp_port = "465"
[provider]
profile = "arubba"
rate_per_minute = -1
[message]
subject = "x"
text_template = "t.txt"
receipt = "full"
)");
  ASSERT_FALSE(c.ok());
  const auto& m = c.error().message;
  EXPECT_THAT(m, HasSubstr(":2: campaign.id: expected a string, got an integer"));
  EXPECT_THAT(m, HasSubstr(":4: account.address: not a valid PEC address"));
  EXPECT_THAT(m, HasSubstr(":5: account.smtp_port: expected a port number"));
  EXPECT_THAT(m, HasSubstr(":7: provider.profile: must be one of"));
  EXPECT_THAT(m, HasSubstr("(did you mean \"aruba\"?)"));
  EXPECT_THAT(m, HasSubstr(":8: provider.rate_per_minute: out of range"));
  EXPECT_THAT(m, HasSubstr(":12: message.receipt: must be one of"));
  EXPECT_THAT(m, HasSubstr("campaign.toml: contacts.file: missing required key"));
  EXPECT_THAT(m, HasSubstr("campaign.id: missing required key"));
}

TEST_F(CampaignTest, SyntaxErrorsNameTheLine) {
  auto c = load("[campaign]\nid = \"x\nname = 3\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("campaign.toml:2:"));
}

TEST_F(CampaignTest, MissingFileIsNoInput) {
  auto c = load_campaign(dir() / "absent.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, core::ErrorKind::no_input);
}

TEST_F(CampaignTest, RefusesTwoPasswordSourcesAndPasswordsInPlaceOfNames) {
  std::string text = k_minimal;
  text.replace(text.find("password_env = \"PEC_PASSWORD\""), 29,
               "password_env = \"s3cret!pw\"\npassword_command = \"pass show pec\"");
  auto c = load(text);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("set only one of"));
  EXPECT_THAT(c.error().message, HasSubstr("must be the NAME of an environment variable"));
  EXPECT_THAT(c.error().message, ::testing::Not(HasSubstr("s3cret!pw")));
}

TEST_F(CampaignTest, PasswordCommandArgumentsAreRedactedInSettings) {
  std::string text = k_minimal;
  text.replace(text.find("password_env = \"PEC_PASSWORD\""), 29,
               "password_command = \"printf %s token-123\"");
  auto c = load(text);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(setting(*c, "account.password_command")->value,
            "\"printf\" <arguments redacted>");
  auto password = resolve_password(c->account);
  ASSERT_TRUE(password.ok()) << password.error().message;
  EXPECT_EQ(*password, "token-123");
}

TEST_F(CampaignTest, PasswordFileMustBePrivate) {
  const auto secret = write("secret.txt", "hunter2\n");
  Account account;
  account.password_file = secret;
  ::chmod(secret.c_str(), 0644);
  auto refused = resolve_password(account);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.error().message, HasSubstr("mode 0644"));
  EXPECT_THAT(refused.error().message, ::testing::Not(HasSubstr("hunter2")));
  ::chmod(secret.c_str(), 0600);
  auto accepted = resolve_password(account);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message;
  EXPECT_EQ(*accepted, "hunter2");
}

TEST_F(CampaignTest, PasswordFromEnvironment) {
  Account account;
  account.password_env = "PECBATCH_TEST_PASSWORD_XYZ";
  ::unsetenv("PECBATCH_TEST_PASSWORD_XYZ");
  EXPECT_FALSE(resolve_password(account).ok());
  ::setenv("PECBATCH_TEST_PASSWORD_XYZ", "pw", 1);
  EXPECT_EQ(*resolve_password(account), "pw");
  ::unsetenv("PECBATCH_TEST_PASSWORD_XYZ");
  EXPECT_FALSE(resolve_password(Account{}).ok());
}

TEST(ParseSizeTest, UnitsAndPlainBytes) {
  EXPECT_EQ(parse_size("1234"), 1234u);
  EXPECT_EQ(parse_size("30 MB"), 30'000'000u);
  EXPECT_EQ(parse_size("30MB"), 30'000'000u);
  EXPECT_EQ(parse_size("1.5 KiB"), 1536u);
  EXPECT_EQ(parse_size("2gib"), 2147483648u);
  EXPECT_FALSE(parse_size("MB").has_value());
  EXPECT_FALSE(parse_size("3 parsecs").has_value());
}

TEST(ParseSetFlagTest, SplitsAtTheFirstEquals) {
  auto o = parse_set_flag("message.subject=a=b", "/x");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->key, "message.subject");
  EXPECT_EQ(o->value, "a=b");
  EXPECT_FALSE(parse_set_flag("novalue", "/x").ok());
}

TEST_F(CampaignTest, ArchiveFolderIsOffByDefaultAndNeverAFolderThatIsRead) {
  auto c = load(k_minimal);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->poll.archive_folder, "");
  EXPECT_EQ(setting(*c, "poll.archive_folder")->origin, "unset");

  c = load(std::string(k_minimal) + "[poll]\narchive_folder = \"PEC/Ricevute\"\n");
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->poll.archive_folder, "PEC/Ricevute");

  // The folder receipts are moved into cannot be one that is read.
  c = load(std::string(k_minimal) + "[poll]\narchive_folder = \"inbox\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().kind, core::ErrorKind::config);
  EXPECT_THAT(c.error().message, HasSubstr("poll.archive_folder"));
  EXPECT_THAT(c.error().message, HasSubstr("poll.folders"));
  c = load(std::string(k_minimal) +
           "[poll]\nfolders = [\"INBOX\", \"Ricevute\"]\narchive_folder = \"Ricevute\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("also one of poll.folders"));
  // Other names are case-sensitive in IMAP: a different folder.
  c = load(std::string(k_minimal) +
           "[poll]\nfolders = [\"Ricevute\"]\narchive_folder = \"ricevute\"\n");
  EXPECT_TRUE(c.ok());
  c = load(std::string(k_minimal) + "[poll]\narchive_folder = \"  \"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("blank folder name"));
}
