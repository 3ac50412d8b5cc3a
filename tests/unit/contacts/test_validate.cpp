#include "helpers.hpp"
#include "support/temp_dir.hpp"

#include <pecbatch/contacts/contacts.hpp>
#include <pecbatch/core/strings.hpp>

#include <gtest/gtest.h>

using namespace pecbatch;
using namespace pecbatch::test;
using contacts::ContactStream;
using contacts::DuplicatePolicy;
using contacts::ValidateOptions;

namespace {

class ContactsValidateTest : public TempDirTest {
protected:
  // Opens `content` written as `name`; the stream must open.
  ContactStream open_ok(const std::string& name, std::string_view content,
                        const ValidateOptions& options = {}) {
    auto stream = ContactStream::open(write(name, content), {}, options);
    EXPECT_TRUE(stream) << stream.error().message;
    return std::move(stream).value();
  }

  // The error of opening `content` written as `name`.
  core::Error open_error(const std::string& name, std::string_view content,
                         const ValidateOptions& options = {}) {
    auto stream = ContactStream::open(write(name, content), {}, options);
    EXPECT_FALSE(stream);
    return stream ? core::Error{} : std::move(stream).error();
  }
};

std::string data(const char* name) {
  return data_path(std::string("contacts/") + name).string();
}

} // namespace

TEST_F(ContactsValidateTest, FindsTheAddressColumnByAlias) {
  const std::pair<const char*, const char*> cases[] = {
      {"Nome;PEC\n", "PEC"},
      {"Nome;E-Mail\n", "E-Mail"},
      {"Nome;indirizzo_pec\n", "indirizzo_pec"},
      {"Nome;Posta Elettronica Certificata\n", "Posta Elettronica Certificata"},
      {"Nome;E.mail Address\n", "E.mail Address"},
      {"Nome; Casella PEC \n", "Casella PEC"},
  };
  for (const auto& [header, expected] : cases) {
    auto stream = open_ok("alias.csv", header);
    EXPECT_EQ(stream.address_column(), expected) << header;
  }
  EXPECT_EQ(contacts::address_column_aliases().front(), "pec");
}

TEST_F(ContactsValidateTest, PrefersPecNamesToGenericEmailNames) {
  auto stream = open_ok("both.csv", "Email;Nome;PEC\nmario@gmail.com;Mario;mario@pec.it\n");
  EXPECT_EQ(stream.address_column(), "PEC");
  const auto all = validate_all(stream);
  ASSERT_EQ(all.rows.size(), 1u);
  EXPECT_EQ(all.rows[0].contact.address, "mario@pec.it");
  // The other e-mail column is an ordinary merge field.
  EXPECT_EQ(all.rows[0].contact.fields,
            (std::vector<std::pair<std::string, std::string>>{{"Email", "mario@gmail.com"},
                                                              {"Nome", "Mario"}}));
}

TEST_F(ContactsValidateTest, RefusesAmbiguousAddressColumns) {
  const auto error = open_error("ambiguous.csv", "E-mail;Nome;EMAIL_\n");
  EXPECT_EQ(error.kind, core::ErrorKind::input);
  EXPECT_EQ(error.message,
            (dir() / "ambiguous.csv").string() +
                ":1: cannot tell which column holds the addresses: \"E-mail\" and "
                "\"EMAIL_\" all look like it; set the address column in the options");
}

TEST_F(ContactsValidateTest, UsesTheAddressColumnSetInTheOptions) {
  ValidateOptions options;
  options.address_column = "destinatario";
  auto stream = open_ok("set.csv", "PEC;Destinatario\nx;a@pec.it\n", options);
  EXPECT_EQ(stream.address_column(), "Destinatario");
  const auto all = validate_all(stream);
  ASSERT_EQ(all.rows.size(), 1u);
  EXPECT_EQ(all.rows[0].contact.address, "a@pec.it");
  EXPECT_TRUE(all.rows[0].problems.empty());

  options.address_column = "Destinatari";
  const auto error = open_error("unset.csv", "PEC;Destinatario\nx;a@pec.it\n", options);
  EXPECT_EQ(error.kind, core::ErrorKind::input);
  EXPECT_EQ(error.message,
            (dir() / "unset.csv").string() +
                ":1: no column \"Destinatari\" (the address column set in the options); "
                "the columns are \"PEC\" and \"Destinatario\" (did you mean "
                "\"Destinatario\"?)");
}

TEST_F(ContactsValidateTest, ReportsEmptyHeaderNames) {
  auto stream = ContactStream::open(data("empty-header.csv"), {}, {});
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().kind, core::ErrorKind::input);
  EXPECT_EQ(stream.error().message,
            data("empty-header.csv") + ":1:column 2: empty column name");
}

TEST_F(ContactsValidateTest, ReportsDuplicateHeaderNamesIgnoringCase) {
  auto stream = ContactStream::open(data("duplicate-header.csv"), {}, {});
  ASSERT_FALSE(stream);
  EXPECT_EQ(stream.error().message,
            data("duplicate-header.csv") +
                ":1:nome: duplicate column name (column 1 and column 4)");
}

TEST_F(ContactsValidateTest, ListsColumnsAndAliasesWhenNoAddressColumn) {
  auto stream = ContactStream::open(data("no-address-column.csv"), {}, {});
  ASSERT_FALSE(stream);
  const std::string& message = stream.error().message;
  EXPECT_EQ(message.rfind(data("no-address-column.csv") +
                              ":1: no address column: the columns are \"Nome\", "
                              "\"Cognome\" and \"Telefono\"; name the address column "
                              "one of: pec, indirizzo pec, casella pec,",
                          0),
            0u)
      << message;
  EXPECT_NE(message.find(", email, e-mail, mail,"), std::string::npos);
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST_F(ContactsValidateTest, ListsEveryHeaderProblemOnePerLine) {
  const auto error = open_error("header.csv", "Nome;;nome;Telefono\n");
  const std::string path = (dir() / "header.csv").string();
  const auto lines = core::split(error.message, '\n');
  ASSERT_EQ(lines.size(), 3u) << error.message;
  EXPECT_EQ(lines[0], path + ":1:column 2: empty column name");
  EXPECT_EQ(lines[1], path + ":1:nome: duplicate column name (column 1 and column 3)");
  EXPECT_EQ(lines[2].rfind(path + ":1: no address column: ", 0), 0u);
}

TEST_F(ContactsValidateTest, ReportsTheHeaderRowWhereItIs) {
  const auto error = open_error("late.csv", "\n\nNome;;PEC\n");
  EXPECT_EQ(error.message, (dir() / "late.csv").string() + ":3:column 2: empty column name");
}

TEST_F(ContactsValidateTest, ReportsBadAddresses) {
  auto stream = ContactStream::open(data("bad-addresses.csv"), {}, {});
  ASSERT_TRUE(stream) << stream.error().message;
  const auto all = validate_all(*stream);
  ASSERT_FALSE(all.error);
  const std::string file = data("bad-addresses.csv");
  ASSERT_EQ(all.rows.size(), 7u);
  const std::vector<std::string> expected[] = {
      {file + ":2:PEC: not a valid PEC address \"Mario Rossi <mario@pec.it>\" (contains "
              "angle brackets: write the bare address, without a display name)"},
      {file + ":3:PEC: not a valid PEC address \"<anna@pec.it>\" (contains angle "
              "brackets: write the bare address, without a display name)"},
      {file + ":4:PEC: not a valid PEC address \"luca @pec.it\" (contains a space)"},
      {file + ":5:PEC: not a valid PEC address \"giulia.pec.it\" (missing '@')"},
      {file + ":6:PEC: missing address"},
      {file + ":7:PEC: missing address"},
      {},
  };
  for (std::size_t i = 0; i < all.rows.size(); ++i) {
    EXPECT_EQ(messages(all.rows[i].problems), expected[i]) << "row " << i + 2;
    EXPECT_EQ(all.rows[i].contact.row, i + 2);
  }
  // Trimmed of spaces and tabs.
  EXPECT_EQ(all.rows[6].contact.address, "ok@pec.it");
  EXPECT_EQ(all.rows[2].contact.address, "luca @pec.it");
}

TEST_F(ContactsValidateTest, ReportsDuplicatesIgnoringCase) {
  auto stream = ContactStream::open(data("duplicates.csv"), {}, {});
  ASSERT_TRUE(stream);
  const auto all = validate_all(*stream);
  ASSERT_EQ(all.rows.size(), 5u);
  const std::string file = data("duplicates.csv");
  EXPECT_TRUE(all.rows[0].problems.empty());
  EXPECT_TRUE(all.rows[1].problems.empty());
  EXPECT_EQ(messages(all.rows[2].problems), (Values{file + ":4:PEC: duplicate of row 2"}));
  EXPECT_EQ(messages(all.rows[3].problems), (Values{file + ":5:PEC: duplicate of row 3"}));
  EXPECT_EQ(messages(all.rows[4].problems), (Values{file + ":6:PEC: duplicate of row 2"}));
  for (const auto& row : all.rows) {
    EXPECT_FALSE(row.duplicate_skipped);
  }
}

TEST_F(ContactsValidateTest, SkipsDuplicatesWhenAsked) {
  ValidateOptions options;
  options.duplicates = DuplicatePolicy::skip;
  auto stream = ContactStream::open(data("duplicates.csv"), {}, options);
  ASSERT_TRUE(stream);
  const auto all = validate_all(*stream);
  ASSERT_EQ(all.rows.size(), 5u);
  EXPECT_FALSE(all.rows[0].duplicate_skipped);
  EXPECT_FALSE(all.rows[1].duplicate_skipped);
  EXPECT_TRUE(all.rows[2].duplicate_skipped);
  EXPECT_TRUE(all.rows[3].duplicate_skipped);
  EXPECT_EQ(messages(all.rows[2].problems),
            (Values{data("duplicates.csv") + ":4:PEC: duplicate of row 2, skipped"}));
  EXPECT_EQ(all.rows[3].contact.address, "ANNA@pec.IT");
}

TEST_F(ContactsValidateTest, InvalidAddressesAreNotDuplicates) {
  auto stream = open_ok("inv.csv", "PEC\nnot an address\nnot an address\na@pec.it\nA@PEC.IT\n");
  const auto all = validate_all(stream);
  ASSERT_EQ(all.rows.size(), 4u);
  EXPECT_EQ(all.rows[1].problems.size(), 1u);
  EXPECT_EQ(all.rows[1].problems[0].message.rfind("not a valid PEC address", 0), 0u);
  EXPECT_EQ(all.rows[3].problems.at(0).message, "duplicate of row 4");
}

TEST_F(ContactsValidateTest, RefusesLineBreaksInHeaderValuesAndNulEverywhere) {
  ValidateOptions options;
  options.header_columns = {"nome", "Oggetto", "NonEsiste"};
  auto stream = ContactStream::open(data("injection.csv"), {}, options);
  ASSERT_TRUE(stream) << stream.error().message;
  const auto all = validate_all(*stream);
  ASSERT_FALSE(all.error);
  ASSERT_EQ(all.rows.size(), 4u);
  const std::string file = data("injection.csv");
  EXPECT_EQ(messages(all.rows[0].problems),
            (Values{file + ":2:Nome: contains a line break or NUL character, not allowed in "
                           "a value that goes into a message header: \"Mario\\r\\nBcc: "
                           "x@y.it\""}));
  EXPECT_EQ(messages(all.rows[1].problems),
            (Values{file + ":4:PEC: not a valid PEC address \"anna@pec.it\\r\\nBcc: "
                           "x@y.it\" (contains a line break or NUL character)"}));
  // Nota does not reach a header: its line break is fine.
  EXPECT_EQ(messages(all.rows[2].problems),
            (Values{file + ":6:Oggetto: contains a line break or NUL character, not "
                           "allowed in a value that goes into a message header: "
                           "\"Fattura\\r\\nBcc: x@y.it\""}));
  EXPECT_EQ(*all.rows[2].contact.field("Nota"), "riga 1\r\nriga 2");
  EXPECT_EQ(messages(all.rows[3].problems),
            (Values{file + ":9:Nota: contains a NUL character: \"a\\0b\""}));
}

TEST_F(ContactsValidateTest, LetsLineBreaksThroughInBodyOnlyColumns) {
  auto stream = ContactStream::open(data("injection.csv"), {}, {});
  ASSERT_TRUE(stream);
  const auto all = validate_all(*stream);
  ASSERT_EQ(all.rows.size(), 4u);
  EXPECT_TRUE(all.rows[0].problems.empty());
  EXPECT_EQ(all.rows[1].problems.size(), 1u); // the address always counts
  EXPECT_TRUE(all.rows[2].problems.empty());
  EXPECT_EQ(all.rows[3].problems.size(), 1u); // NUL always counts
}

TEST_F(ContactsValidateTest, ReportsRaggedRows) {
  auto stream = ContactStream::open(data("ragged.csv"), {}, {});
  ASSERT_TRUE(stream);
  const auto all = validate_all(*stream);
  ASSERT_EQ(all.rows.size(), 3u);
  const std::string file = data("ragged.csv");
  EXPECT_TRUE(all.rows[0].problems.empty());
  EXPECT_EQ(messages(all.rows[1].problems),
            (Values{file + ":4: row has 2 fields, header has 3"}));
  EXPECT_EQ(all.rows[1].contact.fields,
            (std::vector<std::pair<std::string, std::string>>{{"Nome", "Anna"},
                                                              {"Città", ""}}));
  EXPECT_EQ(messages(all.rows[2].problems),
            (Values{file + ":6: row has 4 fields, header has 3"}));

  auto short_stream = open_ok("short.csv", "Nome;PEC\nMario\n");
  const auto short_rows = validate_all(short_stream);
  ASSERT_EQ(short_rows.rows.size(), 1u);
  const std::string short_file = (dir() / "short.csv").string();
  EXPECT_EQ(messages(short_rows.rows[0].problems),
            (Values{short_file + ":2: row has 1 field, header has 2",
                    short_file + ":2:PEC: missing address"}));
}

TEST_F(ContactsValidateTest, GivesFieldsByNameIncludingTheAddress) {
  auto stream =
      open_ok("fields.csv", "Nome;Indirizzo PEC;Città\nMario; mario@pec.it ;Roma\n");
  EXPECT_EQ(stream.columns(), (Values{"Nome", "Indirizzo PEC", "Città"}));
  EXPECT_EQ(stream.path(), dir() / "fields.csv");
  const auto all = validate_all(stream);
  ASSERT_EQ(all.rows.size(), 1u);
  const auto& contact = all.rows[0].contact;
  EXPECT_EQ(contact.row, 2u);
  EXPECT_EQ(contact.address, "mario@pec.it");
  EXPECT_EQ(contact.address_column, "Indirizzo PEC");
  ASSERT_NE(contact.field("Indirizzo PEC"), nullptr);
  EXPECT_EQ(*contact.field("Indirizzo PEC"), "mario@pec.it");
  EXPECT_EQ(*contact.field("indirizzo pec"), "mario@pec.it");
  EXPECT_EQ(*contact.field("Città"), "Roma");
  EXPECT_EQ(*contact.field("nome"), "Mario");
  EXPECT_EQ(contact.field("Cognome"), nullptr);
}

TEST_F(ContactsValidateTest, PassesReaderErrorsThrough) {
  auto stream = ContactStream::open(data("broken-quotes.csv"), {}, {});
  ASSERT_TRUE(stream);
  const auto all = validate_all(*stream);
  EXPECT_EQ(all.rows.size(), 1u);
  ASSERT_TRUE(all.error);
  EXPECT_EQ(all.error->kind, core::ErrorKind::input);
  EXPECT_EQ(all.error->message.rfind(data("broken-quotes.csv") + ":3: ", 0), 0u);

  auto missing = ContactStream::open(dir() / "missing.csv", {}, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, core::ErrorKind::no_input);
}

TEST_F(ContactsValidateTest, CanBeMoved) {
  auto stream = open_ok("move.csv", "PEC\na@pec.it\nb@pec.it\n");
  auto first = stream.next();
  ASSERT_TRUE(first && *first);
  ContactStream moved = std::move(stream);
  auto second = moved.next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->contact.address, "b@pec.it");
  EXPECT_EQ(moved.address_column(), "PEC");
}
